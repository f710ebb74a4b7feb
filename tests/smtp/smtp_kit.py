"""Shared helpers for the SMTP tests: accounts in a real Store, an SMTPS client, a manual
timer."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

import aiosmtplib

from inboxlab.fakeserver.smtp.server import FakeSmtpServer
from inboxlab.fakeserver.store import Store
from inboxlab.fakeserver.tls import TlsMaterial

USER, PASSWORD = "sam@crm.test", "correct horse"
COLLEAGUE = "kim@crm.test"


def make_store() -> Store:
    """Two local accounts; the submitter has a Sent folder with the special-use role."""
    store = Store()
    store.add_account(USER, PASSWORD).create("Sent", special_use=("\\Sent",))
    store.add_account(COLLEAGUE, "kim's password")
    return store


def smtps_client(server: FakeSmtpServer, tls: TlsMaterial) -> aiosmtplib.SMTP:
    """An aiosmtplib client for the server's implicit-TLS port, trusting its CA."""
    return aiosmtplib.SMTP(
        hostname=server.host, port=server.tls_port, use_tls=True, tls_context=tls.client_context()
    )


class ManualTimer:
    """A timer that fires only when the test advances it (the injected clock)."""

    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list[tuple[float, int, Callable[..., Any], tuple[Any, ...]]] = []
        self._n = 0
        self.cancelled: set[int] = set()

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Any:
        self._n += 1
        n = self._n
        heapq.heappush(self._queue, (self.now + delay, n, callback, args))
        timer = self

        class Handle:
            def cancel(self) -> None:
                timer.cancelled.add(n)

        return Handle()

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while self._queue and self._queue[0][0] <= self.now:
            _, n, callback, args = heapq.heappop(self._queue)
            if n not in self.cancelled:
                callback(*args)
