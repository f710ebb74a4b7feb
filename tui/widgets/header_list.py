"""A virtual message list: a line-API ``ScrollView`` over a folder of any size.

It knows how many rows exist and holds only the rows near the viewport (a window,
evicted as the view moves), so a 100,000-message folder costs what one screen of it
costs. When lines it must paint are missing it posts ``WindowWanted`` and paints a
placeholder; the screen fetches from the server and calls ``set_rows``. No I/O here.
Why not DataTable: it builds every row up front (100k rows block the UI loop ~6 s).
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from inboxlab.tui.messages import HeaderRow, WindowWanted

KEEP_SCREENS = 3  # rows kept: this many screens' worth around the viewport


class HeaderList(ScrollView, can_focus=True):
    """Rows are positions 0..count-1 (newest first); ``cursor`` is the highlighted one."""

    BINDINGS = [
        Binding("j,down", "cursor(1)", "Down", id="list.down", show=False),
        Binding("k,up", "cursor(-1)", "Up", id="list.up", show=False),
        Binding("g,home", "first", "First", id="list.first", show=False),
        Binding("G,end", "last", "Last", id="list.last", show=False),
        Binding("pagedown,space", "page(1)", "Page down", id="list.page_down", show=False),
        Binding("pageup", "page(-1)", "Page up", id="list.page_up", show=False),
        Binding("enter", "open", "Open", id="list.open"),
    ]
    COMPONENT_CLASSES = {"header-list--cursor", "header-list--unseen", "header-list--hit"}
    DEFAULT_CSS = """
    HeaderList { overflow-x: hidden; }
    HeaderList > .header-list--cursor { background: $accent 40%; }
    HeaderList > .header-list--unseen { text-style: bold; }
    HeaderList > .header-list--hit { color: $warning; }
    """

    cursor: reactive[int] = reactive(0)

    class Opened(Message):
        """Enter on a row: the screen decides what opening means."""

        def __init__(self, position: int, row: HeaderRow | None) -> None:
            super().__init__()
            self.position = position
            self.row = row

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.count = 0
        self.generation = 0
        self._rows: dict[int, HeaderRow] = {}
        self._asked: set[int] = set()  # window starts requested and not yet answered
        self.hits: tuple[int, ...] = ()
        self._hitset: frozenset[int] = frozenset()

    # -- data in ------------------------------------------------------------------------------

    def reset(self, count: int) -> None:
        """A new folder (or the same one reopened): forget every row."""
        self.generation += 1
        self.count = count
        self._rows.clear()
        self._asked.clear()
        self.hits = ()
        self._hitset = frozenset()
        self.cursor = 0
        self.virtual_size = Size(self.size.width, count)
        self.scroll_to(y=0, animate=False)
        self.refresh()

    def set_rows(self, start: int, rows: tuple[HeaderRow, ...], generation: int) -> None:
        if generation != self.generation:
            return  # an answer for a folder we have left
        self._asked.discard(start)
        for offset, row in enumerate(rows):
            self._rows[start + offset] = row
        self._evict()
        self.refresh()

    def set_hits(self, positions: tuple[int, ...]) -> None:
        self.hits = positions
        self._hitset = frozenset(positions)
        self.refresh()

    @property
    def loaded(self) -> int:
        """How many rows are held (bounded by the window, whatever the folder size)."""
        return len(self._rows)

    def row(self, position: int) -> HeaderRow | None:
        return self._rows.get(position)

    def visible_range(self) -> range:
        top = int(self.scroll_offset.y)
        return range(top, min(self.count, top + max(1, self.size.height)))

    def _evict(self) -> None:
        top = int(self.scroll_offset.y)
        span = max(1, self.size.height) * KEEP_SCREENS
        lo, hi = top - span, top + span
        for pos in [p for p in self._rows if not lo <= p <= hi]:
            del self._rows[pos]

    # -- painting -------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        position = int(self.scroll_offset.y) + y
        width = self.size.width
        if position >= self.count:
            return Strip.blank(width, self.rich_style)
        row = self._rows.get(position)
        if row is None:
            self._want(position)
            text, style = f"{position + 1:>7}  …", self.rich_style + Style(dim=True)
        else:
            mark = "N" if not row.seen else " "
            text = (f"{position + 1:>7} {mark} {row.date:<16.16}  {row.sender:<24.24}  "
                    f"{row.subject}")
            style = self.rich_style
            if not row.seen:
                style += self.get_component_rich_style("header-list--unseen")
        if position in self._hitset:
            style += self.get_component_rich_style("header-list--hit")
        if position == self.cursor:
            style += self.get_component_rich_style("header-list--cursor")
        return Strip([Segment(text[:width].ljust(width), style)], width)

    def _want(self, position: int) -> None:
        """Ask for the screenful containing ``position`` once; painting never waits."""
        page = max(1, self.size.height)
        start = (position // page) * page
        if start in self._asked:
            return
        self._asked.add(start)
        self.post_message(WindowWanted(start, page))

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, self.count)
        self._asked.clear()
        self.refresh()

    # -- moving ---------------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        top = int(self.scroll_offset.y)
        height = max(1, self.size.height)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False)
        self.refresh()

    def _move_to(self, position: int) -> None:
        if self.count:
            self.cursor = max(0, min(self.count - 1, position))

    def action_cursor(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(1, self.size.height - 1))

    def action_first(self) -> None:
        self._move_to(0)

    def action_last(self) -> None:
        self._move_to(self.count - 1)

    def jump_hit(self, direction: int) -> bool:
        """n/N: the next (or previous) search hit after the cursor; False if none."""
        if not self.hits:
            return False
        if direction > 0:
            after = [p for p in self.hits if p > self.cursor]
            self._move_to(after[0] if after else self.hits[0])
        else:
            before = [p for p in self.hits if p < self.cursor]
            self._move_to(before[-1] if before else self.hits[-1])
        return True

    def action_open(self) -> None:
        if self.count:
            self.post_message(self.Opened(self.cursor, self._rows.get(self.cursor)))

    def forget_failed(self) -> None:
        """Rows a failed fetch left unanswered are asked for again at the next paint."""
        self._asked.clear()
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        """A click puts the cursor on the row; a double click opens it."""
        position = int(self.scroll_offset.y) + event.y
        if 0 <= position < self.count:
            self.focus()
            self._move_to(position)
            if event.chain >= 2:
                self.action_open()

    def _cursor_into_view(self) -> None:
        visible = self.visible_range()
        if visible and self.cursor not in visible:
            self._move_to(visible.start if self.cursor < visible.start else visible.stop - 1)

    def on_mouse_scroll_down(self) -> None:
        self.call_after_refresh(self._cursor_into_view)  # the cursor follows the wheel
        self.refresh()

    def on_mouse_scroll_up(self) -> None:
        self.call_after_refresh(self._cursor_into_view)
        self.refresh()
