"""Every fault action, observed by a real client (stdlib imaplib or a raw socket) over loopback."""

from __future__ import annotations

import asyncio
import imaplib
import socket
import ssl
from collections.abc import Callable
from typing import TypeVar

import pytest
from scenario_helpers import HEADER, PASSWORD, USER, event, scenario_with
from waiting import async_wait_until

from inboxlab.fakeserver.scenario.model import Scenario
from inboxlab.fakeserver.scenario.serve import ScenarioServer

T = TypeVar("T")


def serve(scenario: Scenario) -> ScenarioServer:
    return ScenarioServer(scenario, control_port=None, smtp=False)


async def in_thread(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


def login(srv: ScenarioServer, timeout: float = 10.0) -> imaplib.IMAP4:
    client = imaplib.IMAP4(srv.host, srv.port, timeout=timeout)
    client.login(USER, PASSWORD)
    return client


def raw_exchange(port: int, lines: list[bytes]) -> bytes:
    """Send lines one by one (after the greeting) and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        data = b""
        sock.sendall(b"".join(lines))
        while chunk := sock.recv(65536):
            data += chunk
        return data


# -- transport ----------------------------------------------------------------------------


async def test_reset_mid_fetch_is_a_connection_reset() -> None:
    timeline = event('{ command = "UID FETCH", mailbox = "INBOX", nth = 1 }',
                     '{ type = "reset", after_bytes = 3000 }')
    async with serve(scenario_with(timeline)) as srv:
        def client() -> BaseException | None:
            c = login(srv)
            c.select("INBOX")
            try:
                c.uid("FETCH", "1:*", "(BODY.PEEK[])")
            except BaseException as exc:
                return exc
            return None

        error = await in_thread(client)
        assert isinstance(error, ConnectionResetError)
        assert srv.proxy is not None and srv.proxy.counters["connections"] == 1
        # a reconnection works: the reset was scripted once
        again = await in_thread(lambda: login(srv).select("INBOX"))
        assert again[0] == "OK"


async def test_close_is_an_orderly_eof() -> None:
    timeline = event('{ command = "NOOP", nth = 1 }', '{ type = "close" }')
    async with serve(scenario_with(timeline)) as srv:
        def client() -> BaseException | None:
            c = login(srv)
            try:
                c.noop()
            except BaseException as exc:
                return exc
            return None

        error = await in_thread(client)
        assert isinstance(error, imaplib.IMAP4.abort)
        assert "EOF" in str(error)


async def test_tarpit_is_a_client_timeout() -> None:
    timeline = event("{ connection = 1 }", '{ type = "tarpit" }')
    async with serve(scenario_with(timeline)) as srv:
        with pytest.raises(TimeoutError):
            await in_thread(lambda: imaplib.IMAP4(srv.host, srv.port, timeout=0.5))


async def test_limit_data_cuts_after_exactly_n_bytes() -> None:
    timeline = event("{ connection = 1 }", '{ type = "limit_data", bytes = 11 }')
    async with serve(scenario_with(timeline)) as srv:
        got = await in_thread(lambda: raw_exchange(srv.port, []))
        assert got == b"* OK [CAPAB"


async def test_bytes_trigger_fires_at_the_exact_byte() -> None:
    timeline = event('{ bytes = 7, direction = "to_client" }', '{ type = "close" }')
    async with serve(scenario_with(timeline)) as srv:
        got = await in_thread(lambda: raw_exchange(srv.port, []))
        assert got == b"* OK [C"


class SleepRecorder:
    """Stands in for the proxy's sleep: records the scripted delays, waits for nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


async def test_latency_with_seeded_jitter_delays_every_write() -> None:
    timeline = event("{ connection = 1 }",
                     '{ type = "latency", ms = 100, jitter_ms = 50, seed = 3 }')
    async with serve(scenario_with(timeline)) as srv:
        assert srv.proxy is not None
        recorder = SleepRecorder()
        srv.proxy.sleep = recorder
        typ, _ = await in_thread(lambda: login(srv).select("INBOX"))
        assert typ == "OK"
        assert len(recorder.delays) >= 3  # greeting, LOGIN, SELECT answers at least
        assert all(0.100 <= d <= 0.150 for d in recorder.delays)
        first_run = list(recorder.delays)

    async with serve(scenario_with(timeline)) as srv:  # same seed: same delays
        assert srv.proxy is not None
        recorder = SleepRecorder()
        srv.proxy.sleep = recorder
        await in_thread(lambda: login(srv).select("INBOX"))
        assert recorder.delays == first_run


async def test_bandwidth_paces_the_bytes() -> None:
    timeline = event("{ connection = 1 }", '{ type = "bandwidth", bytes_per_s = 2000 }')
    async with serve(scenario_with(timeline)) as srv:
        assert srv.proxy is not None
        recorder = SleepRecorder()
        srv.proxy.sleep = recorder
        await in_thread(lambda: login(srv).select("INBOX"))
        paced = [d for d in recorder.delays if d > 0]
        # 2000 B/s in pieces of 100 bytes: each wait is one piece's worth, at most 50 ms
        assert len(paced) >= 5
        assert max(paced) <= 100 / 2000 + 1e-9


async def test_slicer_splits_writes_but_keeps_the_bytes() -> None:
    timeline = event("{ connection = 1 }", '{ type = "slicer", size = 5 }')
    async with serve(scenario_with(timeline)) as srv:
        assert srv.proxy is not None
        recorder = SleepRecorder()
        srv.proxy.sleep = recorder
        c = await in_thread(lambda: login(srv))
        await in_thread(lambda: c.select("INBOX"))
        typ, data = await in_thread(lambda: c.uid("FETCH", "1:3", "(UID)"))
        assert typ == "OK" and [d.split()[-1] for d in data] == [b"1)", b"2)", b"3)"]
        assert len(recorder.delays) > 20  # many 5-byte pieces, each its own write


async def test_tls_handshake_failure_on_implicit_tls() -> None:
    timeline = event("{ connection = 1 }", '{ type = "tls_fail", count = 1 }')
    async with serve(scenario_with(timeline)) as srv:
        ctx = ssl.create_default_context(cafile=str(srv.ca_pem_path))
        # connection 1 (plain) arms it; the next TLS handshake is refused
        await in_thread(lambda: login(srv).logout())
        with pytest.raises(ssl.SSLError, match=r"HANDSHAKE_FAILURE|handshake failure"):
            await in_thread(lambda: imaplib.IMAP4_SSL(srv.host, srv.tls_port,
                                                      ssl_context=ctx, timeout=10))
        ok = await in_thread(lambda: imaplib.IMAP4_SSL(srv.host, srv.tls_port, ssl_context=ctx,
                                                       timeout=10).login(USER, PASSWORD))
        assert ok[0] == "OK"


async def test_tls_handshake_failure_after_starttls() -> None:
    timeline = event('{ command = "CAPABILITY", nth = 1 }', '{ type = "tls_fail" }')
    async with serve(scenario_with(timeline)) as srv:
        ctx = ssl.create_default_context(cafile=str(srv.ca_pem_path))

        def client() -> None:
            c = imaplib.IMAP4(srv.host, srv.port, timeout=10)
            c.starttls(ssl_context=ctx)

        with pytest.raises(ssl.SSLError):
            await in_thread(client)


async def test_server_down_refuses_connections_then_comes_back() -> None:
    timeline = event("{ connection = 2 }", '{ type = "down", seconds = 30 }')
    async with serve(scenario_with(timeline)) as srv:
        assert srv.proxy is not None
        proxy = srv.proxy
        back_up = asyncio.Event()
        downtime: list[float] = []

        async def gated_sleep(delay: float) -> None:  # the downtime ends when the test says
            downtime.append(delay)
            await back_up.wait()

        proxy.sleep = gated_sleep
        first = await in_thread(lambda: login(srv))
        second_error: list[BaseException] = []

        def second() -> None:
            try:
                login(srv)
            except (OSError, imaplib.IMAP4.abort) as exc:
                second_error.append(exc)

        await in_thread(second)
        assert second_error, "the connection that took the server down must be dropped"
        assert downtime == [30.0]
        with pytest.raises(ConnectionRefusedError):
            await in_thread(lambda: socket.create_connection((srv.host, srv.port), timeout=5))
        with pytest.raises((OSError, imaplib.IMAP4.abort)):  # the live session was dropped
            await in_thread(first.noop)
        back_up.set()
        await async_wait_until(lambda: not proxy.is_down, timeout=10, what="server back up")
        assert (await in_thread(lambda: login(srv).noop()))[0] == "OK"


# -- protocol -----------------------------------------------------------------------------


async def test_bye_code_and_text_are_verbatim() -> None:
    timeline = event('{ command = "SELECT", nth = 1, times = 0 }',
                     '{ type = "bye", code = "UNAVAILABLE", '
                     'text = "Back in 10 minutes (maint-7)" }')
    async with serve(scenario_with(timeline)) as srv:
        def client() -> BaseException | None:
            c = login(srv)
            try:
                c.select("INBOX")
            except BaseException as exc:
                return exc
            return None

        error = await in_thread(client)
        assert isinstance(error, imaplib.IMAP4.abort)
        assert str(error).endswith(" => [UNAVAILABLE] Back in 10 minutes (maint-7)")
        raw = await in_thread(lambda: raw_exchange(srv.port, [
            f"a1 LOGIN {USER} {PASSWORD}\r\n".encode(), b"a2 SELECT INBOX\r\n"]))
        assert raw.endswith(b"\r\n* BYE [UNAVAILABLE] Back in 10 minutes (maint-7)\r\n")


CODES = ["AUTHENTICATIONFAILED", "UNAVAILABLE", "EXPIRED", "PRIVACYREQUIRED", "CONTACTADMIN",
         "LIMIT", "OVERQUOTA", "INUSE", "SERVERBUG", "ALERT"]


@pytest.mark.parametrize("code", CODES)
async def test_no_with_each_rfc5530_code(code: str) -> None:
    timeline = event('{ command = "NOOP", nth = 1 }',
                     f'{{ type = "no", code = "{code}", text = "scripted {code.lower()}" }}')
    async with serve(scenario_with(timeline)) as srv:
        c = await in_thread(lambda: login(srv))
        typ, data = await in_thread(c.noop)
        assert (typ, data) == ("NO", [f"[{code}] scripted {code.lower()}".encode()])
        assert (await in_thread(c.noop))[0] == "OK"  # only the first NOOP


async def test_bad_is_a_client_error() -> None:
    timeline = event('{ command = "NOOP", nth = 1 }',
                     '{ type = "bad", code = "CLIENTBUG", text = "Bad spelling" }')
    async with serve(scenario_with(timeline)) as srv:
        c = await in_thread(lambda: login(srv))
        with pytest.raises(imaplib.IMAP4.error, match=r"\[CLIENTBUG\] Bad spelling"):
            await in_thread(c.noop)


async def test_password_change_fails_the_next_login_not_the_current_session() -> None:
    timeline = event('{ command = "SELECT", nth = 1 }', '{ type = "password_changed" }')
    async with serve(scenario_with(timeline)) as srv:
        current = await in_thread(lambda: login(srv))
        assert (await in_thread(lambda: current.select("INBOX")))[0] == "OK"
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            await in_thread(lambda: login(srv))
        typ, data = await in_thread(lambda: current.uid("FETCH", "1", "(FLAGS)"))
        assert typ == "OK" and data[0] is not None


async def test_too_many_connections_refuses_the_login_over_the_limit() -> None:
    header = HEADER.replace('profile = "dovecot"', 'profile = "gmail"\nmax_connections = 2')
    async with serve(scenario_with(header=header)) as srv:
        sessions = [await in_thread(lambda: login(srv)) for _ in range(2)]
        with pytest.raises(imaplib.IMAP4.error) as info:
            await in_thread(lambda: login(srv))
        assert info.value.args[0] == b"[ALERT] Too many simultaneous connections. (Failure)"
        await in_thread(sessions[0].logout)
        imap = srv.imap
        assert imap is not None
        await async_wait_until(lambda: imap.registry.count(USER) == 1,
                               what="the first session gone")
        assert (await in_thread(lambda: login(srv).noop()))[0] == "OK"


async def test_too_many_connections_action_lowers_the_limit() -> None:
    timeline = event('{ command = "NOOP", nth = 1 }',
                     '{ type = "too_many_connections", limit = 1 }')
    async with serve(scenario_with(timeline)) as srv:
        first = await in_thread(lambda: login(srv))
        await in_thread(first.noop)
        with pytest.raises(imaplib.IMAP4.error, match="Maximum number of connections"):
            await in_thread(lambda: login(srv))


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("gmail", b"[THROTTLED] Account exceeded command or bandwidth limits. (Failure)"),
        ("office365", b"Request is throttled. Suggested Backoff Time: 1234 milliseconds"),
    ],
)
async def test_throttling_texts(style: str, expected: bytes) -> None:
    timeline = event('{ command = "UID FETCH", nth = 1 }',
                     f'{{ type = "throttle", style = "{style}", backoff_ms = 1234 }}')
    async with serve(scenario_with(timeline)) as srv:
        c = await in_thread(lambda: login(srv))
        await in_thread(lambda: c.select("INBOX"))
        assert await in_thread(lambda: c.uid("FETCH", "1", "(FLAGS)")) == ("NO", [expected])


async def test_uidvalidity_reset_is_seen_at_the_next_select() -> None:
    timeline = event('{ command = "SELECT", mailbox = "INBOX", nth = 2 }',
                     '{ type = "uidvalidity_reset", folder = "INBOX" }')
    async with serve(scenario_with(timeline)) as srv:
        def client() -> tuple[bytes, bytes]:
            c = login(srv)
            c.select("INBOX")
            first = c.response("UIDVALIDITY")[1][0]
            c.close()
            c.select("INBOX")
            return first, c.response("UIDVALIDITY")[1][0]

        before, after = await in_thread(client)
        assert before != after and int(after) > 0


async def test_folder_renamed_and_deleted_by_another_client() -> None:
    header = HEADER + '\n[[accounts.folders]]\nname = "Projects"\n'
    timeline = (event('{ command = "LIST", nth = 1 }',
                      '{ type = "rename_folder", folder = "Projects", to = "Clients" }', "r")
                + event('{ command = "LIST", nth = 2 }',
                        '{ type = "delete_folder", folder = "Trash" }', "d"))
    async with serve(scenario_with(timeline, header=header)) as srv:
        c = await in_thread(lambda: login(srv))
        names1 = b" ".join((await in_thread(c.list))[1])
        assert b'"Clients"' in names1 and b'"Projects"' not in names1
        names2 = b" ".join((await in_thread(c.list))[1])
        assert b'"Trash"' not in names2


async def test_expunge_flags_and_delivery_by_another_client() -> None:
    timeline = (event('{ command = "NOOP", nth = 1 }',
                      '{ type = "expunge", folder = "INBOX", count = 2 }', "x")
                + event('{ command = "NOOP", nth = 2 }',
                        '{ type = "flags", folder = "INBOX", add = ["\\\\Flagged"] }', "f")
                + event('{ command = "NOOP", nth = 3 }',
                        '{ type = "deliver", folder = "INBOX", count = 3 }', "n"))
    async with serve(scenario_with(timeline)) as srv:
        c = await in_thread(lambda: login(srv))
        await in_thread(lambda: c.select("INBOX"))
        await in_thread(c.noop)
        assert c.response("EXPUNGE")[1] == [b"1", b"1"]
        await in_thread(c.noop)
        fetched = c.response("FETCH")[1]
        assert fetched and b"\\Flagged" in fetched[-1] and b"UID 40" in fetched[-1]
        await in_thread(c.noop)
        assert c.response("EXISTS")[1][-1] == b"41"  # 40 - 2 + 3


async def test_malformed_response_reaches_the_client_verbatim() -> None:
    timeline = event('{ command = "UID FETCH", nth = 1 }',
                     '{ type = "malformed", line = "* 1 FETCH (UID 1 FLAGS (\\\\Seen" }')
    async with serve(scenario_with(timeline)) as srv:
        c = await in_thread(lambda: login(srv))
        await in_thread(lambda: c.select("INBOX"))
        typ, data = await in_thread(lambda: c.uid("FETCH", "1", "(FLAGS)"))
        assert typ == "OK" and data == [b"1 (UID 1 FLAGS (\\Seen"]


async def test_response_cut_in_the_middle_of_a_literal() -> None:
    timeline = event('{ command = "UID FETCH", nth = 1 }', '{ type = "cut_mid_literal" }')
    async with serve(scenario_with(timeline)) as srv:
        got = await in_thread(lambda: raw_exchange(srv.port, [
            f"a1 LOGIN {USER} {PASSWORD}\r\n".encode(), b"a2 SELECT INBOX\r\n",
            b"a3 UID FETCH 1 BODY.PEEK[]\r\n"]))
        head, _, literal = got.rpartition(b"* 1 FETCH (UID 1 BODY[] {")
        announced, _, body = literal.partition(b"}\r\n")
        assert head and 0 < len(body) < int(announced)
        assert b"a3 " not in got  # no tagged completion: the connection ended first


# -- triggers seen end to end ---------------------------------------------------------------


async def test_nth_login_attempt_gets_the_scripted_refusal() -> None:
    timeline = event("{ login = 2 }", '{ type = "no", code = "UNAVAILABLE", text = "Try later" }')
    async with serve(scenario_with(timeline)) as srv:
        assert (await in_thread(lambda: login(srv).noop()))[0] == "OK"
        with pytest.raises(imaplib.IMAP4.error) as info:
            await in_thread(lambda: login(srv))
        assert info.value.args[0] == b"[UNAVAILABLE] Try later"
        assert (await in_thread(lambda: login(srv).noop()))[0] == "OK"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_time_trigger_fires_on_the_injected_clock() -> None:
    clock = FakeClock()
    timeline = event("{ at = 60 }", '{ type = "deliver", count = 1 }')
    scenario = scenario_with(timeline)
    async with ScenarioServer(scenario, control_port=None, smtp=False, clock=clock) as srv:
        c = await in_thread(lambda: login(srv))
        await in_thread(lambda: c.select("INBOX"))
        assert c.response("EXISTS")[1] == [b"40"]  # consumes SELECT's EXISTS
        clock.now += 59.0
        srv.runtime.tick()
        await in_thread(c.noop)
        assert c.response("EXISTS")[1] == [None]
        clock.now += 1.0
        assert srv.runtime.tick() is None  # fired; nothing else pending
        await in_thread(c.noop)
        assert c.response("EXISTS")[1] == [b"41"]


async def test_reset_towards_the_server_gives_the_client_an_eof() -> None:
    timeline = event('{ command = "NOOP", nth = 1 }', '{ type = "reset", direction = "to_server" }')
    async with serve(scenario_with(timeline)) as srv:
        c = await in_thread(lambda: login(srv))
        with pytest.raises(imaplib.IMAP4.abort, match="EOF"):
            await in_thread(c.noop)


async def test_a_scenario_that_cannot_start_leaves_nothing_running() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        srv = ScenarioServer(scenario_with(), port=taken, smtp=False)
        with pytest.raises(OSError):
            await srv.start()
        assert srv.imap is not None
        with pytest.raises(OSError):  # the IMAP server behind the proxy was stopped too
            await in_thread(lambda: socket.create_connection(
                ("127.0.0.1", srv.imap.port), timeout=5) if srv.imap else None)


async def test_exchange_select_slows_with_folder_size() -> None:
    header = HEADER.replace('profile = "dovecot"', 'profile = "exchange"').replace(
        "count = 40", "count = 5000")
    async with serve(scenario_with(header=header)) as srv:
        assert srv.proxy is not None
        recorder = SleepRecorder()
        srv.proxy.sleep = recorder
        c = await in_thread(lambda: login(srv))
        recorder.delays.clear()
        assert (await in_thread(lambda: c.select("INBOX")))[0] == "OK"
        # 2 ms per command plus 40 ms per 1000 messages (exchange.toml)
        assert recorder.delays == [pytest.approx(0.202)]
        recorder.delays.clear()
        await in_thread(c.noop)
        assert recorder.delays == [pytest.approx(0.002)]
