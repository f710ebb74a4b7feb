"""The account runner against the fake server over loopback: sync, IDLE, recovery, budget.

Every wait is a condition with a deadline (``async_wait_until``); nothing sleeps.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from account_helpers import Recorder, make_account, settings_for
from waiting import async_wait_until

from inboxlab.engine.errors import ConfigError
from inboxlab.engine.roles import Role
from inboxlab.engine.secrets import Secret
from inboxlab.engine.states import State, StateChanged
from inboxlab.engine.supervise import FolderGone, LargeFolderWarning, NewMail, ScanProgress
from inboxlab.engine.sync import ScannedMessage
from inboxlab.fakeserver.config import AccountConfig, FolderConfig, ServerConfig
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.imap.server import FakeImapServer

USER, PASSWORD = "acct@example.com", "acct-secret-pass"


def raw_message(n: int, subject: str, *, in_reply_to: str | None = None) -> bytes:
    head = (f"Message-ID: <unique-{n}@example.com>\r\nFrom: Dana <dana@acme.example>\r\n"
            f"To: {USER}\r\nSubject: {subject}\r\nDate: Mon, 02 Sep 2024 10:00:00 +0000\r\n")
    if in_reply_to:
        head += f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n"
    return (head + "\r\nbody\r\n").encode()


def config(inbox: int = 30) -> ServerConfig:
    folders = (
        FolderConfig("INBOX", generated=GenSpec(count=inbox, seed=5, owner=USER)),
        FolderConfig("Sent Items", special_use=("\\Sent",),
                     generated=GenSpec(count=4, seed=6, owner=USER)),
        FolderConfig("Presentations", generated=GenSpec(count=3, seed=7, owner=USER)),
    )
    return ServerConfig(accounts=(AccountConfig(USER, PASSWORD, folders),))


@pytest.fixture
async def server() -> AsyncIterator[FakeImapServer]:
    async with FakeImapServer(config()) as srv:
        yield srv


def database_bytes(directory: Path) -> bytes:
    """The database file and its WAL/SHM companions, concatenated."""
    files = [p for p in directory.iterdir() if p.name.startswith("engine.db")]
    assert files, "no database file was written"
    return b"".join(p.read_bytes() for p in files)


def inbox_of(server: FakeImapServer) -> object:
    return server.store.accounts[USER].get("INBOX")


async def test_full_first_sync_then_idle_notices_new_mail(server: FakeImapServer,
                                                          tmp_path: Path) -> None:
    rec = Recorder()
    account = make_account(settings_for(server.host, server.port, USER), PASSWORD, tmp_path,
                           rec, initial_scan="full", idle_refresh=0.2, batch=10)
    await account.start()
    try:
        await async_wait_until(lambda: account.state is State.IDLE and account.delivered == 34,
                               timeout=10, what="first full sync of INBOX and Sent")
        assert account.roles[Role.SENT].folder == "Sent Items"
        assert account.stats.connections_in_use == 2  # scanner + IDLE watcher
        assert "IDLE" in account.stats.capabilities
        assert {f.folder for f in account.stats.folders} == {"INBOX", "Sent Items"}
        inbox = [p for p in rec.of(ScanProgress) if p.folder == "INBOX"]
        assert inbox[-1].done == inbox[-1].total == 30
        # The IDLE is re-issued before the (configured) refresh interval runs out.
        await async_wait_until(lambda: len(rec.named("watch.idle")) >= 3, timeout=5,
                               what="IDLE re-issued twice")

        inbox_of(server).append(raw_message(1, "arrives-during-idle"),  # type: ignore[attr-defined]
                                internaldate=datetime(2026, 1, 2, tzinfo=UTC))
        await async_wait_until(lambda: any(b"arrives-during-idle" in s for s in rec.subjects()),
                               timeout=1.0, what="new mail noticed through IDLE within 1 s")
        assert rec.of(NewMail)
    finally:
        await account.stop()
    # Every transition was also a trace event, in order.
    traced = [(i["old"].value, i["new"].value) for i in rec.named("account.StateChanged")]
    assert traced[:5] == [("stopped", "connecting"), ("connecting", "authenticating"),
                          ("authenticating", "connected"), ("connected", "syncing"),
                          ("syncing", "idle")]
    assert traced[-1][1] == "stopped"
    assert [c.new for c in rec.of(StateChanged)] == [State(n) for _, n in traced]
    assert account.state is State.STOPPED
    assert account.stats.connections_in_use == 0


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_connects_with_tls_and_starttls(server: FakeImapServer, tmp_path: Path,
                                              security: str) -> None:
    port = server.tls_port if security == "tls" else server.port
    assert port is not None
    rec = Recorder()
    account = make_account(settings_for("localhost", port, USER, security), PASSWORD, tmp_path,
                           rec, ssl_context=server.client_ssl_context())
    await account.start()
    try:
        await async_wait_until(lambda: account.state is State.IDLE, timeout=10,
                               what=f"watching over {security}")
        assert rec.named("imap.tls.complete") or security == "tls"
    finally:
        await account.stop()


async def test_new_mode_starts_at_uidnext_and_stores_no_headers(server: FakeImapServer,
                                                                tmp_path: Path) -> None:
    rec = Recorder()
    account = make_account(settings_for(server.host, server.port, USER), PASSWORD, tmp_path,
                           rec, initial_scan="new", poll_interval=0.1, idle=False)
    await account.start()
    try:
        await async_wait_until(lambda: account.state is State.IDLE, timeout=10, what="idle")
        assert account.delivered == 0  # history predates the connection
        assert account.stats.connections_in_use == 1  # no IDLE wanted: one connection
        inbox_of(server).append(raw_message(2, "zq-untracked-subject-81723"))  # type: ignore[attr-defined]
        await async_wait_until(lambda: any(b"zq-untracked" in s for s in rec.subjects()),
                               timeout=5, what="polling finds the new message")
    finally:
        await account.stop()
    # Nothing about an untracked message reaches the database: scan the raw bytes.
    blob = database_bytes(tmp_path)
    assert b"zq-untracked-subject-81723" not in blob
    assert PASSWORD.encode() not in blob and PASSWORD not in repr(rec.traces)
    assert b"unique-2@example.com" not in blob
    with sqlite3.connect(tmp_path / "engine.db") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        filled = {t: n for t in tables if t != "checkpoints"
                  and (n := db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])}
        assert filled == {}  # only checkpoints: nothing about the untracked message


async def test_large_folder_warning(server: FakeImapServer, tmp_path: Path) -> None:
    rec = Recorder()
    account = make_account(settings_for(server.host, server.port, USER), PASSWORD, tmp_path,
                           rec, large_folder=30)
    await account.start()
    try:
        await async_wait_until(lambda: rec.of(LargeFolderWarning), timeout=10, what="warning")
    finally:
        await account.stop()
    (warning,) = rec.of(LargeFolderWarning)
    assert (warning.folder, warning.messages, warning.threshold) == ("INBOX", 30, 30)


async def test_small_tracked_set_is_found_by_server_search(tmp_path: Path) -> None:
    replies = (raw_message(10, "re: quote", in_reply_to="<tracked-1@crm.example>"),
               raw_message(11, "re: re: renewal", in_reply_to="<tracked-2@crm.example>"),
               raw_message(12, "unrelated", in_reply_to="<other@elsewhere.example>"))
    folders = (FolderConfig("INBOX", generated=GenSpec(count=5000, seed=5, owner=USER),
                            messages=replies),
               FolderConfig("Sent", special_use=("\\Sent",)))
    tracked = ["<tracked-1@crm.example>", "<tracked-2@crm.example>"]
    rec = Recorder()
    async with FakeImapServer(ServerConfig(accounts=(AccountConfig(USER, PASSWORD, folders),)),
                              tls_port=None) as srv:
        account = make_account(settings_for(srv.host, srv.port, USER), PASSWORD, tmp_path, rec,
                               initial_scan="full", tracked=lambda: tracked)
        await account.start()
        try:
            await async_wait_until(lambda: account.state is State.IDLE, what="watching")
            assert await account.find_replies("INBOX", tracked) == [5001, 5002]
            assert await account.find_replies("INBOX", ["<nobody@x>"]) == []
        finally:
            await account.stop()
    # The estimate chose the search (2 IDs in 5003 messages): only the two replies were
    # delivered, not 5003 headers.
    assert sorted(m.uid for m in rec.messages) == [5001, 5002]
    (choice,) = rec.named("scan.first_sync")[:1]
    assert choice["search"] is True
    assert [i["action"] for i in rec.named("scan.folder")][:1] == ["search_replies"]


async def test_a_budget_of_one_polls_and_stop_leaves_no_task(tmp_path: Path) -> None:
    rec = Recorder()
    async with FakeImapServer(config(inbox=5), tls_port=None) as srv:
        account = make_account(settings_for(srv.host, srv.port, USER), PASSWORD, tmp_path, rec,
                               max_connections=1, poll_interval=0.1)
        await account.start()
        try:
            await async_wait_until(lambda: account.state is State.IDLE and account.passes >= 2,
                                   what="polling on the one connection")
            assert account.stats.connection_limit == 1
            assert account.pool.peak == 1 and not rec.named("pool.refused")
        finally:
            await account.stop()
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == []
    assert account.stats.connections_in_use == 0


async def test_a_failing_sink_is_a_typed_transient_error_and_the_batch_is_replayed(
    server: FakeImapServer, tmp_path: Path,
) -> None:
    rec = Recorder()
    failures = []

    def flaky(message: ScannedMessage) -> None:
        if message.uid == 7 and not failures:
            failures.append(message.uid)
            raise RuntimeError("CRM unavailable")
        rec.sink(message)

    account = make_account(settings_for(server.host, server.port, USER), PASSWORD, tmp_path,
                           rec, initial_scan="full", batch=5)
    account._sink = flaky
    await account.start()
    try:
        await async_wait_until(lambda: {m.uid for m in rec.messages if m.folder == "INBOX"}
                               == set(range(1, 31)), what="every INBOX message after a replay")
    finally:
        await account.stop()
    assert account.errors[0].code == "sink_failed" and account.errors[0].transient
    assert account.reconnects == 1
    inbox = [m.uid for m in rec.messages if m.folder == "INBOX"]
    assert inbox.count(6) == 2 and inbox.count(5) == 1  # batch 6..10 replayed, 1..5 not


async def test_a_deleted_sent_folder_is_dropped_not_fatal(server: FakeImapServer,
                                                          tmp_path: Path) -> None:
    rec = Recorder()
    account = make_account(settings_for(server.host, server.port, USER), PASSWORD, tmp_path,
                           rec, poll_interval=0.1)
    await account.start()
    try:
        await async_wait_until(lambda: account.state is State.IDLE, what="watching")
        server.store.accounts[USER].delete("Sent Items")
        await async_wait_until(lambda: rec.of(FolderGone), what="the folder noticed gone")
        await async_wait_until(lambda: account.roles[Role.SENT].folder is None
                               and account.state is State.IDLE, what="roles re-listed")
    finally:
        await account.stop()
    assert rec.of(FolderGone)[0].folder == "Sent Items"
    assert account.reconnects == 0 and not account.errors


async def test_a_fixed_password_restarts_from_auth_error(server: FakeImapServer,
                                                         tmp_path: Path) -> None:
    rec = Recorder()
    account = make_account(settings_for(server.host, server.port, USER), "wrong-password",
                           tmp_path, rec)
    await account.start()
    try:
        await async_wait_until(lambda: account.state is State.AUTH_ERROR, what="auth_error")
        assert account.login_attempts == 1
        account.set_secret(Secret(PASSWORD))
        await account.start()
        await async_wait_until(lambda: account.state is State.IDLE, what="watching after the fix")
    finally:
        await account.stop()
    with pytest.raises(ConfigError):
        account.set_secret(PASSWORD)  # type: ignore[arg-type]


async def test_the_sixth_connection_of_an_account_is_refused(server: FakeImapServer,
                                                             tmp_path: Path) -> None:
    """The account holds 2; the TUI's browser/scan links share the same budget of 5."""
    from inboxlab.engine.connect import ConnectOptions, open_link
    from inboxlab.engine.errors import EngineError

    rec = Recorder()
    settings = settings_for(server.host, server.port, USER)
    account = make_account(settings, PASSWORD, tmp_path, rec)
    await account.start()
    extra = []
    try:
        await async_wait_until(lambda: account.state is State.IDLE, what="watching")
        for n in range(3):
            extra.append(await open_link(settings, account.pool, f"browser {n}",
                                         options=ConnectOptions()))
        assert (account.stats.connections_in_use, account.stats.connection_limit) == (5, 5)
        with pytest.raises(EngineError) as refused:
            await open_link(settings, account.pool, "one too many", options=ConnectOptions())
        assert refused.value.code == "connection_budget"
        assert account.stats.connections_in_use == 5  # the refusal took no slot
        assert len(server.connections) == 5  # and opened no socket
    finally:
        for link in extra:
            await link.close()
        await account.stop()
    assert account.pool.in_use == 0
