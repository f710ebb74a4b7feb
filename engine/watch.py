"""Watching for new mail: IDLE on INBOX, re-issued before the server gives up on it.

RFC 2177: a server may drop an IDLE after 30 minutes of silence, so the client ends
it (DONE) and starts a new one at most every 29 minutes (``idle_refresh``; tests use
fractions of a second). The watcher does nothing but listen: an ``EXISTS``/``EXPUNGE``
/``VANISHED`` wakes the scanner on the account's other connection, which reads the
new mail with a STATUS-planned UID FETCH. Listening and reading on separate
connections means a long scan never delays noticing mail, and an IDLE never blocks
a scan (the RFC forbids other commands during IDLE).

``ProgressSink`` wraps the CRM's sink during scans and turns delivered UIDs into
``ScanProgress`` events (folder, done, total, rate), at most a few per second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import NoReturn

from inboxlab.engine.checkpoints import CheckpointStore
from inboxlab.engine.clock import Clock
from inboxlab.engine.connect import Link
from inboxlab.engine.imap.model import Event, Exists, Expunge, Vanished
from inboxlab.engine.supervise import ScanProgress
from inboxlab.engine.sync import MessageSink, ScannedMessage

IDLE_REFRESH_MAX = 29 * 60.0  # RFC 2177: re-issue IDLE at least every 29 minutes
_NEWS = (Exists, Expunge, Vanished)


async def idle_loop(link: Link, folder: str, refresh: float,
                    on_news: Callable[[Sequence[Event]], None],
                    on_cycle: Callable[[], None] | None = None) -> NoReturn:
    """IDLE on ``folder`` (already SELECTed by the caller) forever; raises when the
    connection fails. ``on_cycle`` runs each time an IDLE has been (re)started: news
    that arrived while none was running (an EXISTS between commands) reached no
    listener, so the caller should look once then."""
    if not 0 < refresh <= IDLE_REFRESH_MAX:
        raise ValueError(f"idle_refresh must be in (0, {IDLE_REFRESH_MAX:g}] seconds "
                         f"(RFC 2177), got {refresh!r}")
    client = link.client
    if client.selected is None or client.selected.mailbox != folder:
        await client.select(folder)
    loop = asyncio.get_running_loop()
    while True:
        session = await client.idle()
        if on_cycle is not None:
            on_cycle()
        deadline = loop.time() + refresh
        while (left := deadline - loop.time()) > 0:
            events = await session.wait(left)
            news: list[Event] = [e for e in events if isinstance(e, _NEWS)]
            if news:
                on_news(news)
        await session.done()


class ProgressSink:
    """Counts a folder scan's delivered UIDs against the range the checkpoint says it spans.

    ``scan_folder`` records the start UID and UIDNEXT before its first FETCH, so on the
    first message the range is known without another round trip.
    """

    def __init__(self, sink: MessageSink, store: CheckpointStore, account: str, folder: str,
                 clock: Clock, report: Callable[[ScanProgress], None],
                 every: float = 0.25) -> None:
        self._sink = sink
        self._store = store
        self._account = account
        self._folder = folder
        self._clock = clock
        self._report = report
        self._every = every
        self._start_uid: int | None = None
        self._total = 0
        self._began = 0.0
        self._last = -1.0
        self.delivered = 0
        self.done = 0

    async def __call__(self, message: ScannedMessage) -> None:
        await self.deliver([message])

    async def deliver(self, messages: Sequence[ScannedMessage]) -> None:
        """A batch (one socket read of a scan): each message to the sink, then one progress
        sample. Progress is sampled per batch, not per message: a 100k scan reads the clock
        a few hundred times, not 100,000."""
        if not messages:
            return
        if self._start_uid is None:
            checkpoint = await self._store.get(self._account, self._folder)
            if checkpoint is not None and checkpoint.uidnext is not None:
                self._start_uid = checkpoint.last_uid
                self._total = max(0, checkpoint.uidnext - 1 - checkpoint.last_uid)
            else:
                self._start_uid = messages[0].uid - 1
            self._began = self._clock.monotonic()
        sink = self._sink
        newest = 0
        n = 0
        try:
            for message in messages:
                pending = sink(message)
                if pending is not None:
                    await pending
                n += 1
                if message.uid > newest:
                    newest = message.uid
        finally:
            self.delivered += n
            if n:
                self.done = max(self.done, min(self._total, newest - self._start_uid))
        now = self._clock.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._report(self.progress())

    def progress(self, *, finished: bool = False) -> ScanProgress:
        elapsed = self._clock.monotonic() - self._began
        done = self._total if finished else self.done
        rate = done / elapsed if elapsed > 0 else 0.0
        return ScanProgress(self._account, self._folder, done, self._total, rate,
                            self._clock.wall())


__all__ = ["IDLE_REFRESH_MAX", "ProgressSink", "idle_loop"]
