"""Folder browser: a virtual list over a folder of any size; ``/`` searches on the server.

The screen turns the list's ``WindowWanted`` intents into bridge requests and feeds the
answers back; it stores nothing beyond the rows the list keeps around its viewport.
"""

from __future__ import annotations

import concurrent.futures

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Input, Label

from inboxlab.tui import messages as m
from inboxlab.tui.incidents import HEALED_STATES, badge_note, cause_words
from inboxlab.tui.screens.base import KeyScreen
from inboxlab.tui.widgets.header_list import HeaderList

RETRY_ROWS = 2.0  # seconds between checks for rows to read again after an outage


class BrowserScreen(KeyScreen):
    BINDINGS = [
        Binding("slash", "search", "Search", id="browser.search"),
        Binding("n", "hit(1)", "Next hit", id="browser.next_hit"),
        Binding("N", "hit(-1)", "Prev hit", id="browser.prev_hit"),
        Binding("escape", "cancel_search", "Cancel", id="browser.cancel", show=False),
        Binding("R", "reload", "Reload", id="browser.reload"),
    ]

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder
        self.count: int | None = None
        self.query_text = ""
        self.searching = False  # a search is on the server (2-4 s on 100k)
        self.rows_failed = False  # some rows could not be read: ask again once connected
        self._outage_shown = False
        self._opening: object = None  # the bridge's answer to open_folder

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label(Text(f"{self.folder}: opening..."), id="browser-status")
        yield HeaderList(id="list")
        yield Input(placeholder="search subject or sender on the server, Enter to run",
                    id="search")
        yield Footer()

    def on_mount(self) -> None:
        search = self.query_one("#search", Input)
        search.display = False
        search.cursor_blink = self.inbox_app.cursor_blink
        self.query_one(HeaderList).focus()
        self._open()
        self.set_interval(RETRY_ROWS, self._retry_rows)
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        """During an outage the status line counts down to the next retry."""
        if self.is_current and (self.inbox_app.model.incidents.current is not None
                                or self._outage_shown):
            self._status()

    def _open(self) -> None:
        self._opening = self.inbox_app.bridge.open_folder(self.folder, self)

    def _open_failed(self) -> bool:
        """The bridge answers ``open_folder`` with a Future of the count: 0 and no
        FolderOpened means it could not open the folder (it was opened during an outage)."""
        fut = self._opening
        return (self.count is None and isinstance(fut, concurrent.futures.Future)
                and fut.done() and not fut.cancelled() and fut.exception() is None
                and fut.result() == 0)

    def _retry_rows(self) -> None:
        """What an outage left undone is done again once the account is back: the folder
        opened, the rows left as "…" read."""
        state = self.inbox_app.model.state
        if state is None or state.state not in HEALED_STATES:
            return
        if self._open_failed():
            self._open()
        if self.rows_failed:
            self.rows_failed = False
            self.query_one(HeaderList).forget_failed()

    def on_rows_failed(self, msg: m.RowsFailed) -> None:
        if msg.folder == self.folder:
            self.rows_failed = True

    def on_unmount(self) -> None:
        self.inbox_app.bridge.close_folder()

    def _status(self) -> None:
        lst = self.query_one(HeaderList)
        text = f"{self.folder}: " + ("opening..." if self.count is None
                                     else f"{self.count:,} messages")
        if self.query_text and self.searching:
            text += f"  /{self.query_text}: searching on the server..."
        elif self.query_text:
            hits = len(lst.hits)
            text += f"  /{self.query_text}: {hits:,} hit{'' if hits == 1 else 's'} (n/N)"
        # Rows shown "…" during an outage say why here, and when the next retry comes.
        current = self.inbox_app.model.incidents.current
        self._outage_shown = current is not None
        if current is not None:
            now = self.inbox_app.clock()
            text += "  -  " + (badge_note(self.inbox_app.model.incidents, now)
                               or f"Disconnected: {cause_words(current.latest)}.")
        self.query_one("#browser-status", Label).update(Text(text))

    # -- engine answers --------------------------------------------------------------------------

    def on_folder_opened(self, msg: m.FolderOpened) -> None:
        if msg.folder != self.folder:
            return
        self.count = msg.count
        self.query_one(HeaderList).reset(msg.count)
        self._status()

    def on_rows_loaded(self, msg: m.RowsLoaded) -> None:
        if msg.folder == self.folder:
            self.query_one(HeaderList).set_rows(msg.start, msg.rows, msg.generation)

    def on_search_hits(self, msg: m.SearchHits) -> None:
        if msg.folder != self.folder:
            return
        if msg.query != self.query_text:
            return  # an answer to an earlier search
        self.searching = False
        lst = self.query_one(HeaderList)
        lst.set_hits(msg.positions)
        lst.jump_hit(1)
        self._status()

    # -- widget intents --------------------------------------------------------------------------

    def on_window_wanted(self, msg: m.WindowWanted) -> None:
        msg.stop()
        lst = self.query_one(HeaderList)
        self.inbox_app.bridge.fetch_rows(self.folder, msg.start, msg.count, self,
                                         lst.generation)

    def on_header_list_opened(self, msg: HeaderList.Opened) -> None:
        from inboxlab.tui.screens.message import MessageScreen

        row = msg.row
        if row is not None:
            self.app.push_screen(MessageScreen(folder=self.folder, uid=row.uid))

    def action_reload(self) -> None:
        """New mail (or expunges) since opening: ask the server for the folder again."""
        self._open()

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.display = True
        search.focus()

    def action_cancel_search(self) -> None:
        search = self.query_one("#search", Input)
        search.display = False
        self.query_one(HeaderList).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_text = event.value.strip()
        self.action_cancel_search()
        self.searching = bool(self.query_text)
        if self.query_text:
            self.inbox_app.bridge.search(self.folder, self.query_text, self)
        else:
            self.query_one(HeaderList).set_hits(())
        self._status()

    def action_hit(self, direction: int) -> None:
        if not self.query_one(HeaderList).jump_hit(direction):
            self.notify("no search hits (press / to search)")
