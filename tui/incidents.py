"""An outage as one incident: start, retries, the cause as it evolved, end, duration.

The engine reports every failed attempt (a ``DisconnectView``) and every planned retry
(a ``RetryView``); a person wants one thing out of that stream: "the server was down
from 12:00:01 to 12:00:09, first refusing connections, then resetting them; healed
after 8 s". ``IncidentLog`` folds the stream into ``Incident`` values and says what is
worth a notification (a new outage, a cause that changed, the end), so five failed
retries are one row and one toast, not five. Plain data, no Textual: unit-testable.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from inboxlab.tui.views import DisconnectView

# States in which the account is logged in again: the first one after an outage ends it.
HEALED_STATES = frozenset({"connected", "syncing", "idle"})


@dataclass(frozen=True)
class RetryView:
    """The supervisor's next attempt: number ``attempt``, ``delay`` seconds after ``at``."""

    attempt: int
    delay: float
    at: datetime

    @property
    def due(self) -> datetime:
        return self.at + timedelta(seconds=self.delay)

    def seconds_left(self, now: datetime) -> float:
        return max(0.0, (self.due - now).total_seconds())


@dataclass(frozen=True)
class Incident:
    """One outage. ``failures``: every failed attempt, in order (the first one opened it)."""

    failures: tuple[DisconnectView, ...]
    retry: RetryView | None = None
    ended: datetime | None = None
    retries: int = 0  # retries the supervisor planned during this outage
    asked: int = 0  # "reconnect now" presses

    @property
    def started(self) -> datetime:
        return self.failures[0].at

    @property
    def latest(self) -> DisconnectView:
        return self.failures[-1]

    @property
    def is_open(self) -> bool:
        return self.ended is None

    @property
    def heals(self) -> bool:
        return self.latest.heals

    def seconds(self, now: datetime) -> float:
        return max(0.0, ((self.ended or now) - self.started).total_seconds())

    def causes(self) -> tuple[tuple[datetime, str], ...]:
        """The cause as it evolved: each change of cause, with when it was first seen."""
        out: list[tuple[datetime, str]] = []
        for view in self.failures:
            words = cause_words(view)
            if not out or out[-1][1] != words:
                out.append((view.at, words))
        return tuple(out)

    def countdown(self, now: datetime) -> float | None:
        """Seconds to the next planned retry, while the outage lasts and one is planned."""
        if self.ended is not None or self.retry is None or not self.heals:
            return None
        return self.retry.seconds_left(now)


def cause_words(view: DisconnectView) -> str:
    """The plain-language cause: the catalogue's title, never an error code."""
    return view.cause_title or "The connection to the mailbox was lost"


def duration_text(seconds: float) -> str:
    """``4 s``, ``2 min 05 s``, ``1 h 03 min``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 retry``, ``3 retries``, ``1,000 messages``."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


@dataclass
class IncidentLog:
    """Every incident of this session, oldest first (mutated on the UI thread only)."""

    items: list[Incident] = field(default_factory=list)

    @property
    def current(self) -> Incident | None:
        last = self.items[-1] if self.items else None
        return last if last is not None and last.is_open else None

    def failure(self, view: DisconnectView) -> str | None:
        """A failed attempt. Returns "new" (an outage began), "changed" (its cause
        changed) or None (one more failure of the same outage: no new notification)."""
        current = self.current
        if current is None:
            self.items.append(Incident((view,)))
            return "new"
        changed = cause_words(view) != cause_words(current.latest) or view.heals != current.heals
        self.items[-1] = replace(current, failures=(*current.failures, view))
        return "changed" if changed else None

    def retry(self, retry: RetryView) -> None:
        current = self.current
        if current is not None:
            self.items[-1] = replace(current, retry=retry, retries=current.retries + 1)

    def asked(self) -> None:
        current = self.current
        if current is not None:
            self.items[-1] = replace(current, asked=current.asked + 1)

    def healed(self, at: datetime) -> Incident | None:
        """Logged in again: the open incident (if any) ends now and is returned."""
        current = self.current
        if current is None:
            return None
        done = replace(current, ended=max(at, current.started), retry=None)
        self.items[-1] = done
        return done

    def clear(self) -> None:
        self.items.clear()


def status_line(log: IncidentLog, now: datetime) -> str | None:
    """The dashboard's outage line: the open outage with its countdown, or how the last
    one ended; None before any outage."""
    if not log.items:
        return None
    last = log.items[-1]
    cause = cause_words(last.latest)
    if last.is_open:
        head = (f"Outage since {last.started:%H:%M:%S} "
                f"({duration_text(last.seconds(now))}): {cause}")
        if not last.heals:
            return f"{head}; not retrying: needs you"
        left = last.countdown(now)
        nxt = "" if left is None else f"; next retry in {duration_text(left)}"
        tries = f"; {plural(last.retries, 'retry', 'retries')}" if last.retries else ""
        return f"{head}{tries}{nxt} - ctrl+r reconnects now"
    assert last.ended is not None
    count = plural(len(log.items), "outage")
    return (f"Reconnected at {last.ended:%H:%M:%S} after "
            f"{duration_text(last.seconds(now))} ({cause}); {count} this session")


def badge_note(log: IncidentLog, now: datetime) -> str:
    """What the badge adds while disconnected: the next retry's countdown."""
    current = log.current
    if current is None or not current.heals:
        return ""
    left = current.countdown(now)
    if left is None or current.retry is None:
        return ""
    return (f"Retry {current.retry.attempt} in {duration_text(left)} "
            f"(ctrl+r: now). {cause_words(current.latest)}.")


def uptime_cells(log: IncidentLog, now: datetime, *, since: datetime | None,
                 window: float = 600.0, width: int = 40) -> str:
    """The last ``window`` seconds as ``width`` cells, oldest first: ``+`` up, ``-`` down
    (an outage overlapped the cell), `` `` before the session began. Looking beats
    reading: a flapping server shows as a comb, one long outage as one gap."""
    span = window / width
    cells = []
    for i in range(width):
        lo = now - timedelta(seconds=window - i * span)
        hi = lo + timedelta(seconds=span)
        if since is not None and hi < since:
            cells.append(" ")
            continue
        down = any(inc.started <= hi and (inc.ended or now) >= lo for inc in log.items)
        cells.append("-" if down else "+")
    return "".join(cells)


def uptime_share(cells: str) -> float | None:
    seen = [c for c in cells if c != " "]
    return None if not seen else seen.count("+") / len(seen)
