"""Supervision against served scenarios: what fails, what is retried, what stops for good.

Faults come from the scenario machinery (the fault proxy and the server's hooks), and
the server's own counters say how often the engine logged in: a retry storm would show.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from account_helpers import Recorder, make_account, settings_for
from scenario_text import PASSWORD, USER, header
from waiting import async_wait_until

from inboxlab.engine.account import Account
from inboxlab.engine.states import State
from inboxlab.engine.supervise import DisconnectNotice, RetryScheduled
from inboxlab.fakeserver.scenario.load import loads
from inboxlab.fakeserver.scenario.model import Down, PasswordChanged, Reset, UidValidityReset
from inboxlab.fakeserver.scenario.serve import ScenarioServer


def scenario(inbox: int, timeline: str = "") -> str:
    return header(name="t", seed=3, count=inbox) + timeline + "\n"


@contextlib.asynccontextmanager
async def served(text: str) -> AsyncIterator[ScenarioServer]:
    async with ScenarioServer(loads(text), control_port=None, smtp=False) as srv:
        yield srv


async def running(srv: ScenarioServer, tmp_path: Path, rec: Recorder, **options: object
                  ) -> Account:
    account = make_account(settings_for(srv.host, srv.port, USER), PASSWORD, tmp_path, rec,
                           **options)
    await account.start()
    return account


async def test_password_change_is_permanent_without_a_retry_storm(tmp_path: Path) -> None:
    rec = Recorder()
    async with served(scenario(20)) as srv:
        account = await running(srv, tmp_path, rec)
        try:
            await async_wait_until(lambda: account.state is State.IDLE, what="watching")
            logins_before = srv.runtime.counters["logins"]
            assert logins_before == 2  # scanner + watcher
            srv.runtime.fire(PasswordChanged(user=USER))
            srv.runtime.fire(Reset())  # the network blips: the engine must log in again
            await async_wait_until(lambda: account.state is State.AUTH_ERROR, timeout=10,
                                   what="auth_error")
            await async_wait_until(lambda: not account.running, what="the runner gives up")
            # Exactly one more LOGIN: refused, and never retried.
            assert srv.runtime.counters["logins"] == logins_before + 1
            assert srv.runtime.counters["login_refused.password_changed"] == 1
        finally:
            await account.stop()
    (notice,) = rec.of(DisconnectNotice)
    assert notice.permanent and notice.stage == "imap_login"
    assert notice.code in {"auth_failed", "authenticationfailed"}
    assert "Invalid credentials" in (notice.server_text or "")
    assert notice.remediation
    # One retry, for the network blip; none after the refusal.
    assert [r.code for r in rec.of(RetryScheduled)] == ["connection_reset"]


async def test_reset_mid_scan_resumes_refetching_at_most_one_batch(tmp_path: Path) -> None:
    timeline = """
[[timeline]]
name = "reset in the second batch"
trigger = { command = "UID FETCH", mailbox = "INBOX", nth = 2 }
action = { type = "reset", direction = "to_client", after_bytes = 8000 }
"""
    rec = Recorder()
    async with served(scenario(1000, timeline)) as srv:
        account = await running(srv, tmp_path, rec, initial_scan="full", batch=200)
        try:
            await async_wait_until(
                lambda: account.state is State.IDLE and len({m.uid for m in rec.messages})
                == 1000, timeout=20, what="the full scan, resumed")
        finally:
            await account.stop()
    assert account.reconnects >= 1
    fetched = [m.uid for m in rec.messages]
    assert sorted(set(fetched)) == list(range(1, 1001))
    # Batch 1 was checkpointed; only (part of) batch 2 is read twice.
    assert len(fetched) - 1000 <= 200
    assert max(fetched.count(u) for u in fetched) == 2


async def test_server_down_is_retried_and_a_young_session_counts_a_strike(
    tmp_path: Path,
) -> None:
    rec = Recorder()
    async with served(scenario(5)) as srv:
        account = await running(srv, tmp_path, rec)
        try:
            await async_wait_until(lambda: account.state is State.IDLE, what="watching")
            srv.runtime.fire(Down(seconds=0.5))
            await async_wait_until(lambda: account.reconnects >= 1, timeout=10,
                                   what="a reconnect")
            await async_wait_until(lambda: account.state is State.IDLE, timeout=10,
                                   what="watching again")
        finally:
            await account.stop()
    assert rec.of(RetryScheduled)
    # The session died well within ``short_session`` of its login: a strike, so the
    # next failure would wait longer than a plain transient one.
    assert account.backoff.strikes >= 1


async def test_uidvalidity_reset_drops_the_folder_and_rescans(tmp_path: Path) -> None:
    rec = Recorder()
    async with served(scenario(40)) as srv:
        account = await running(srv, tmp_path, rec, initial_scan="full", poll_interval=0.1)
        try:
            await async_wait_until(lambda: account.delivered == 40, what="first sync")
            old = await account.store.get(USER, "INBOX")
            assert old is not None
            srv.runtime.fire(UidValidityReset(folder="INBOX"))

            async def rescanned() -> bool:
                cp = await account.store.get(USER, "INBOX")
                return cp is not None and cp.uidvalidity != old.uidvalidity \
                    and account.delivered == 80

            await async_wait_until(rescanned, timeout=10, what="rescan under new UIDVALIDITY")
        finally:
            await account.stop()
    validities = {m.uidvalidity for m in rec.messages}
    assert len(validities) == 2


GreetingServer = Callable[[bytes], Awaitable[int]]


@pytest.fixture
async def greeting_server() -> AsyncIterator[GreetingServer]:
    servers: list[asyncio.Server] = []

    async def start(first_line: bytes) -> int:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(first_line)
            await writer.drain()
            with contextlib.suppress(ConnectionError):
                await reader.read()  # keep the socket open until the client gives up
            writer.close()

        srv = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(srv)
        return int(srv.sockets[0].getsockname()[1])

    yield start
    for srv in servers:
        srv.close()
        await srv.wait_closed()


@pytest.mark.parametrize(("line", "code"), [
    (b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n", "pop3_unsupported"),
    (b"* OK [CAPABILITY IMAP4rev1] Courier-IMAP ready. Copyright 1998-2018\r\n",
     "courier_unsupported"),
    (b"220 mx.example.com ESMTP Postfix\r\n", "smtp_on_imap_port"),
])
async def test_unusable_servers_are_refused_at_the_greeting(
    greeting_server: GreetingServer, tmp_path: Path, line: bytes, code: str,
) -> None:
    port = await greeting_server(line)
    rec = Recorder()
    # A 30 s connect timeout: the refusal must come from the greeting, not from a timeout.
    account = make_account(settings_for("127.0.0.1", port, USER), PASSWORD, tmp_path, rec,
                           connect_timeout=30.0)
    await account.start()
    try:
        await async_wait_until(lambda: account.state is State.CONNECT_ERROR, timeout=5,
                               what="connect_error")
    finally:
        await account.stop()
    (notice,) = rec.of(DisconnectNotice)
    assert notice.code == code and notice.permanent
    assert notice.stage == "imap_greeting" and notice.remediation
    assert account.login_attempts == 0


async def test_imap_disabled_is_a_permanent_connect_error_not_a_bad_password(
    tmp_path: Path,
) -> None:
    said = ("Your account is not enabled for IMAP use. Please visit your Gmail settings page "
            "and enable your account for IMAP access. (Failure)")
    timeline = f"""
[[timeline]]
name = "IMAP turned off in the settings"
trigger = {{ login = 1, times = 0 }}
action = {{ type = "no", code = "ALERT", text = "{said}" }}
"""
    rec = Recorder()
    async with served(scenario(3, timeline)) as srv:
        account = await running(srv, tmp_path, rec)
        try:
            await async_wait_until(lambda: not account.running, what="the runner gives up")
        finally:
            await account.stop()
        assert srv.runtime.counters["logins"] == 1
    assert State.CONNECT_ERROR in account.reached and State.AUTH_ERROR not in account.reached
    (notice,) = rec.of(DisconnectNotice)
    assert (notice.code, notice.permanent, notice.stage) == ("imap_disabled", True,
                                                             "imap_login")
    assert notice.server_text == said and "IMAP" in (notice.remediation or "")


async def test_backoff_is_the_seeded_jittered_sequence(tmp_path: Path) -> None:
    """Nothing listens: every attempt is refused, each retry waits the next delay of a
    Backoff seeded like the account's (rng=Random(7)); the injected sleep records them."""
    import random
    import socket

    from account_helpers import FAST_BACKOFF

    from inboxlab.engine.backoff import Backoff
    from inboxlab.engine.errors import ConnectError

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: refused
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        await asyncio.sleep(0)

    rec = Recorder()
    account = make_account(settings_for("127.0.0.1", port, USER), PASSWORD, tmp_path, rec,
                           sleep=sleep)
    await account.start()
    try:
        await async_wait_until(lambda: len(delays) >= 6, what="six retries")
    finally:
        await account.stop()
    twin = Backoff(random.Random(7), FAST_BACKOFF)
    refused = ConnectError("refused")
    assert delays[:6] == [twin.next_delay(refused, 0.0) for _ in range(6)]
    assert [r.delay for r in rec.of(RetryScheduled)][:6] == delays[:6]
    assert delays[5] > delays[0]  # growing, up to the cap
    assert {e.code for e in account.errors} == {"connect_refused"}
    assert account.login_attempts == 0 and account.state is State.STOPPED


async def test_retry_now_cuts_the_backoff_wait_short(tmp_path: Path) -> None:
    """The server is back but the backoff wait has long to go (here: forever): a person's
    "reconnect now" wakes the supervisor, which reconnects at once."""
    forever = asyncio.Event()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await forever.wait()  # never set: only retry_now ends this wait

    rec = Recorder()
    async with served(scenario(5)) as srv:
        account = await running(srv, tmp_path, rec, sleep=sleep)
        try:
            await async_wait_until(lambda: account.state is State.IDLE, what="watching")
            assert account.retry_now() is False  # connected: nothing to cut short
            srv.runtime.fire(Down(seconds=0.3))
            await async_wait_until(lambda: account.waiting_to_retry, timeout=10,
                                   what="the backoff wait")
            assert account.state is State.DISCONNECTED
            proxy = srv.proxy
            assert proxy is not None
            await async_wait_until(lambda: not proxy.is_down, timeout=10, what="the server back")
            assert account.retry_now() is True
            await async_wait_until(lambda: account.state is State.IDLE, timeout=10,
                                   what="watching again without waiting out the backoff")
        finally:
            await account.stop()
    assert account.reconnects >= 1 and slept
    assert any(name == "account.retry_now" for name, _ in rec.traces)
