"""``/`` find on a screen's lists (Records, Scenarios), as aerc and neomutt search a list.

``/`` opens a one-line prompt under the lists; Enter moves the cursor of the list that
had focus to the first row holding the text (case-insensitive, from the cursor on) and
says how many rows hold it; ``n``/``N`` go to the next/previous one, wrapping; Escape
closes the prompt. It searches what the list holds (Records: the page of contacts shown,
or the timeline); the folder browser's ``/`` asks the server instead.
"""

from __future__ import annotations

from typing import Protocol

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input, Label

from inboxlab.tui.screens.base import ModelScreen
from inboxlab.tui.widgets.lists import ChoiceList, OpenTable, find_rows, next_hit


class Findable(Protocol):
    """What ``/`` needs of a list (``OpenTable``, ``ChoiceList``)."""

    @property
    def name(self) -> str | None: ...
    @property
    def position(self) -> int: ...
    def row_texts(self) -> list[str]: ...
    def go(self, index: int) -> None: ...
    def focus(self, scroll_visible: bool = True) -> Widget: ...


def find_status(text: str, hits: tuple[int, ...], target: Findable | None) -> str:
    """"/acme: 2 of 3 hits in Contacts (n/N)"; the person's text is never markup."""
    where = (target.name if target is not None else None) or "this list"
    if not hits:
        return f"/{text}: no row of {where} holds it"
    at = hits.index(target.position) + 1 if target and target.position in hits else 0
    count = f"{at} of {len(hits):,}" if at else f"{len(hits):,}"
    return f"/{text}: {count} hit{'' if len(hits) == 1 else 's'} in {where} (n/N)"


class FindInput(Input):
    """The prompt; Escape closes it (before the screen's Escape, which goes back)."""

    BINDINGS = [Binding("escape", "screen.find_cancel", "Close find", id="find.cancel")]


class FindScreen(ModelScreen):
    BINDINGS = [
        Binding("slash", "find", "Find", id="find.start"),
        Binding("n", "find_next(1)", "Next hit", id="find.next", show=False),
        Binding("N", "find_next(-1)", "Previous hit", id="find.prev", show=False),
    ]

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id)
        self.find_text = ""
        self.find_hits: tuple[int, ...] = ()
        self._find_in: Findable | None = None

    def find_bar(self) -> ComposeResult:
        """Yielded by the screen's compose, above its footer."""
        yield Label("", id="find-status")
        yield FindInput(placeholder="find in this list (any part of a row), Enter to go",
                        id="find")

    def on_mount(self) -> None:
        prompt = self.query_one("#find", FindInput)
        prompt.display = False
        prompt.cursor_blink = self.inbox_app.cursor_blink
        self.query_one("#find-status", Label).display = False

    def find_target(self) -> Findable | None:
        """The list to search: the focused one, else the screen's first list."""
        focused = self.focused
        if isinstance(focused, (OpenTable, ChoiceList)):
            return focused
        for found in self.query("OpenTable, ChoiceList"):
            if isinstance(found, (OpenTable, ChoiceList)):
                return found
        return None

    def action_find(self) -> None:
        self._find_in = self.find_target()
        prompt = self.query_one("#find", FindInput)
        prompt.display = True
        prompt.focus()

    def action_find_cancel(self) -> None:
        self.query_one("#find", FindInput).display = False
        if self._find_in is not None:
            self._find_in.focus()

    @on(Input.Submitted, "#find")
    def _find_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.find_text = event.value.strip()
        self.action_find_cancel()
        target = self._find_in
        self.find_hits = find_rows(target.row_texts(), self.find_text) if target else ()
        if target is not None:
            self._go(target, next_hit(self.find_hits, target.position, 1, here=True))
        self._show_status()

    def action_find_next(self, direction: int) -> None:
        target = self._find_in
        if target is not None and self.find_text:  # the list may have been reloaded since
            self.find_hits = find_rows(target.row_texts(), self.find_text)
        if not self.find_hits or target is None:
            self.notify("No find hits (press / to find)", markup=False, timeout=2)
            return
        target.focus()
        self._go(target, next_hit(self.find_hits, target.position, direction))
        self._show_status()

    def _go(self, target: Findable, index: int | None) -> None:
        if index is not None:
            target.go(index)

    def _show_status(self) -> None:
        status = self.query_one("#find-status", Label)
        status.display = bool(self.find_text)
        if not self.find_text:
            return
        status.update(Text(find_status(self.find_text, self.find_hits, self._find_in)))
