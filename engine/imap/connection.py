"""The asyncio shell around the parser: one socket, one reader task, tagged commands.

``Connection`` owns the transport: it connects (plain or TLS), upgrades with STARTTLS,
writes commands (waiting for '+' before synchronizing literals), reads, feeds the
parser, and hands the parser to its ``Router`` (``router``) after every read, which
decides who gets each event. Timeouts end here: a command that gets no answer drops
the connection, because an abandoned IMAP command leaves the session in an unknown
state.

Every failure is translated here, at the layer boundary, into the engine's error tree
(``engine.errors``); callers never see ``OSError`` or ``ssl.SSLError``.
"""
from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

from inboxlab.engine.errors import (
    Disconnected,
    EngineError,
    SecurityError,
    TimedOut,
    TlsError,
)
from inboxlab.engine.imap.commands import Arg, TagCounter, build
from inboxlab.engine.imap.failures import connect_error, handshake_timeout, tls_error
from inboxlab.engine.imap.limits import COMMAND, PRE_AUTH, for_command, widest
from inboxlab.engine.imap.model import Fetch, Greeting, Tagged
from inboxlab.engine.imap.protocol import ResponseParser
from inboxlab.engine.imap.results import refusal
from inboxlab.engine.imap.router import Listener, Pending, Router, Trace


def unread(reader: asyncio.StreamReader | None) -> bytes:
    """Bytes the transport received that nobody has read from ``reader`` yet.

    ``StreamReader`` has no public peek; its ``_buffer`` is stable since Python 3.4 and
    aiosmtpd reads it for the same purpose (clearing it at STARTTLS).
    """
    buf = getattr(reader, "_buffer", None)
    return bytes(buf) if buf else b""


class Connection:
    """A transport, a parser and the pending-command table; no IMAP policy."""

    def __init__(
        self,
        *,
        trace: Trace | None = None,
        tag_prefix: str = "A",
        read_size: int = 256 * 1024,
        stream_queue: int = 8,
    ) -> None:
        self._trace = trace
        self._tags = TagCounter(tag_prefix)
        self._read_size = read_size
        self._stream_queue = stream_queue
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._parser = ResponseParser(limits=PRE_AUTH)
        self._parser.keep_raw = trace is not None
        self._authenticated = False
        self._send_lock = asyncio.Lock()
        self.router = Router(trace)
        self.timeout: float = 60.0  # for waits inside a command (continuations)
        self.logging_out = False  # an EOF after LOGOUT is the expected end, not a failure

    # -- wiring ---------------------------------------------------------------------

    def trace(self, name: str, **info: Any) -> None:
        if self._trace is not None:
            self._trace(name, **info)

    @property
    def is_open(self) -> bool:
        return self._writer is not None and self.router.error is None

    @property
    def caps(self) -> frozenset[str] | None:
        return self.router.caps

    def set_caps(self, caps: tuple[str, ...] | frozenset[str] | None) -> None:
        self.router.set_caps(caps)

    def add_listener(self, fn: Listener) -> None:
        self.router.add_listener(fn)

    def authenticated(self) -> None:
        """Login done (or PREAUTH): answers may be bigger than before it (``limits``)."""
        self._authenticated = True
        self._fit_limits()

    def _fit_limits(self) -> None:
        """The parser's limits: the session's, widened for the commands in flight."""
        base = COMMAND if self._authenticated else PRE_AUTH
        self._parser.limits = widest(base, (p.limits for p in self.router.pending.values()))

    def remove_listener(self, fn: Listener) -> None:
        self.router.remove_listener(fn)

    async def open(
        self,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None,
        server_hostname: str | None,
        limit: float,
    ) -> Greeting:
        """Connect (TLS from the first byte if ``ssl_context``), start reading, get the greeting.

        TCP and TLS are two steps under one ``limit``: a port that accepts TCP and never
        answers the ClientHello (a stopped or overloaded server) is ``tls_timeout``, not
        ``connect_timeout`` ("allow outbound TCP" would send the customer to the wrong
        person), the same cause ``inboxlab diagnose`` names for it."""
        expected = server_hostname or host
        self.trace("imap.connect.started", host=host, port=port, tls=ssl_context is not None)
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(limit):
                reader, writer = await asyncio.open_connection(host, port)
                if ssl_context is not None:
                    await writer.start_tls(ssl_context, server_hostname=expected,
                                           ssl_handshake_timeout=limit)
        except (ssl.SSLError, OSError, TimeoutError) as exc:
            connected = writer is not None
            if writer is not None:
                writer.close()  # never set on self: nothing to log out of
            silent = handshake_timeout(exc, host, port, limit) if connected else None
            err = silent or connect_error(exc, host, port, expected, limit)
            self.trace("imap.connect.failed", code=err.code, error=err.message)
            raise err from exc
        self.trace("imap.connect.complete", host=host, port=port)
        return await self.attach(reader, writer, limit)

    async def attach(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limit: float
    ) -> Greeting:
        """Run over already-open streams (``open`` uses it; tests inject in-memory ones)."""
        self._reader, self._writer = reader, writer
        self.router.greeting = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._read_loop())
        return await self.wait(self.router.greeting, limit, "imap_greeting", "greeting")

    async def start_tls(self, ctx: ssl.SSLContext, expected_host: str, limit: float) -> None:
        """Upgrade after a STARTTLS OK; the reader task has already stopped reading.

        A server sends nothing between its OK and the handshake (RFC 3501 6.2.1). Bytes
        that arrived anyway sit in one of two buffers: the parser's (same segment as the
        OK) or the ``StreamReader``'s (a later segment, not read yet). Either would be
        read after the handshake as if it came over TLS, so either aborts the connection.
        Bytes arriving after this check go into the TLS layer and fail the handshake.
        """
        assert self._writer is not None
        if self._task is not None:
            await self._task
        if self.router.error is not None:
            raise self.router.error
        injected = self._parser.unparsed() + unread(self._reader)
        if injected:
            err = SecurityError(
                f"the server sent {len(injected)} bytes after STARTTLS OK, before the TLS "
                "handshake (possible command injection by a man in the middle); refusing "
                "to continue",
                injected, stage="imap_starttls", code="starttls_injection",
                remediation="the network path to the server is tampering with the "
                            "connection; use implicit TLS (port 993) or another network",
            )
            self.trace("imap.tls.failed", code=err.code, error=err.message)
            await self.abort(err)
            raise err
        self.trace("imap.tls.started", host=expected_host)
        try:
            await self._writer.start_tls(ctx, server_hostname=expected_host,
                                         ssl_handshake_timeout=limit)
        except ssl.SSLError as exc:
            err2 = tls_error(exc, expected_host)
            self.trace("imap.tls.failed", code=err2.code, error=err2.message)
            await self.abort(err2)
            raise err2 from exc
        except (OSError, TimeoutError) as exc:
            err3 = handshake_timeout(exc, expected_host, 0, limit, "imap_starttls") or TlsError(
                f"TLS handshake failed: {exc}", code="tls_handshake")
            await self.abort(err3)
            raise err3 from exc
        self.trace("imap.tls.complete", host=expected_host)
        self._task = asyncio.create_task(self._read_loop())

    # -- commands -------------------------------------------------------------------

    async def start(
        self,
        name: str,
        *args: Arg,
        stage: str,
        stream: bool = False,
        secret: tuple[int, ...] = (),
        pause_after: bool = False,
        wait_continuation: bool = False,
        collect: bool = True,
    ) -> Pending:
        """Send a command (waiting for '+' between synchronizing literals); don't wait for it."""
        if self.router.error is not None:
            raise self.router.error
        if self._writer is None:
            raise Disconnected("not connected", stage=stage, code="not_connected")
        loop = asyncio.get_running_loop()
        tag = self._tags.next()
        cmd = build(tag, name, *args, literal_plus=self.router.literal_plus,
                    literal_minus=self.router.literal_minus, secret=secret)
        p = Pending(tag, name, stage, loop.create_future(), collect=collect,
                     pause_after=pause_after)
        if self._authenticated:  # before login everything stays tiny, whatever was asked
            p.limits = for_command(name, args)
        if stream:
            p.stream = asyncio.Queue(self._stream_queue)
            self.router.streams.append(p)
        self.router.pending[tag] = p
        self._fit_limits()  # before the command goes out: its answer may follow at once
        self.trace("imap.send.started", tag=tag, command=name)
        self.trace("imap.line.out", line=cmd.trace_text)
        last = len(cmd.chunks) - 1
        try:
            async with self._send_lock:
                for k, chunk in enumerate(cmd.chunks):
                    waits = k < last or wait_continuation
                    if waits:
                        p.cont = loop.create_future()
                    self._writer.write(chunk)
                    await self._writer.drain()
                    if waits and not await self._continued(p):
                        break  # the server answered (NO/BAD) instead of '+'
        except (ConnectionError, OSError) as exc:
            err = Disconnected(f"connection lost while sending {name}: {exc}", stage=stage)
            self.router.fail_all(err)
            raise err from exc
        return p

    async def _continued(self, p: Pending) -> bool:
        assert p.cont is not None
        _, waiting = await asyncio.wait(
            (p.cont, p.done), timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
        if len(waiting) == 2:
            err = TimedOut(f"{p.name}: no continuation ('+') within {self.timeout}s",
                           stage=p.stage)
            await self.abort(err)
            raise err
        if p.cont.done() and not p.cont.cancelled() and p.cont.exception() is None:
            return True
        if p.done.done() and p.done.exception() is not None:
            raise p.done.exception()  # type: ignore[misc]
        return False

    async def finish(self, p: Pending, limit: float | None) -> Tagged:
        """Wait for the tagged answer; OK -> it, NO/BAD -> the typed refusal."""
        try:
            tagged = await self.wait(p.done, limit, p.stage, p.name)
            self._fit_limits()  # narrow again once a big answer is over
        except EngineError as exc:
            self.trace("imap.send.failed", tag=p.tag, command=p.name, code=exc.code,
                       error=exc.message)
            raise
        if p.violation is not None:
            self.trace("imap.send.failed", tag=p.tag, command=p.name, code=p.violation.code,
                       error=p.violation.message)
            raise p.violation
        if tagged.status != "OK":
            err = refusal(tagged.status, tagged.code, tagged.code_args, tagged.text,
                          stage=p.stage, command=p.name)
            self.trace("imap.send.failed", tag=p.tag, command=p.name, code=err.code,
                       status=tagged.status, text=tagged.text)
            raise err
        self.trace("imap.send.complete", tag=p.tag, command=p.name, status=tagged.status,
                   code=tagged.code, text=tagged.text)
        return tagged

    async def wait(self, fut: asyncio.Future[Any], limit: float | None, stage: str,
                   what: str) -> Any:
        """Await ``fut`` within ``limit`` seconds; on expiry the connection is dropped (its
        state is unknown once a command is abandoned) and ``TimedOut`` raised."""
        try:
            async with asyncio.timeout(limit):
                return await asyncio.shield(fut)
        except TimeoutError:
            err = TimedOut(f"{what}: no answer within {limit}s", stage=stage,
                           remediation="the server or network is slow; retry later")
            await self.abort(err)
            raise err from None

    async def next_batch(self, p: Pending, limit: float | None) -> list[Fetch] | None:
        assert p.stream is not None
        try:
            async with asyncio.timeout(limit):
                return await p.stream.get()
        except TimeoutError:
            err = TimedOut(f"{p.name}: no data within {limit}s", stage=p.stage)
            await self.abort(err)
            raise err from None

    def abandon(self, p: Pending) -> None:
        """The consumer stopped early: drop the rest of this stream without blocking."""
        p.abandoned = True
        p.batch = []
        if p.stream is not None:
            while not p.stream.empty():
                p.stream.get_nowait()

    async def sasl_step(self, p: Pending, line: bytes, shown: str) -> str | None:
        """Send one SASL response line for the open command ``p`` and wait for the server:
        its next continuation's text, or None when it answered with the tagged line."""
        p.cont = asyncio.get_running_loop().create_future()
        await self.write_raw(line, shown)
        if not await self._continued(p):
            return None
        return p.cont.result()

    async def write_raw(self, line: bytes, shown: str) -> None:
        """For IDLE's DONE: a line that is not a tagged command."""
        if self._writer is None or self.router.error is not None:
            raise self.router.error or Disconnected("not connected")
        self.trace("imap.line.out", line=shown)
        try:
            self._writer.write(line)
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            err = Disconnected(f"connection lost: {exc}", stage="imap_idle")
            self.router.fail_all(err)
            raise err from exc

    # -- reading --------------------------------------------------------------------

    async def _read_loop(self) -> None:
        assert self._reader is not None
        reader = self._reader
        parser = self._parser
        try:
            while True:
                data = await reader.read(self._read_size)
                if not data:
                    if self.logging_out and not self.router.pending:
                        self.router.error = Disconnected("logged out", code="closed")
                        self.trace("imap.connection.closed", reason="logout")
                        return
                    self.router.fail_all(self._closed("the server closed the connection"))
                    return
                parser.feed(data)
                pause = self.router.route(parser)
                if self.router.bye is not None and not self.logging_out:
                    # BYE says the server is closing (RFC 9051 7.1.5): what is pending ends
                    # now with its words, not at the command timeout if the close is late
                    self.router.fail_all(self._closed("the server said BYE"))
                if self.router.error is not None:  # a BYE, a broken limit: read no more
                    if self._writer is not None:
                        self._writer.close()
                    return
                if self.router.streams:
                    await self.router.flush_streams()
                if pause:
                    return
        except asyncio.CancelledError:
            raise
        except ssl.SSLError as exc:
            self.router.fail_all(Disconnected(f"TLS error while reading: {exc}", code="tls_read"))
        except (ConnectionError, OSError) as exc:
            self.router.fail_all(Disconnected(f"connection lost: {exc}", code="connection_reset"))
        except Exception as exc:  # a bug here must fail the waiters, not strand them
            self.router.fail_all(EngineError(f"IMAP reader failed: {exc!r}", code="client_bug"))
            raise

    # -- failure and shutdown ----------------------------------------------------------

    def _closed(self, what: str) -> Disconnected:
        """The end of the connection, with the server's BYE (code, words) if it sent one."""
        bye = self.router.bye
        if bye is None:
            return Disconnected(what, code="eof")
        return Disconnected(f"{what}: {bye.text}" if what.endswith("BYE") else
                            f"{what} after BYE: {bye.text}", server_text=bye.text,
                            response_code=bye.code, code="server_bye")

    async def abort(self, err: EngineError | None = None) -> None:
        """Drop the connection now (after a timeout or a fatal error)."""
        self.router.fail_all(err or Disconnected("closed by the client", code="closed"))
        await self.close()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await writer.wait_closed()
        if self.router.error is None:
            self.router.error = Disconnected("connection closed", code="closed")
