"""The client against scripted servers over loopback: the failures Dovecot won't produce
on demand (BYE greetings, resets mid-FETCH, silence, STARTTLS injection, odd answers)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from memory_writer import MemoryWriter
from waiting import async_wait_until

from inboxlab.engine.errors import (
    ConfigError,
    ConnectError,
    Disconnected,
    ProtocolViolation,
    ServerRefused,
    Throttled,
    TimedOut,
)
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.commands import Atom
from inboxlab.engine.imap.model import Bye, Event, Exists, Fetch
from inboxlab.engine.imap.protocol import ResponseParser
from inboxlab.engine.imap.results import Credentials

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
CAPS = b"IMAP4rev1 IDLE"


async def command(reader: asyncio.StreamReader) -> tuple[str, str]:
    """(tag, rest) of the next command line."""
    line = (await reader.readline()).decode()
    if not line:
        raise ConnectionError("client went away")
    tag, _, rest = line.rstrip("\r\n").partition(" ")
    return tag, rest


async def send(writer: asyncio.StreamWriter, *lines: bytes) -> None:
    writer.write(b"".join(lines))
    await writer.drain()


async def preauth_selected(r: asyncio.StreamReader, w: asyncio.StreamWriter,
                           caps: bytes = b"IMAP4rev1") -> None:
    """Greet as already logged in (PREAUTH) and answer one SELECT: the state message
    commands need, without a LOGIN exchange in every script."""
    await send(w, b"* PREAUTH [CAPABILITY " + caps + b"] ready\r\n")
    tag, rest = await command(r)
    assert rest.startswith("SELECT"), rest
    await send(w, b"* 0 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n",
               tag.encode() + b" OK [READ-WRITE] selected\r\n")


async def connect_selected(client: ImapClient) -> None:
    await client.connect()
    await client.select("INBOX")


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Script], Awaitable[ImapClient]]]:
    servers: list[asyncio.Server] = []
    clients: list[ImapClient] = []

    async def start(script: Script, **kw: object) -> ImapClient:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await script(reader, writer)
            except ConnectionError:
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        client = ImapClient("127.0.0.1", port, security="plain", timeout=5,
                            connect_timeout=5, **kw)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_bye_greeting_is_a_refusal(serve: Callable[..., Awaitable[ImapClient]]) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await send(w, b"* BYE [UNAVAILABLE] Too many connections\r\n")

    client = await serve(script)
    with pytest.raises(ServerRefused) as err:
        await client.connect()
    assert err.value.code == "greeting_bye"
    assert err.value.server_text == "Too many connections"


async def test_reset_mid_fetch_is_disconnected_after_the_messages_so_far(
    serve: Callable[..., Awaitable[ImapClient]],
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await preauth_selected(r, w)
        _tag, rest = await command(r)
        assert rest.startswith("UID FETCH 1:* (UID FLAGS)")
        await send(w, *(b"* %d FETCH (UID %d FLAGS ())\r\n" % (n, n) for n in range(1, 6)),
                   b"* 6 FETCH (UID 6 BODY[] {100}\r\npartial")

    client = await serve(script)
    await connect_selected(client)
    seen: list[int | None] = []
    with pytest.raises(Disconnected) as err:
        async for msg in client.uid_fetch("1:*", "(UID FLAGS)"):
            seen.append(msg.uid)
    assert seen == [1, 2, 3, 4, 5]
    assert err.value.stage == "imap_fetch" and err.value.code == "eof"
    assert not err.value.permanent


async def test_silence_is_timed_out(serve: Callable[..., Awaitable[ImapClient]]) -> None:
    got_noop = asyncio.Event()

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await send(w, b"* OK ready\r\n")
        await command(r)
        got_noop.set()
        await r.read()  # never answer

    client = await serve(script)
    await client.connect()
    client.timeout = 0.3
    with pytest.raises(TimedOut) as err:
        await client.noop()
    assert got_noop.is_set()
    assert err.value.stage == "imap_noop" and not err.value.permanent
    with pytest.raises(TimedOut):  # the connection was dropped: later calls fail fast
        await client.noop()


async def test_starttls_injection_is_refused(serve: Callable[..., Awaitable[ImapClient]]) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await send(w, b"* OK ready\r\n")
        tag, _ = await command(r)
        await send(w, b"* CAPABILITY IMAP4rev1 STARTTLS\r\n", tag.encode() + b" OK done\r\n")
        tag, rest = await command(r)
        assert rest == "STARTTLS"
        await send(w, tag.encode() + b" OK Begin TLS\r\n* OK [CAPABILITY IMAP4rev1] injected\r\n")
        await r.read()

    c = await serve(script)
    c.security = "starttls"
    with pytest.raises(ProtocolViolation) as err:
        await c.connect()
    assert err.value.code == "starttls_injection"


async def test_logindisabled_is_honoured(serve: Callable[..., Awaitable[ImapClient]]) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await send(w, b"* OK [CAPABILITY IMAP4rev1 LOGINDISABLED STARTTLS] ready\r\n")
        await r.read()

    client = await serve(script)
    await client.connect()
    with pytest.raises(ConfigError) as err:
        await client.login(Credentials("u", "p"))
    assert err.value.code == "login_disabled"


async def test_throttled_by_words_alone(serve: Callable[..., Awaitable[ImapClient]]) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await preauth_selected(r, w)
        tag, _ = await command(r)
        await send(w, tag.encode() + b" NO Request is throttled. Try again later.\r\n")
        tag, _ = await command(r)
        await send(w, tag.encode() + b" OK still here\r\n")

    client = await serve(script)
    await connect_selected(client)
    with pytest.raises(Throttled) as err:
        await client.uid_search(Atom("ALL"))
    assert not err.value.permanent
    assert err.value.server_text == "Request is throttled. Try again later."
    assert await client.noop() == []  # a refusal leaves the session usable


async def test_unsolicited_events_and_bye_reach_listeners(
    serve: Callable[..., Awaitable[ImapClient]],
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await preauth_selected(r, w)
        tag, _ = await command(r)
        await send(w, b"* 5 EXISTS\r\n", tag.encode() + b" OK NOOP done\r\n")
        await send(w, b"* BYE Server shutting down\r\n")

    heard: list[Event | Exception] = []
    client = await serve(script, on_untagged=heard.append)
    await connect_selected(client)
    assert Exists(5) in await client.noop()
    with pytest.raises(Disconnected) as err:
        await client.uid_search()
    assert err.value.code == "server_bye"
    assert err.value.server_text == "Server shutting down"
    assert Exists(5) in heard and Bye(None, (), "Server shutting down") in heard
    assert isinstance(heard[-1], Disconnected)


async def test_synchronizing_literal_waits_for_the_go_ahead(
    serve: Callable[..., Awaitable[ImapClient]],
) -> None:
    message = b"Subject: hi\r\n\r\nbody\r\n"

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await send(w, b"* PREAUTH ready\r\n")
        tag, rest = await command(r)
        assert rest.endswith(f"{{{len(message)}}}")
        await send(w, b"+ go ahead\r\n")
        body = await r.readexactly(len(message) + 2)
        assert body == message + b"\r\n"
        await send(w, tag.encode() + b" OK [APPENDUID 7 42] done\r\n")
        tag, rest = await command(r)
        await send(w, tag.encode() + b" NO [OVERQUOTA] Quota exceeded\r\n")  # no '+' this time
        tag, rest = await command(r)
        assert rest == "NOOP"  # the refused literal was never sent
        await send(w, tag.encode() + b" OK\r\n")

    client = await serve(script)
    await client.connect()
    result = await client.append("INBOX", message)
    assert (result.uidvalidity, result.uid) == (7, 42)
    with pytest.raises(ServerRefused) as err:
        await client.append("INBOX", message)
    assert err.value.code == "overquota" and not err.value.permanent
    await client.noop()


async def test_pipelined_commands_complete_by_tag(
    serve: Callable[..., Awaitable[ImapClient]],
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await preauth_selected(r, w)
        first, _ = await command(r)
        second, _ = await command(r)
        await send(w, b"* SEARCH 9\r\n", second.encode() + b" OK\r\n",
                   b"* SEARCH 1 2\r\n", first.encode() + b" OK\r\n")

    client = await serve(script)
    await connect_selected(client)
    a, b = await asyncio.gather(client.uid_search(Atom("ALL")), client.uid_search(Atom("ALL")))
    # Untagged data carries no tag: it is credited to the oldest command in flight, which
    # is why the engine does not pipeline commands whose untagged answers look alike.
    assert (a, b) == ([9, 1, 2], [])


async def test_garbage_response_fails_only_its_command(
    serve: Callable[..., Awaitable[ImapClient]],
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await send(w, b"* OK ready\r\n")
        tag, _ = await command(r)
        await send(w, b"* 3 FETCH (UID x)\r\n", tag.encode() + b" OK\r\n")
        tag, _ = await command(r)
        await send(w, tag.encode() + b" OK\r\n")

    client = await serve(script)
    await client.connect()
    with pytest.raises(ProtocolViolation) as err:
        await client.noop()
    assert err.value.data and b"UID x" in err.value.data
    assert err.value.stage == "imap_noop"
    assert await client.noop() == []


async def test_authenticate_plain_without_sasl_ir_answers_the_challenge(
    serve: Callable[..., Awaitable[ImapClient]],
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await send(w, b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
        tag, rest = await command(r)
        assert rest == "AUTHENTICATE PLAIN"
        await send(w, b"+ \r\n")
        answer = (await r.readline()).strip()
        ok = base64.b64decode(answer) == b"\0me@example.com\0p\xc3\xa4ss"
        await send(w, tag.encode() + (b" OK [CAPABILITY IMAP4rev1] in\r\n" if ok
                                      else b" NO [AUTHENTICATIONFAILED] bad\r\n"))

    lines: list[str] = []
    client = await serve(script, trace=lambda name, **info: lines.append(str(info)))
    await client.connect()
    await client.authenticate_plain(Credentials("me@example.com", "p\u00e4ss"))
    assert client.authenticated and client.caps == frozenset({"IMAP4REV1"})
    secret = base64.b64encode(b"\0me@example.com\0p\xc3\xa4ss").decode()
    assert not any(secret in line or "p\u00e4ss" in line for line in lines)


async def test_silent_greeting_times_out(serve: Callable[..., Awaitable[ImapClient]]) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read()

    client = await serve(script)
    client.connect_timeout = 0.3
    with pytest.raises(TimedOut) as err:
        await client.connect()
    assert err.value.stage == "imap_greeting"


async def test_refused_port_is_a_connect_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    client = ImapClient("127.0.0.1", port, security="plain", connect_timeout=5)
    with pytest.raises(ConnectError) as err:
        await client.connect()
    assert err.value.code == "connect_refused" and not err.value.permanent
    assert err.value.stage == "imap_connect"


async def test_idle_reports_news_then_a_dropped_connection(
    serve: Callable[..., Awaitable[ImapClient]],
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await send(w, b"* PREAUTH [CAPABILITY IMAP4rev1 IDLE] ready\r\n")
        _tag, rest = await command(r)
        assert rest == "IDLE"
        await send(w, b"+ idling\r\n")
        await send(w, b"* 4 EXISTS\r\n")
        w.close()  # news and the end may arrive in one read: news must not be lost

    client = await serve(script)
    await client.connect()
    idle = await client.idle()
    assert await idle.wait(5) == [Exists(4)]
    with pytest.raises(Disconnected) as err:
        for _ in range(50):
            await idle.wait(1)
    assert err.value.code == "eof"
    with pytest.raises(Disconnected):
        await idle.wait(1)


async def test_tracing_keeps_the_fetch_fast_path_and_summarizes_its_runs(
    serve: Callable[..., Awaitable[ImapClient]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A tracer used to turn the batch fast path off (one trace line per FETCH, 3-4x the
    scan's time). Now the fast path stays on: all but the first response of the shape come
    through ``fetch_run``, and the trace gets one line for that first response plus
    ``imap.fetch.run`` summaries that account for every other one."""
    n = 300

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await preauth_selected(r, w)
        tag, _ = await command(r)
        await send(w, *(b"* %d FETCH (UID %d BODY[] {2}\r\nhi)\r\n" % (k, k)
                        for k in range(1, n + 1)), tag.encode() + b" OK\r\n")

    fast: list[int] = []
    fetch_run = ResponseParser.fetch_run

    def counting(self: ResponseParser, out: list[Fetch]) -> int:
        taken = fetch_run(self, out)
        fast.append(taken)
        return taken

    monkeypatch.setattr(ResponseParser, "fetch_run", counting)
    lines: list[str] = []
    runs: list[dict[str, object]] = []

    def trace(name: str, **info: object) -> None:
        if name == "imap.line.in":
            lines.append(str(info["line"]))
        elif name == "imap.fetch.run":
            runs.append(info)

    client = await serve(script, trace=trace)
    await connect_selected(client)
    got = [(m.uid, m.items["BODY[]"]) async for m in client.uid_fetch("1:*", "(UID BODY[])")]
    assert got == [(k, b"hi") for k in range(1, n + 1)]
    assert sum(fast) == n - 1  # every response after the first took the fast path
    fetch_lines = [line for line in lines if "FETCH" in line]
    assert fetch_lines == ["* 1 FETCH (UID 1 BODY[] {2}\r\nhi)\r\n"]
    assert sum(int(str(r["count"])) for r in runs) == n - 1
    assert runs[0]["seqs"] == f"2:{int(str(runs[0]['count'])) + 1}"
    assert str(runs[-1]["uids"]).endswith(f":{n}")
    assert len(runs) < n / 10  # summaries per socket read, not per message


async def test_missing_continuation_times_out(serve: Callable[..., Awaitable[ImapClient]]) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await send(w, b"* PREAUTH ready\r\n")
        await command(r)
        await r.read()  # never says '+'

    client = await serve(script)
    await client.connect()
    client.timeout = 0.3
    with pytest.raises(TimedOut) as err:
        await client.append("INBOX", b"Subject: x\r\n\r\n")
    assert err.value.stage == "imap_append"


async def test_a_failing_listener_does_not_break_the_connection(
    serve: Callable[..., Awaitable[ImapClient]],
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await send(w, b"* OK ready\r\n")
        for _ in range(2):
            tag, _ = await command(r)
            await send(w, b"* 9 EXISTS\r\n", tag.encode() + b" OK\r\n")

    def broken(event: object) -> None:
        raise RuntimeError("listener bug")

    client = await serve(script, on_untagged=broken)
    await client.connect()
    assert await client.noop() == [Exists(9)]
    assert await client.noop() == [Exists(9)]


async def test_leaving_a_complete_but_unread_stream_does_not_block() -> None:
    """The answer is complete (tagged OK parsed) while the bounded stream queue is full and
    the reader waits to hand over the last batch; the consumer leaves after one message.
    Later commands must still get through. Chunking is exact: an in-memory transport."""
    reader = asyncio.StreamReader()
    writer = MemoryWriter()
    lines: list[str] = []

    def trace(name: str, **info: object) -> None:
        if name == "imap.line.in":
            lines.append(str(info["line"]))
        elif name == "imap.fetch.run":  # a run of same-shape FETCHes, up to this UID
            lines.append(f"UID {str(info['uids']).rpartition(':')[2]})")

    client = ImapClient("127.0.0.1", 1, security="plain", stream_queue=2, timeout=2,
                        trace=trace)
    reader.feed_data(b"* PREAUTH ready\r\n")
    await client.attach(reader, writer)  # type: ignore[arg-type]
    select = asyncio.create_task(client.select("INBOX"))
    await async_wait_until(lambda: b"A0001 SELECT" in writer.sent, what="SELECT")
    reader.feed_data(b"A0001 OK [READ-WRITE] selected\r\n")
    await select
    stream = client.uid_fetch("1:*", "(UID)")
    first = asyncio.create_task(anext(stream))
    await async_wait_until(lambda: b"A0002 UID FETCH 1:* (UID)" in writer.sent, what="FETCH")
    for n in (1, 2, 3):  # one read each: batch 1 is taken, batches 2 and 3 fill the queue
        reader.feed_data(b"* %d FETCH (UID %d)\r\n" % (n, n))
        await async_wait_until(lambda n=n: any(f"UID {n})" in line for line in lines))
    assert (await first).uid == 1
    reader.feed_data(b"* 4 FETCH (UID 4)\r\nA0002 OK done\r\n")  # complete; queue full
    await async_wait_until(lambda: any("A0002 OK" in line for line in lines), what="OK")
    await stream.aclose()
    noop = asyncio.create_task(client.noop())
    await async_wait_until(lambda: b"A0003 NOOP" in writer.sent, what="NOOP sent")
    reader.feed_data(b"A0003 OK\r\n")
    assert await noop == []


async def test_a_pop3_greeting_is_a_typed_bad_greeting(
    serve: Callable[..., Awaitable[ImapClient]],
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await send(w, b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n")
        await r.read()

    client = await serve(script)
    with pytest.raises(ProtocolViolation) as err:
        await client.connect()
    assert err.value.code == "bad_greeting" and err.value.stage == "imap_greeting"
    assert err.value.server_text and err.value.server_text.startswith("+OK POP3")


async def test_refused_starttls_never_leaves_a_plaintext_session(
    serve: Callable[..., Awaitable[ImapClient]],
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await send(w, b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n")
        tag, rest = await command(r)
        assert rest == "STARTTLS"
        await send(w, tag.encode() + b" NO [UNAVAILABLE] TLS is broken today\r\n")
        await r.read()

    client = await serve(script)
    client.security = "starttls"
    with pytest.raises(ServerRefused) as err:
        await client.connect()
    assert err.value.stage == "imap_starttls" and err.value.code == "unavailable"
    with pytest.raises(Disconnected):  # closed: nothing can be sent in the clear
        await client.login(Credentials("u", "p"))
