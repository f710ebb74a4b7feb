"""Lists that say what Enter does, and ``/`` find on them.

Textual's DataTable and OptionList bind Enter with ``show=False``, so no footer ever
said that Enter opens a row; these subclasses show it. ``find_rows`` and ``next_hit``
are the search of the Records and Scenarios lists (the folder browser searches on the
server instead): a case-insensitive substring of a row's text, hits in row order,
``n``/``N`` moving to the next/previous one and wrapping around.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.binding import Binding
from textual.widgets import DataTable, OptionList


def find_rows(texts: Sequence[str], needle: str) -> tuple[int, ...]:
    """The rows whose text holds ``needle`` (case-insensitive); none for an empty needle."""
    wanted = needle.strip().casefold()
    if not wanted:
        return ()
    return tuple(i for i, text in enumerate(texts) if wanted in text.casefold())


def next_hit(hits: Sequence[int], cursor: int, direction: int, *, here: bool = False) -> int | None:
    """The hit after (``direction`` 1) or before (-1) the cursor, wrapping; with ``here``
    the cursor's own row counts (a new search starts where the cursor is)."""
    if not hits:
        return None
    if direction > 0:
        after = [h for h in hits if h > cursor or (here and h == cursor)]
        return after[0] if after else hits[0]
    before = [h for h in hits if h < cursor]
    return before[-1] if before else hits[-1]


class OpenTable(DataTable[Any]):
    """A table of rows that open: the footer shows Enter."""

    BINDINGS = [Binding("enter", "select_cursor", "Open", id="table.open")]

    def row_texts(self) -> list[str]:
        return [" ".join(str(cell) for cell in self.get_row_at(i)) for i in range(self.row_count)]

    @property
    def position(self) -> int:
        return self.cursor_row

    def go(self, index: int) -> None:
        self.move_cursor(row=index)


class ChoiceList(OptionList):
    """An option list whose Enter chooses: the footer shows it."""

    BINDINGS = [Binding("enter", "select", "Choose", id="choices.choose")]

    def row_texts(self) -> list[str]:
        return [str(self.get_option_at_index(i).prompt) for i in range(self.option_count)]

    @property
    def position(self) -> int:
        return self.highlighted if self.highlighted is not None else -1

    def go(self, index: int) -> None:
        self.highlighted = index
