"""Header shapes of generated messages, and which lines a HEADER.FIELDS list picks.

A generated message's header is one of four shapes (with or without Cc, reply or
not), so the lines a field list selects are known per shape, not per message:
FETCH of a whole folder picks with an ``itemgetter`` built once per field list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import itemgetter

__all__ = ["SHAPES", "Picker", "pickers"]

Picker = Callable[[list[str]], Iterable[str]]

# Header names of Generator._make_lines in order, by shape code:
# 2 * (has Cc) + (is a reply).
SHAPES = tuple(
    ("date", "from", "to", *(("cc",) if cc else ()), "subject", "message-id",
     *(("in-reply-to", "references") if reply else ()), "mime-version", "content-type")
    for cc in (False, True)
    for reply in (False, True)
)


def _picker(indices: tuple[int, ...]) -> Picker:
    """The lines at ``indices`` (an itemgetter when it returns a tuple: C speed)."""
    if len(indices) > 1:
        return itemgetter(*indices)
    return lambda lines: [lines[i] for i in indices]


def pickers(fields: frozenset[str], negate: bool) -> tuple[Picker, ...]:
    """One picker per shape: the lines named in ``fields`` (lowercase), or the others
    when ``negate`` (HEADER.FIELDS.NOT), in message order."""
    return tuple(
        _picker(tuple(i for i, n in enumerate(names) if (n in fields) != negate))
        for names in SHAPES
    )
