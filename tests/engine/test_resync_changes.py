"""A no-change pass notices expunges and flag changes (engine.changes), on the fake server.

Three servers: CONDSTORE + QRESYNC (the expunged UIDs come named, by VANISHED),
CONDSTORE only (flag changes named; expunges by count, in the Scanner), and neither
(expunges by count; flag changes cannot be seen without per-message state). Another
client makes the changes over IMAP, as a phone would. The server records every command,
so the test also checks that an unchanged folder still costs one STATUS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from inboxlab.engine.account_options import AccountOptions
from inboxlab.engine.changes import enable_qresync
from inboxlab.engine.checkpoints import CheckpointStore
from inboxlab.engine.clock import SYSTEM_CLOCK
from inboxlab.engine.db import Database
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.scanner import Scanner
from inboxlab.engine.sync import Action, scan_folder
from inboxlab.engine.trace import TraceHub
from inboxlab.fakeserver.config import AccountConfig, Capabilities, FolderConfig, ServerConfig
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.imap.hooks import ConnectionInfo, Direction, ServerHooks
from inboxlab.fakeserver.imap.server import FakeImapServer

USER, PASSWORD = "resync@example.com", "resync-secret-pass"
FULL = 2**32


class Commands(ServerHooks):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def on_transcript(self, conn: ConnectionInfo, direction: Direction, data: bytes) -> None:
        if direction == "in":
            self.lines += [ln.split(" ", 1)[1] for ln in data.decode().split("\r\n")
                           if " " in ln]


def server_for(condstore: bool, qresync: bool, hooks: ServerHooks) -> FakeImapServer:
    folders = (FolderConfig("INBOX", generated=GenSpec(count=20, seed=3, owner=USER)),)
    config = ServerConfig(capabilities=Capabilities(condstore=condstore, qresync=qresync),
                          accounts=(AccountConfig(USER, PASSWORD, folders),))
    return FakeImapServer(config, tls_port=None, hooks=hooks)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CheckpointStore]:
    async with await Database.open(tmp_path / "engine.db") as db:
        yield CheckpointStore(db)


async def change_elsewhere(server: FakeImapServer) -> None:
    """Flag UID 2, expunge UID 3: another client's work."""
    async with ImapClient(server.host, server.port, security="plain", timeout=10) as other:
        await other.login(Credentials(USER, PASSWORD))
        await other.select("INBOX")
        await other.uid_store([2], "+FLAGS", ["\\Flagged"])
        await other.uid_store([3], "+FLAGS", ["\\Deleted"])
        await other.expunge()


@pytest.mark.parametrize(("condstore", "qresync"), [(True, True), (True, False)])
async def test_condstore_names_flag_changes_and_qresync_the_expunged_uids(
        store: CheckpointStore, condstore: bool, qresync: bool) -> None:
    commands = Commands()
    async with server_for(condstore, qresync, commands) as server, ImapClient(
            server.host, server.port, security="plain", timeout=10) as client:
        await client.login(Credentials(USER, PASSWORD))
        await enable_qresync(client)
        assert ("QRESYNC" in client.enabled) is qresync
        first = await scan_folder(client, store, "ann", "INBOX", lambda m: None,
                                  backfill=FULL)
        assert first.delivered == 20 and first.changes is None
        await change_elsewhere(server)
        second = await scan_folder(client, store, "ann", "INBOX", lambda m: None)
        assert second.plan.action is Action.NOTHING_NEW
        assert second.changes is not None and second.messages == 19
        assert "\\Flagged" in dict(second.changes.flags)[2]
        if qresync:
            assert second.changes.how == "qresync" and second.changes.expunged == (3,)
        else:
            assert second.changes.how == "condstore" and second.changes.expunged == ()
        client.selected = None  # as after a reconnect: STATUS, not EXAMINE
        commands.lines.clear()
        third = await scan_folder(client, store, "ann", "INBOX", lambda m: None)
        assert third.changes is None  # HIGHESTMODSEQ did not move: nothing to ask
        assert [c.split(" ")[0] for c in commands.lines] == ["STATUS"]


@pytest.mark.parametrize(("condstore", "qresync"), [(False, False), (True, False),
                                                    (True, True)])
async def test_the_scanner_traces_what_changed_expunges_by_count_without_qresync(
        store: CheckpointStore, condstore: bool, qresync: bool) -> None:
    seen: list[Mapping[str, Any]] = []
    hub = TraceHub()
    hub.subscribe(lambda name, info: seen.append(info) if name == "scan.changes" else None)
    scanner = Scanner("ann", AccountOptions(initial_scan="full"), SYSTEM_CLOCK, hub,
                      lambda e: None, lambda m: None)
    async with server_for(condstore, qresync, Commands()) as server, ImapClient(
            server.host, server.port, security="plain", timeout=10) as client:
        await client.login(Credentials(USER, PASSWORD))
        await scanner.discover(client, store, {})
        await scanner.scan(client, store, "INBOX")
        await scanner.scan(client, store, "INBOX")  # nothing changed: nothing traced
        assert seen == []
        await change_elsewhere(server)
        await scanner.scan(client, store, "INBOX")
    (info,) = seen
    assert info["expunged"] == 1
    assert info["how"] == ("qresync" if qresync else "condstore" if condstore else "count")
    assert info["expunged_uids"] == ((3,) if qresync else ())
    assert info["flags_changed"] == (1 if condstore else 0)
