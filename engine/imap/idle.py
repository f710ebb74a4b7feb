"""IDLE (RFC 2177): wait for the server to tell us about new mail, then say DONE.

Servers drop an IDLE after ~30 minutes (RFC 2177 says re-issue within 29), so the
caller loops ``wait()`` with its own deadline and restarts IDLE periodically.
"""

from __future__ import annotations

import asyncio

from inboxlab.engine.errors import EngineError
from inboxlab.engine.imap.connection import Connection
from inboxlab.engine.imap.model import Event, Tagged
from inboxlab.engine.imap.router import Pending


class IdleSession:
    """An IDLE in progress: unsolicited events queue up here until ``done()``."""

    def __init__(self, conn: Connection, timeout: float) -> None:
        self._conn = conn
        self._timeout = timeout
        self._queue: asyncio.Queue[Event | EngineError] = asyncio.Queue()
        self._pending: Pending | None = None
        self._finished = False
        self._failed: EngineError | None = None

    async def start(self) -> None:
        self._conn.add_listener(self._queue.put_nowait)
        try:
            self._pending = await self._conn.start(
                "IDLE", stage="imap_idle", wait_continuation=True, collect=False
            )
            if self._pending.finished:  # refused instead of '+'
                await self._conn.finish(self._pending, self._timeout)
        except BaseException:
            self._conn.remove_listener(self._queue.put_nowait)
            raise

    async def wait(self, seconds: float) -> list[Event]:
        """Events that arrived, waiting up to ``seconds`` for the first; [] if none.

        Raises the connection's error if it failed while idling (after returning any
        events that arrived before the failure).
        """
        if self._failed is not None:
            raise self._failed
        try:
            async with asyncio.timeout(seconds):
                first = await self._queue.get()
        except TimeoutError:
            return []
        items = [first]
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        events: list[Event] = []
        for item in items:
            if isinstance(item, EngineError):
                if events:  # news first; the failure on the next call
                    self._queue.put_nowait(item)
                    break
                self._failed = item
                raise item
            events.append(item)
        return events

    async def done(self) -> Tagged:
        """Leave IDLE: send DONE and wait for the tagged OK."""
        if self._finished or self._pending is None:
            raise RuntimeError("IDLE already finished")
        self._finished = True
        self._conn.remove_listener(self._queue.put_nowait)
        await self._conn.write_raw(b"DONE\r\n", "DONE")
        return await self._conn.finish(self._pending, self._timeout)
