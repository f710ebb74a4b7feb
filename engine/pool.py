"""The per-account connection budget: at most 5 IMAP connections, as HubSpot allows.

Providers count simultaneous sessions per mailbox (Gmail refuses the 16th, Office 365
the 21st) and the CRM's connector promises to stay within 5, leaving room for the
person's own mail programs. The pool does not open sockets; it hands out numbered
slots, and whoever opens a connection must hold one. A 6th request is refused at
once with a typed error (a bug in the engine, never a reason to wait), and the
count is observable (``in_use`` of ``limit``) for the TUI's badge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from inboxlab.engine.errors import EngineError
from inboxlab.engine.trace import TraceFn

HUBSPOT_LIMIT = 5


@dataclass(frozen=True)
class PoolStats:
    in_use: int
    limit: int
    holders: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.in_use} / {self.limit}"


def budget_exceeded(limit: int, holders: tuple[str, ...], wanted: str) -> EngineError:
    return EngineError(
        f"connection budget exhausted: {limit} of {limit} IMAP connections are in use "
        f"({', '.join(holders)}); refusing a connection for {wanted!r}",
        code="connection_budget", permanent=False, stage="imap_connect",
        remediation=f"the connector keeps at most {limit} connections per mailbox; "
        "close one first (this is an engine bug if you see it)",
    )


class ConnectionPool:
    """Slots for connections; ``slot(purpose)`` holds one for the ``with`` block."""

    def __init__(self, limit: int = HUBSPOT_LIMIT, *, trace: TraceFn | None = None,
                 account: str = "") -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 50:
            raise ValueError(f"connection limit must be an integer in 1..50, got {limit!r}")
        self.limit = limit
        self._holders: list[str] = []
        self._trace = trace
        self._account = account
        self.peak = 0
        # Called after every change of ``in_use`` (the account announces its stats).
        self.changed: Callable[[], None] | None = None

    @property
    def in_use(self) -> int:
        return len(self._holders)

    def stats(self) -> PoolStats:
        return PoolStats(self.in_use, self.limit, tuple(self._holders))

    def acquire(self, purpose: str) -> str:
        """Take a slot or raise ``EngineError(code="connection_budget")``; returns the handle."""
        if len(self._holders) >= self.limit:
            err = budget_exceeded(self.limit, tuple(self._holders), purpose)
            self._emit("pool.refused", purpose)
            raise err
        self._holders.append(purpose)
        self.peak = max(self.peak, len(self._holders))
        self._emit("pool.acquired", purpose)
        if self.changed is not None:
            self.changed()
        return purpose

    def release(self, purpose: str) -> None:
        if purpose in self._holders:
            self._holders.remove(purpose)
            self._emit("pool.released", purpose)
            if self.changed is not None:
                self.changed()

    @contextmanager
    def slot(self, purpose: str) -> Iterator[str]:
        handle = self.acquire(purpose)
        try:
            yield handle
        finally:
            self.release(handle)

    def _emit(self, name: str, purpose: str) -> None:
        if self._trace is not None:
            self._trace(name, {"account": self._account, "purpose": purpose,
                               "in_use": self.in_use, "limit": self.limit})

    def __repr__(self) -> str:
        return f"ConnectionPool({self.in_use} / {self.limit})"


__all__ = ["HUBSPOT_LIMIT", "ConnectionPool", "PoolStats", "budget_exceeded"]
