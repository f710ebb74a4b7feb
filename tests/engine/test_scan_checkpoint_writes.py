"""The scan's checkpoint writes against a slow database, on the fake server over loopback.

A database write that does not finish must not stall the scan: the scan keeps reading
and handing messages on, writes the newest completed range when the write in flight is
done (the ranges in between need no write of their own), and still ends checkpointed at
the last range. The test holds every write until the sink has seen every message: a scan
that waited for a write before going on would never get there (the test gives up
waiting after 20 s, then lets the writes through).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inboxlab.engine.checkpoints import Checkpoint, CheckpointStore
from inboxlab.engine.db import Database
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.model import Fetch, new_fetch
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.sync import ScannedMessage, scan_folder
from inboxlab.fakeserver.config import AccountConfig, FolderConfig, ServerConfig
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.imap.server import FakeImapServer

USER, PASSWORD = "slow@example.com", "slow-db-pass"
COUNT, BATCH = 1000, 100


class HeldStore(CheckpointStore):
    """Writes wait for ``release`` (after the first, which the scan's start needs)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.release = asyncio.Event()
        self.writes: list[int] = []

    async def put(self, account: str, folder: str, *, uidvalidity: int, last_uid: int,
                  uidnext: int | None = None, highestmodseq: int | None = None) -> Checkpoint:
        if self.writes:  # the scan's opening write (last_uid 0) goes through
            await self.release.wait()
        self.writes.append(last_uid)
        return await super().put(account, folder, uidvalidity=uidvalidity,
                                 last_uid=last_uid, uidnext=uidnext,
                                 highestmodseq=highestmodseq)


@pytest.fixture
async def server() -> AsyncIterator[FakeImapServer]:
    folders = (FolderConfig("INBOX", generated=GenSpec(count=COUNT, seed=3, owner=USER)),)
    config = ServerConfig(accounts=(AccountConfig(USER, PASSWORD, folders),))
    async with FakeImapServer(config, tls_port=None) as srv:
        yield srv


async def test_a_slow_database_never_stalls_the_scan_and_writes_coalesce(
        server: FakeImapServer, tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "engine.db") as db:
        store = HeldStore(db)
        got: list[int] = []

        def sink(message: ScannedMessage) -> None:
            got.append(message.uid)
            if len(got) == COUNT:
                store.release.set()

        async with ImapClient(server.host, server.port, security="plain", timeout=10) as imap:
            await imap.login(Credentials(USER, PASSWORD))
            scan = asyncio.ensure_future(scan_folder(imap, store, "slow", "INBOX", sink,
                                                     batch=BATCH, backfill=2**32))
            finished, _ = await asyncio.wait({scan}, timeout=20)
            store.release.set()  # never leave a stalled scan hanging
            result = await scan
        assert finished, "the scan stalled on a checkpoint write"
        assert got == list(range(1, COUNT + 1))
        assert result.checkpoint is not None and result.checkpoint.last_uid == COUNT
        saved = await store.get("slow", "INBOX")
        assert saved is not None and saved.last_uid == COUNT
        # The opening write, the one range write issued before the hold, then only
        # the newest range once it was released: not one write per range (a last one
        # records the folder's HIGHESTMODSEQ, CONDSTORE being on).
        assert store.writes[:3] == [0, BATCH, COUNT]
        assert store.writes[3:] in ([], [COUNT])


class SinkFailed(Exception):
    pass


async def test_a_scan_cancelled_while_a_write_is_held_still_checkpoints_every_complete_range(
        server: FakeImapServer, tmp_path: Path) -> None:
    """What a reset does to the account's scan: the FETCH fails (here: the sink, inside
    range 6), and while the scan waits on the write in flight (range 1's, held) the
    session cancels it. Ranges 2..5 completed and went to the sink behind that write;
    their checkpoint must not be lost with the cancellation (it was: the resumed scan
    read them again)."""
    async with await Database.open(tmp_path / "engine.db") as db:
        store = HeldStore(db)
        got: list[int] = []
        failed = asyncio.Event()

        def sink(message: ScannedMessage) -> None:
            got.append(message.uid)
            if len(got) == 5 * BATCH + BATCH // 2:
                failed.set()
                raise SinkFailed

        async with ImapClient(server.host, server.port, security="plain", timeout=10) as imap:
            await imap.login(Credentials(USER, PASSWORD))
            scan = asyncio.ensure_future(scan_folder(imap, store, "slow", "INBOX", sink,
                                                     batch=BATCH, backfill=2**32))
            await asyncio.wait_for(failed.wait(), timeout=20)
            scan.cancel()  # the scan is in its cleanup, waiting on the held write
            store.release.set()
            with pytest.raises(asyncio.CancelledError):
                await scan
        saved = await store.get("slow", "INBOX")
        assert saved is not None and saved.last_uid == 5 * BATCH
        assert got == list(range(1, 5 * BATCH + BATCH // 2 + 1))


def test_the_parsers_fast_fetch_is_the_same_frozen_event() -> None:
    items = {"UID": 7, "FLAGS": ("\\Seen",)}
    fast = new_fetch(3, items)
    assert type(fast) is Fetch
    assert fast == Fetch(3, items) and fast.uid == 7 and fast.items is items
    assert repr(fast) == repr(Fetch(3, items))
    with pytest.raises(AttributeError):
        fast.seq = 4  # type: ignore[misc]
