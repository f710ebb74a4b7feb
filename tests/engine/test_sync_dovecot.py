"""The folder scan against a real Dovecot: quiet when nothing is new, resumes after a failure.

Each test logs in as its own user so tests share one server without sharing mailboxes.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from inboxlab.engine.checkpoints import CheckpointStore
from inboxlab.engine.db import Database
from inboxlab.engine.errors import ServerRefused
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.sync import Action, ScannedMessage, scan_folder

pytestmark = pytest.mark.dovecot

_users = itertools.count(1)
_next_message = itertools.count(1)


def new_user(dovecot: Any) -> Credentials:
    name = f"sync{next(_users)}@example.com"
    password = f"pw-{name}"
    dovecot.add_user(name, password)
    return Credentials(name, password)


def load(dovecot: Any, user: str, count: int, folder: str = "INBOX") -> list[int]:
    """Add ``count`` unseen messages; returns their serial numbers (in the Message-ID)."""
    serials = [next(_next_message) for _ in range(count)]
    base = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    dovecot.load_messages(user, folder, (
        (f"Message-ID: <m{n}@example.com>\r\nFrom: a@example.com\r\nTo: b@example.com\r\n"
         f"Subject: number {n}\r\n\r\nSecret body {n}\r\n".encode(), "",
         base + timedelta(minutes=n)) for n in serials))
    return serials


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CheckpointStore]:
    async with await Database.open(tmp_path / "engine.db") as db:
        yield CheckpointStore(db)


class Sink:
    def __init__(self, fail_at: int | None = None) -> None:
        self.got: list[ScannedMessage] = []
        self.fail_at = fail_at

    def __call__(self, message: ScannedMessage) -> None:
        if self.fail_at is not None and len(self.got) == self.fail_at:
            raise RuntimeError("CRM unavailable")
        self.got.append(message)


def client_for(dovecot: Any) -> ImapClient:
    return ImapClient(dovecot.host, dovecot.port, security="plain", timeout=30)


async def test_first_scan_reads_nothing_then_only_new_mail(dovecot: Any,
                                                           store: CheckpointStore) -> None:
    creds = new_user(dovecot)
    load(dovecot, creds.username, 1200)
    async with client_for(dovecot) as client:
        await client.login(creds)
        sink = Sink()
        first = await scan_folder(client, store, "ann", "INBOX", sink)
        assert first.plan.action is Action.START_FRESH
        assert sink.got == [] and first.checkpoint is not None
        assert first.checkpoint.last_uid == 1200
        assert client.selected is None  # a 1200-message folder was never even EXAMINEd

        again = await scan_folder(client, store, "ann", "INBOX", sink)
        assert again.plan.action is Action.NOTHING_NEW and sink.got == []
        assert client.selected is None

        serials = load(dovecot, creds.username, 7)
        new = await scan_folder(client, store, "ann", "INBOX", sink, batch=3)
        assert new.plan.action is Action.FETCH_NEW
        assert new.plan.ranges == ((1201, 1203), (1204, 1206), (1207, 1207))
        assert [m.uid for m in sink.got] == list(range(1201, 1208))
        for message, serial in zip(sink.got, serials, strict=True):
            assert f"<m{serial}@example.com>".encode() in message.headers
            assert b"Secret body" not in message.headers  # headers only, never the body
        assert new.checkpoint is not None and new.checkpoint.last_uid == 1207

        # BODY.PEEK: reading headers did not mark anything \Seen.
        await client.select("INBOX", readonly=True)
        flags = [m.items["FLAGS"] async for m in client.uid_fetch("1201:1207", ("UID", "FLAGS"))]
        assert flags and all("\\Seen" not in f for f in flags)


async def test_a_failure_mid_scan_resumes_from_the_last_batch(dovecot: Any,
                                                              store: CheckpointStore) -> None:
    creds = new_user(dovecot)
    load(dovecot, creds.username, 3)
    async with client_for(dovecot) as client:
        await client.login(creds)
        await scan_folder(client, store, "ann", "INBOX", Sink())
        load(dovecot, creds.username, 10)
        failing = Sink(fail_at=6)  # dies inside the second batch of four
        with pytest.raises(RuntimeError, match="CRM unavailable"):
            await scan_folder(client, store, "ann", "INBOX", failing, batch=4)
        assert [m.uid for m in failing.got] == [4, 5, 6, 7, 8, 9]
        saved = await store.get("ann", "INBOX")
        assert saved is not None and saved.last_uid == 7  # the first full batch

    async with client_for(dovecot) as client:  # a new connection, as after a disconnect
        await client.login(creds)
        resumed = Sink()
        result = await scan_folder(client, store, "ann", "INBOX", resumed, batch=4)
        assert [m.uid for m in resumed.got] == list(range(8, 14))  # replays 8-9: at-least-once
        assert result.checkpoint is not None and result.checkpoint.last_uid == 13


async def test_uidvalidity_change_starts_the_folder_over(dovecot: Any,
                                                         store: CheckpointStore) -> None:
    creds = new_user(dovecot)
    load(dovecot, creds.username, 5)
    async with client_for(dovecot) as client:
        await client.login(creds)
        real = (await client.status("INBOX", ("UIDVALIDITY",))).items["UIDVALIDITY"]
        stale = real + 1 if real < 2**32 - 1 else real - 1
        await store.put("ann", "INBOX", uidvalidity=stale, last_uid=2, uidnext=3)
        sink = Sink()
        result = await scan_folder(client, store, "ann", "INBOX", sink, backfill=2)
        assert result.plan.action is Action.START_FRESH and result.plan.drop_checkpoint
        assert [m.uid for m in sink.got] == [4, 5]  # only the backfill window, not UIDs 3..5
        assert result.checkpoint is not None
        assert (result.checkpoint.uidvalidity, result.checkpoint.last_uid) == (real, 5)


async def test_scan_of_a_missing_folder_is_a_typed_refusal(dovecot: Any,
                                                           store: CheckpointStore) -> None:
    creds = new_user(dovecot)
    async with client_for(dovecot) as client:
        await client.login(creds)
        with pytest.raises(ServerRefused) as caught:
            await scan_folder(client, store, "ann", "No Such Folder", Sink())
        assert caught.value.stage == "imap_status"
        assert await store.get("ann", "No Such Folder") is None
