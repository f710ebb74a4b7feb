"""IMAP sequence sets (RFC 3501 ``sequence-set``) as ranges, never as expanded lists.

``1:*`` against a million-message mailbox must cost O(1) memory, so a set is a short
tuple of ``(lo, hi)`` ranges.  ``*`` ("the largest number in use") cannot be known at
parse time: ranges touching it are kept symbolic and bound in :meth:`SequenceSet.resolve`.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

from inboxlab.fakeserver.errors import ProtocolError

__all__ = ["MAX_NUMBER", "STAR", "SequenceSet"]

MAX_NUMBER = 0xFFFF_FFFF  # RFC 3501 nz-number / number: unsigned 32-bit
STAR = 0  # ``*`` inside a stored range; 0 is never a valid sequence number or UID

_ELEMENT = re.compile(r"([0-9]+|\*)(?::([0-9]+|\*))?\Z")
Range = tuple[int, int]


def _merge(ranges: list[Range]) -> tuple[Range, ...]:
    """Sort and coalesce overlapping or adjacent ranges."""
    out: list[Range] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


@dataclass(frozen=True)
class SequenceSet:
    """A parsed sequence set.

    ``ranges`` holds the purely numeric ranges, merged and sorted; ``star_ranges`` the
    ranges with a ``*`` end (stored as :data:`STAR`), bound only when the caller knows the
    mailbox size.  ``text`` is the client's spelling, kept for echoes and error messages.
    """

    ranges: tuple[Range, ...]
    star_ranges: tuple[Range, ...] = ()
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> SequenceSet:
        """Parse ``"1:3,7,9:*"``; raise :class:`ProtocolError` naming the bad part."""
        if text == "$":
            raise ProtocolError("SEARCHRES '$' sequence sets are not supported")
        if not text:
            raise ProtocolError("empty sequence set")
        numeric: list[Range] = []
        starred: list[Range] = []
        for element in text.split(","):
            match = _ELEMENT.match(element)
            if match is None:
                raise ProtocolError(f"invalid sequence set {text!r}")
            first = _number(match.group(1), text)
            second = first if match.group(2) is None else _number(match.group(2), text)
            lo, hi = min(first, second), max(first, second)
            if lo == STAR:  # "*", "*:*", "n:*" or "*:n": keep symbolic, normalised (n, STAR)
                starred.append((hi, STAR))
            else:
                numeric.append((lo, hi))
        return cls(_merge(numeric), tuple(sorted(set(starred))), text)

    @classmethod
    def of(cls, *ranges: Range) -> SequenceSet:
        """Build from numeric ranges (tests, server-made sets such as VANISHED)."""
        merged = _merge([(min(a, b), max(a, b)) for a, b in ranges])
        return cls(merged, (), ",".join(f"{a}" if a == b else f"{a}:{b}" for a, b in merged))

    def resolve(self, max_value: int) -> tuple[Range, ...]:
        """Merged ``(lo, hi)`` ranges with ``*`` bound to ``max_value``.

        ``n:*`` with ``n > max_value`` means ``max_value:n`` (RFC 3501 section 6.4.8:
        "559:*" always includes the last message).  In an empty mailbox (``max_value``
        0) there is no last message, so every ``*`` range resolves to nothing; numeric
        ranges are returned unchanged (whether they exist is the caller's question).
        """
        ranges = list(self.ranges)
        if max_value > 0:
            for number, _ in self.star_ranges:
                bound = number if number != STAR else max_value
                ranges.append((min(bound, max_value), max(bound, max_value)))
        return _merge(ranges)

    def contains(self, n: int, max_value: int) -> bool:
        """Whether ``n`` is in the set once ``*`` means ``max_value``.

        O(log ranges) with no allocation: sessions call this once per message.
        """
        index = bisect_right(self.ranges, (n, MAX_NUMBER + 1)) - 1
        if index >= 0 and self.ranges[index][1] >= n:
            return True
        if max_value > 0:
            for number, _ in self.star_ranges:
                bound = max_value if number == STAR else number
                if min(bound, max_value) <= n <= max(bound, max_value):
                    return True
        return False

    def values(self, max_value: int) -> Iterator[int]:
        """Lazily yield every member in ascending order (callers bound the loop)."""
        for lo, hi in self.resolve(max_value):
            yield from range(lo, hi + 1)

    def count(self, max_value: int) -> int:
        return sum(hi - lo + 1 for lo, hi in self.resolve(max_value))

    def __str__(self) -> str:
        if self.text:
            return self.text
        parts = [f"{a}" if a == b else f"{a}:{b}" for a, b in self.ranges]
        parts += ["*" if n == STAR else f"{n}:*" for n, _ in self.star_ranges]
        return ",".join(parts)

    def __eq__(self, other: object) -> bool:
        """Sets are equal when they mean the same thing, however the client spelled them."""
        if not isinstance(other, SequenceSet):
            return NotImplemented
        return (self.ranges, self.star_ranges) == (other.ranges, other.star_ranges)

    def __hash__(self) -> int:
        return hash((self.ranges, self.star_ranges))


def _number(token: str, text: str) -> int:
    if token == "*":
        return STAR
    if token.startswith("0"):
        raise ProtocolError(f"invalid sequence set {text!r}: numbers start at 1")
    value = int(token)
    if value > MAX_NUMBER:
        raise ProtocolError(f"invalid sequence set {text!r}: {token} is above 4294967295")
    return value
