"""A 100k-message INBOX on the fake server: the scan notices new mail without reading the rest.

The server records every command it receives (already redacted), so the test asserts
what the engine asked for, not just what it ended up with.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inboxlab.engine.checkpoints import CheckpointStore
from inboxlab.engine.db import Database
from inboxlab.engine.errors import EngineError
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.roles import Role
from inboxlab.engine.sync import Action, ScannedMessage, discover_roles, scan_folder
from inboxlab.fakeserver.config import AccountConfig, FolderConfig, ServerConfig
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.imap.hooks import ConnectionInfo, Direction, Reply, ServerHooks
from inboxlab.fakeserver.imap.server import FakeImapServer
from inboxlab.fakeserver.imap.session import ImapSession
from inboxlab.fakeserver.imap.syntax.commands import Command

USER, PASSWORD = "big@example.com", "big-secret-pass"
BIG = 100_000


class Recorder(ServerHooks):
    """Collects every command line the server receives."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def on_transcript(self, conn: ConnectionInfo, direction: Direction, data: bytes) -> None:
        if direction == "in":
            self.lines += [ln for ln in data.decode("utf-8", "replace").split("\r\n") if ln]

    def commands(self) -> list[str]:
        """``NAME args`` without the tag, LOGIN excluded (its password is redacted anyway)."""
        return [ln.split(" ", 1)[1] for ln in self.lines
                if " " in ln and not ln.split(" ", 2)[1].upper().startswith("LOGIN")]


@pytest.fixture
async def big_server() -> AsyncIterator[tuple[FakeImapServer, Recorder]]:
    folders = (
        FolderConfig("INBOX", generated=GenSpec(count=BIG, seed=11, owner=USER)),
        FolderConfig("Sent Items", special_use=("\\Sent",)),
        FolderConfig("Presentations"),
    )
    recorder = Recorder()
    config = ServerConfig(accounts=(AccountConfig(USER, PASSWORD, folders),))
    async with FakeImapServer(config, tls_port=None, hooks=recorder) as server:
        yield server, recorder


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CheckpointStore]:
    async with await Database.open(tmp_path / "engine.db") as db:
        yield CheckpointStore(db)


async def test_100k_inbox_costs_one_status_until_mail_arrives(
    big_server: tuple[FakeImapServer, Recorder], store: CheckpointStore,
) -> None:
    server, recorder = big_server
    got: list[ScannedMessage] = []
    async with ImapClient(server.host, server.port, security="plain", timeout=30) as client:
        await client.login(Credentials(USER, PASSWORD))
        roles = await discover_roles(client)
        assert roles[Role.SENT].folder == "Sent Items"

        recorder.lines.clear()
        first = await scan_folder(client, store, "big", "INBOX", got.append)
        second = await scan_folder(client, store, "big", "INBOX", got.append)
        assert (first.plan.action, second.plan.action) == (Action.START_FRESH,
                                                            Action.NOTHING_NEW)
        assert got == []
        assert [c.split(" ")[0] for c in recorder.commands()] == ["STATUS", "STATUS"]

        inbox = server.store.accounts[USER].folder("INBOX")
        assert inbox is not None
        when = datetime(2026, 4, 1, tzinfo=UTC)
        for n in range(3):
            inbox.append(f"Message-ID: <new{n}@example.com>\r\nSubject: hi\r\n\r\n"
                         f"private body {n}\r\n".encode(), internaldate=when)
        recorder.lines.clear()
        third = await scan_folder(client, store, "big", "INBOX", got.append)
        sent = recorder.commands()

        # INBOX is now selected: STATUS is not for the selected mailbox (RFC 3501 6.3.10),
        # so the next scan re-EXAMINEs it instead, and fetches from that one EXAMINE.
        inbox.append(b"Message-ID: <later@example.com>\r\n\r\nx\r\n", internaldate=when)
        recorder.lines.clear()
        fourth = await scan_folder(client, store, "big", "INBOX", got.append)
        # New mail moves HIGHESTMODSEQ too, so the pass also asks what changed among the
        # messages already scanned (UID FETCH ... CHANGEDSINCE; nothing, here).
        assert [c.split(" (")[0] for c in recorder.commands()] == [
            'EXAMINE "INBOX"', f"UID FETCH 1:{BIG + 3}", f"UID FETCH {BIG + 4}:{BIG + 4}"]
        assert fourth.delivered == 1 and got[-1].uid == BIG + 4
        assert fourth.changes is not None and not fourth.changes
        got.pop()
    assert third.plan.action is Action.FETCH_NEW
    assert [c.split(" ")[0] for c in sent] == ["STATUS", "EXAMINE", "UID", "UID"]
    assert sent[2].startswith(f"UID FETCH 1:{BIG} (UID FLAGS) (CHANGEDSINCE ")
    assert sent[3].startswith(f"UID FETCH {BIG + 1}:{BIG + 3} (")
    assert "BODY.PEEK[HEADER.FIELDS" in sent[3]
    assert [m.uid for m in got] == [BIG + 1, BIG + 2, BIG + 3]
    assert [b"<new%d@example.com>" % n in m.headers for n, m in enumerate(got)] == [True] * 3
    assert all(b"private body" not in m.headers for m in got)
    saved = await store.get("big", "INBOX")
    assert saved is not None and saved.last_uid == BIG + 4


class ByeOnSecondFetch(Recorder):
    """Answers the second header UID FETCH with BYE and hangs up: a server restart
    mid-scan (a CHANGEDSINCE check of the messages already scanned does not count)."""

    def __init__(self) -> None:
        super().__init__()
        self.fetches = 0
        self.armed = False

    def on_command(self, session: ImapSession, command: Command) -> Reply | None:
        if (self.armed and command.name == "FETCH" and command.uid
                and getattr(command.args, "changed_since", None) is None):
            self.fetches += 1
            if self.fetches == 2:
                return Reply(b"* BYE [UNAVAILABLE] restarting\r\n", close=True)
        return None


async def test_a_disconnect_mid_scan_resumes_where_it_stopped(store: CheckpointStore) -> None:
    hooks = ByeOnSecondFetch()
    folders = (FolderConfig("INBOX", generated=GenSpec(count=50, seed=3, owner=USER)),)
    config = ServerConfig(accounts=(AccountConfig(USER, PASSWORD, folders),))
    async with FakeImapServer(config, tls_port=None, hooks=hooks) as server:
        inbox = server.store.accounts[USER].folder("INBOX")
        assert inbox is not None
        async with ImapClient(server.host, server.port, security="plain") as client:
            await client.login(Credentials(USER, PASSWORD))
            await scan_folder(client, store, "acct", "INBOX", lambda m: None)
        for n in range(10):
            inbox.append(f"Message-ID: <r{n}@example.com>\r\n\r\nx\r\n".encode())
        hooks.armed = True

        seen: list[int] = []
        client = ImapClient(server.host, server.port, security="plain", timeout=30)
        await client.connect()
        try:
            await client.login(Credentials(USER, PASSWORD))
            with pytest.raises(EngineError) as caught:
                await scan_folder(client, store, "acct", "INBOX",
                                  lambda m: seen.append(m.uid), batch=4)
        finally:
            await client.close()
        assert caught.value.transient
        assert seen == [51, 52, 53, 54]
        saved = await store.get("acct", "INBOX")
        assert saved is not None and saved.last_uid == 54  # the last complete batch

        resumed: list[int] = []
        async with ImapClient(server.host, server.port, security="plain") as client:
            await client.login(Credentials(USER, PASSWORD))
            await scan_folder(client, store, "acct", "INBOX",
                              lambda m: resumed.append(m.uid), batch=4)
        assert resumed == list(range(55, 61))
