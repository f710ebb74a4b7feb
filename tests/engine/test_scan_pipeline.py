"""The scan's pipelined UID FETCHes against a scripted server over loopback.

The script answers nothing until BOTH batches' UID FETCH commands have arrived, so a scan
that waited for one batch's answer before asking for the next would stall (and time out):
the test proves the pipelining without measuring time. It then answers as Dovecot may
when it runs pipelined FETCHes concurrently: the second batch's first FETCH comes before
the first batch's tagged OK, and an unsolicited flag-change FETCH is mixed in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inboxlab.engine.checkpoints import CheckpointStore
from inboxlab.engine.db import Database
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.sync import ScannedMessage, scan_folder


async def _line(reader: asyncio.StreamReader) -> tuple[bytes, str]:
    line = (await reader.readline()).decode()
    if not line:
        raise ConnectionError("client went away")
    tag, _, rest = line.rstrip("\r\n").partition(" ")
    return tag.encode(), rest


def _fetch(seq: int) -> bytes:
    head = b"Message-ID: <m%d@example.com>\r\n\r\n" % seq
    return (b"* %d FETCH (UID %d RFC822.SIZE 100 INTERNALDATE \"01-Jan-2026 00:00:00 +0000\" "
            b"BODY[HEADER.FIELDS (MESSAGE-ID)] {%d}\r\n%s)\r\n" % (seq, seq, len(head), head))


async def _script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                  seen: list[str]) -> None:
    writer.write(b"* PREAUTH [CAPABILITY IMAP4rev1] ready\r\n")
    while True:
        tag, rest = await _line(reader)
        seen.append(rest)
        if rest.startswith("STATUS"):
            writer.write(b"* STATUS INBOX (UIDVALIDITY 7 UIDNEXT 5 MESSAGES 4)\r\n"
                         + tag + b" OK done\r\n")
        elif rest.startswith("EXAMINE"):
            writer.write(b"* 4 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 5] ok\r\n"
                         + tag + b" OK [READ-ONLY] examined\r\n")
        elif rest.startswith("UID FETCH 1:2"):
            tag2, rest2 = await _line(reader)  # nothing is answered before the next batch
            seen.append(rest2)
            assert rest2.startswith("UID FETCH 3:4"), rest2
            writer.write(_fetch(1) + b"* 2 FETCH (UID 2 FLAGS (\\Seen))\r\n" + _fetch(2)
                         + _fetch(3) + tag + b" OK first\r\n" + _fetch(4)
                         + tag2 + b" OK second\r\n")
        elif rest.startswith("LOGOUT"):
            writer.write(b"* BYE bye\r\n" + tag + b" OK bye\r\n")
            await writer.drain()
            return
        else:
            writer.write(tag + b" BAD unexpected\r\n")
        await writer.drain()


@pytest.fixture
async def client() -> AsyncIterator[tuple[ImapClient, list[str]]]:
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _script(reader, writer, seen)
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with ImapClient("127.0.0.1", port, security="plain", timeout=5) as imap:
        yield imap, seen
    server.close()
    await server.wait_closed()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CheckpointStore]:
    async with await Database.open(tmp_path / "engine.db") as db:
        yield CheckpointStore(db)


async def test_batches_are_pipelined_and_each_message_is_delivered_once(
        client: tuple[ImapClient, list[str]], store: CheckpointStore) -> None:
    imap, seen = client
    got: list[ScannedMessage] = []
    result = await scan_folder(imap, store, "ann", "INBOX", got.append, batch=2,
                               backfill=2**32)
    assert [m.uid for m in got] == [1, 2, 3, 4]  # the flag-change FETCH is not a message
    assert all(m.headers.startswith(b"Message-ID: <m") for m in got)
    assert result.delivered == 4
    assert result.checkpoint is not None and result.checkpoint.last_uid == 4
    assert [c.split(" (")[0] for c in seen if c.startswith("UID FETCH")] == [
        "UID FETCH 1:2", "UID FETCH 3:4"]


async def test_a_sink_failure_in_an_early_answer_resumes_after_the_last_complete_batch(
        client: tuple[ImapClient, list[str]], store: CheckpointStore) -> None:
    """UID 3 arrives before batch 1's tagged OK; the sink fails on it. Batch 1 (UIDs 1-2)
    was complete, so its checkpoint is written before UID 3 is handed over."""
    imap, _ = client
    got: list[int] = []

    def sink(message: ScannedMessage) -> None:
        if message.uid == 3:
            raise RuntimeError("CRM unavailable")
        got.append(message.uid)

    with pytest.raises(RuntimeError, match="CRM unavailable"):
        await scan_folder(imap, store, "ann", "INBOX", sink, batch=2, backfill=2**32)
    assert got == [1, 2]
    saved = await store.get("ann", "INBOX")
    assert saved is not None and saved.last_uid == 2
