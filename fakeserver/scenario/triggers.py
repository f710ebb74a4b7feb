"""Which timeline events fire, decided from a stream of observations (sans-I/O).

The server shell reports what happens (a connection opened, a login attempt, a
command, bytes moved, the clock advanced) and gets back the events that fire. No
sockets, no asyncio, no wall clock: time arrives as ``Tick(now)`` from an injected
clock and every probability draws from its own ``random.Random(seed)``, so the same
observations always give the same firings (this is what makes two runs of a scenario
byte-identical).

Counting rules, in one place:
- connections and logins are numbered server-wide from 1, in arrival order;
- an ``OnCommand`` counts only commands that match it (name, pattern, mailbox);
- ``times`` caps how often an event fires (0 = no cap); a fired ``OnConnection`` /
  ``OnLogin`` / ``OnCommand`` with ``times > 1`` fires again on the next match;
- ``OnBytes`` fires when a connection's running count in one direction reaches
  ``count``; ``bytes_budget`` tells the shell how many bytes it may move before the
  next such boundary so it can split a write exactly there.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from inboxlab.fakeserver.scenario.model import (
    AtTime,
    Chance,
    OnBytes,
    OnCommand,
    OnConnection,
    OnLogin,
    TimelineEvent,
)


@dataclass(frozen=True)
class Connected:
    conn: int  # server-wide number, from 1


@dataclass(frozen=True)
class LoginAttempt:
    conn: int
    user: str


@dataclass(frozen=True)
class CommandSeen:
    """A command as the client wrote it: ``name`` upper-case with ``UID`` kept (``UID FETCH``)."""

    conn: int
    name: str
    line: str = ""
    mailbox: str | None = None


@dataclass(frozen=True)
class BytesMoved:
    conn: int
    direction: str  # "to_client" | "to_server"
    total: int  # running count on this connection in this direction


@dataclass(frozen=True)
class Tick:
    now: float  # seconds since the scenario started


Observation = Connected | LoginAttempt | CommandSeen | BytesMoved | Tick


@dataclass(frozen=True)
class Fired:
    """One event firing; ``conn`` is the connection it concerns (None for time triggers)."""

    index: int
    event: TimelineEvent
    conn: int | None
    command: CommandSeen | None = None


class TriggerEngine:
    """Feeds observations through every pending trigger; returns what fired, in timeline order."""

    def __init__(self, timeline: tuple[TimelineEvent, ...]) -> None:
        self._timeline = timeline
        self._fired = [0] * len(timeline)
        self._matches = [0] * len(timeline)
        self._bytes_done: set[tuple[int, int]] = set()  # (event index, conn)
        self._patterns: dict[int, re.Pattern[str]] = {}
        self._rngs: dict[int, random.Random] = {}
        for i, event in enumerate(timeline):
            trig = event.trigger
            if isinstance(trig, OnCommand) and trig.pattern is not None:
                self._patterns[i] = re.compile(trig.pattern, re.IGNORECASE)
            if isinstance(trig, Chance):
                self._rngs[i] = random.Random(trig.seed)

    def _exhausted(self, i: int, times: int) -> bool:
        return times > 0 and self._fired[i] >= times

    def observe(self, obs: Observation) -> list[Fired]:
        out: list[Fired] = []
        for i, event in enumerate(self._timeline):
            if self._check(i, event, obs):
                self._fired[i] += 1
                conn = None if isinstance(obs, Tick) else obs.conn
                command = obs if isinstance(obs, CommandSeen) else None
                out.append(Fired(i, event, conn, command))
        return out

    def _check(self, i: int, event: TimelineEvent, obs: Observation) -> bool:
        trig = event.trigger
        if isinstance(trig, AtTime):
            return isinstance(obs, Tick) and not self._fired[i] and obs.now >= trig.after_s
        if isinstance(trig, OnConnection):
            return isinstance(obs, Connected) and self._nth(i, trig.nth, trig.times)
        if isinstance(trig, OnLogin):
            if not isinstance(obs, LoginAttempt):
                return False
            if trig.user is not None and obs.user.lower() != trig.user.lower():
                return False
            return self._nth(i, trig.nth, trig.times)
        if isinstance(trig, OnCommand):
            return isinstance(obs, CommandSeen) and self._command_matches(i, trig, obs) and (
                self._nth(i, trig.nth, trig.times)
            )
        if isinstance(trig, OnBytes):
            return self._bytes(i, trig, obs)
        if isinstance(trig, Chance):
            return self._chance(i, trig, obs)
        return False

    def _nth(self, i: int, nth: int, times: int) -> bool:
        """Count one more match; fire on the nth and, while ``times`` allows, after it."""
        self._matches[i] += 1
        if self._exhausted(i, times):
            return False
        return self._matches[i] >= nth

    def _command_matches(self, i: int, trig: OnCommand, obs: CommandSeen) -> bool:
        if trig.name is not None and obs.name.upper() != trig.name:
            return False
        if trig.mailbox is not None:
            if obs.mailbox is None or not _same_mailbox(obs.mailbox, trig.mailbox):
                return False
        pattern = self._patterns.get(i)
        return pattern is None or pattern.search(obs.line) is not None

    def _bytes(self, i: int, trig: OnBytes, obs: Observation) -> bool:
        if not isinstance(obs, BytesMoved) or obs.direction != trig.direction:
            return False
        if trig.connection is not None and obs.conn != trig.connection:
            return False
        if (i, obs.conn) in self._bytes_done or self._exhausted(i, trig.times):
            return False
        if obs.total >= trig.count:
            self._bytes_done.add((i, obs.conn))
            return True
        return False

    def _chance(self, i: int, trig: Chance, obs: Observation) -> bool:
        kinds = {"connection": Connected, "login": LoginAttempt, "command": CommandSeen}
        if not isinstance(obs, kinds[trig.per]):
            return False
        if isinstance(obs, CommandSeen) and trig.name is not None and obs.name != trig.name:
            return False
        # draw even when exhausted, so the sequence does not depend on earlier firings
        hit = self._rngs[i].random() < trig.probability
        return hit and not self._exhausted(i, trig.times)

    def bytes_budget(self, conn: int, direction: str, total: int) -> int | None:
        """Bytes that may still move before the next byte trigger on this connection."""
        best: int | None = None
        for i, event in enumerate(self._timeline):
            trig = event.trigger
            if not isinstance(trig, OnBytes) or trig.direction != direction:
                continue
            if trig.connection is not None and trig.connection != conn:
                continue
            if (i, conn) in self._bytes_done or self._exhausted(i, trig.times):
                continue
            left = max(trig.count - total, 0)
            best = left if best is None else min(best, left)
        return best

    def next_deadline(self) -> float | None:
        """The earliest pending time trigger (seconds since start), for the shell's timer."""
        pending = [
            e.trigger.after_s
            for i, e in enumerate(self._timeline)
            if isinstance(e.trigger, AtTime) and not self._fired[i]
        ]
        return min(pending) if pending else None


def _same_mailbox(a: str, b: str) -> bool:
    if a.upper() == "INBOX" or b.upper() == "INBOX":
        return a.upper() == b.upper()
    return a == b
