"""Date text of generated messages from tables: the Date header and FETCH INTERNALDATE.

A drain formats two dates per message; a ``datetime`` and a format each would cost
more than the rest of the header. The caller (``Generator``) caches one prefix per
day; the time of day is two table lookups.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["HOUR_MINUTE", "IMAP_HOUR_MINUTE", "IMAP_SECOND_ZONE", "SECOND_ZONE",
           "date_prefix", "imap_day_prefix"]

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Time of day by minute of the day and by second, all generated dates being UTC.
HOUR_MINUTE = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
SECOND_ZONE = tuple(f"{sec:02d} +0000\r\n" for sec in range(60))
IMAP_HOUR_MINUTE = tuple(f"{h:02d}:{m:02d}:".encode() for h in range(24) for m in range(60))
IMAP_SECOND_ZONE = tuple(f'{sec:02d} +0000"'.encode() for sec in range(60))


def date_prefix(day: int) -> str:
    """``"Date: Mon, 01 Jan 2024 "`` for day number ``day`` (days since the epoch)."""
    d = datetime.fromtimestamp(day * 86400, UTC)
    return f"Date: {_WEEKDAYS[d.weekday()]}, {d.day:02d} {_MONTHS[d.month - 1]} {d.year} "


def imap_day_prefix(day: int) -> bytes:
    """``b'"01-Jan-2024 '``: the RFC 3501 date-time up to the time of day, quote opened."""
    d = datetime.fromtimestamp(day * 86400, UTC)
    return f'"{d.day:02d}-{_MONTHS[d.month - 1]}-{d.year:04d} '.encode()
