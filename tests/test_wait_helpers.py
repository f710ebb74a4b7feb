"""wait_until / async_wait_until (tests/waiting.py) return the value or fail naming the wait."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from waiting import async_wait_until, wait_until


def test_wait_until_returns_the_truthy_value() -> None:
    calls = itertools.count()
    assert wait_until(lambda: next(calls) >= 3 and "ready", timeout=5, what="x") == "ready"


def test_wait_until_names_what_it_waited_for() -> None:
    with pytest.raises(AssertionError, match="waiting for the impossible"):
        wait_until(lambda: False, timeout=0.05, what="the impossible")


async def test_async_wait_until_accepts_async_predicates() -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_soon(event.set)

    async def is_set() -> bool:
        return event.is_set()

    assert await async_wait_until(is_set, timeout=5, what="event") is True


async def test_async_wait_until_times_out() -> None:
    with pytest.raises(AssertionError, match=r"after 0\.05s waiting for nothing"):
        await async_wait_until(lambda: 0, timeout=0.05, what="nothing")
