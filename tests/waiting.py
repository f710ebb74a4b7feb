"""Waiting on a condition with a deadline: tests never ``sleep`` for a fixed time.

    from waiting import wait_until, async_wait_until
    wait_until(lambda: server.sessions == 1, timeout=5, what="one session")
    await async_wait_until(lambda: queue.qsize() > 0, what="an event")

A module of its own (not conftest) because several conftest.py files exist and
``from conftest import ...`` resolves to whichever directory pytest inserted last.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

_POLL = 0.01  # seconds between polls of a condition (not a wait for an outcome)


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, what: str = "condition",
               *, interval: float = _POLL) -> T:
    """Poll predicate until it returns something truthy; return it, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


# Same signature as wait_until on purpose (ASYNC109 prefers asyncio.timeout at call sites).
async def async_wait_until(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 10.0,  # noqa: ASYNC109
    what: str = "condition",
    *, interval: float = _POLL,
) -> T:
    """The asyncio twin of wait_until; predicate may be a plain or an async callable."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(interval)
