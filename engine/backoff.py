"""Reconnect backoff: jittered exponential, capped, harsher on sessions that die young.

Sans-I/O: the caller says what failed and when (``next_delay(failure, now)``) and
gets a delay in seconds, or ``None`` for "do not retry" (a permanent failure such
as a rejected password: hammering a server with a bad password gets accounts locked).

The shape: attempt ``n`` waits ``uniform(1, 3) * 1.5**n`` seconds, capped at 30 s.
The random base spreads many accounts that lost the same server apart (no
thundering herd), and comes from an injected, seeded ``random.Random``.

Strikes: a server that accepts the login and then drops us within
``short_session`` seconds (too many connections, a load balancer cycling) would
otherwise see a LOGIN every 30 s forever. Each such death is a strike that
doubles the delay, up to ``strike_cap``; a session that lives longer than
``short_session`` proves the server healthy and clears attempts and strikes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol


class Failure(Protocol):
    """Anything that knows whether retrying can help; every EngineError does."""

    @property
    def permanent(self) -> bool: ...


@dataclass(frozen=True)
class BackoffPolicy:
    base_min: float = 1.0
    base_max: float = 3.0
    factor: float = 1.5
    cap: float = 30.0
    short_session: float = 60.0
    strike_factor: float = 2.0
    strike_cap: float = 300.0

    def __post_init__(self) -> None:
        if not 0 < self.base_min <= self.base_max:
            raise ValueError("BackoffPolicy needs 0 < base_min <= base_max")
        if self.factor < 1 or self.strike_factor < 1:
            raise ValueError("BackoffPolicy factors must be >= 1 (delays never shrink)")
        if not self.base_max <= self.cap <= self.strike_cap:
            raise ValueError("BackoffPolicy needs base_max <= cap <= strike_cap")


def is_permanent(failure: Failure | BaseException) -> bool:
    """Permanent if it says so; a bare OSError/timeout without the flag is transient."""
    return bool(getattr(failure, "permanent", False))


class Backoff:
    """Per-account retry bookkeeping; one instance lives as long as the account runs."""

    def __init__(
        self, rng: random.Random, policy: BackoffPolicy = BackoffPolicy()
    ) -> None:
        self._rng = rng
        self.policy = policy
        self.attempts = 0
        self.strikes = 0
        self._logged_in_at: float | None = None

    def logged_in(self, now: float) -> None:
        """A session is up; the next failure measures how long it lived."""
        self._logged_in_at = now

    def reset(self) -> None:
        """Forget past failures (the person pressed "retry now" or changed settings)."""
        self.attempts = 0
        self.strikes = 0
        self._logged_in_at = None

    def next_delay(self, failure: Failure | BaseException, now: float) -> float | None:
        """Seconds to wait before reconnecting, or ``None`` to stop retrying."""
        p = self.policy
        if self._logged_in_at is not None:
            lived = now - self._logged_in_at
            self._logged_in_at = None
            if lived >= p.short_session:
                self.attempts = 0
                self.strikes = 0
            elif p.base_min * p.strike_factor**self.strikes < p.strike_cap:
                self.strikes += 1
        if is_permanent(failure):
            return None
        base = self._rng.uniform(p.base_min, p.base_max)
        delay = min(p.cap, base * p.factor**self.attempts)
        if self.strikes:
            delay = min(p.strike_cap, delay * p.strike_factor**self.strikes)
        # Stop counting once the cap is reached: a day-long outage must not overflow a float.
        if p.base_min * p.factor**self.attempts < p.cap:
            self.attempts += 1
        return delay

    def __repr__(self) -> str:
        return f"Backoff(attempts={self.attempts}, strikes={self.strikes})"
