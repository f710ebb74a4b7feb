"""An injectable clock, so backoff, checkpoints and timelines are deterministic in tests.

Two readings, because they answer different questions: ``monotonic()`` measures
durations (how long a connection lived, when to retry) and never jumps back;
``wall()`` is a UTC timestamp for records a person reads (``updated_at``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What the engine needs to know about time, and nothing more."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; for durations and deadlines only."""
        ...

    def wall(self) -> datetime:
        """The current time in UTC (timezone-aware); for records and display."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that moves only when told to; tests and scenario replays use it.

    ``wall()`` advances in step with ``monotonic()`` from a fixed starting instant,
    so both readings agree about how much time has passed.
    """

    def __init__(
        self,
        start: float = 0.0,
        wall_start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
    ) -> None:
        if wall_start.tzinfo is None:
            raise ValueError("ManualClock wall_start must be timezone-aware (use UTC)")
        self._start = start
        self._now = start
        self._wall_start = wall_start

    def monotonic(self) -> float:
        return self._now

    def wall(self) -> datetime:
        return self._wall_start + timedelta(seconds=self._now - self._start)

    def advance(self, seconds: float) -> None:
        """Move time forward; moving it backwards is a test bug, so it raises."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards (advance({seconds}))")
        self._now += seconds

    def __repr__(self) -> str:
        return f"ManualClock(monotonic={self._now})"


SYSTEM_CLOCK: Clock = SystemClock()
