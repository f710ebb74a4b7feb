"""The asyncio shell around ``ImapSession``: sockets, TLS, streaming, timeouts, hooks.

Everything protocol-shaped is in the session; this module only moves bytes. Output is
coalesced into ~256 KiB writes with ``drain()`` between them, so a 100k-message FETCH
streams with flat memory and other connections keep being served meanwhile.

Out-of-band bytes (a BYE or a malformed line fired by a scenario or the control
endpoint) go through ``Connection.inject`` and are written only at a response boundary:
right away when the connection is idle, else after the response being streamed, never
inside a FETCH literal. A BYE then ends the stream: the client reads whole responses,
the BYE, then EOF. The deliberate "cut mid-literal" fault is a hook reply that closes
the connection itself, so nothing injected ever follows it.

    async with FakeImapServer(default_config()) as srv:
        imaplib.IMAP4(srv.host, srv.port) ...
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import itertools
import logging
import shutil
import ssl
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from inboxlab.fakeserver.config import ServerConfig
from inboxlab.fakeserver.imap import mutf7
from inboxlab.fakeserver.imap.command_specs import COMMANDS
from inboxlab.fakeserver.imap.hooks import ConnectionInfo, ServerHooks
from inboxlab.fakeserver.imap.session import (
    CloseConnection,
    ImapSession,
    Output,
    SessionRegistry,
    StartTls,
    State,
)
from inboxlab.fakeserver.imap.transcript import Redactor
from inboxlab.fakeserver.lifecycle import Served
from inboxlab.fakeserver.store import Store
from inboxlab.fakeserver.tls import TlsMaterial, mint

log = logging.getLogger(__name__)

WRITE_CHUNK = 256 * 1024
READ_SIZE = 256 * 1024
_FALLBACK_DATE = datetime(2024, 1, 1, tzinfo=UTC)


def _internaldate_of(raw: bytes) -> datetime:
    """A configured message's INTERNALDATE: its Date header, so runs are reproducible."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    for line in head.splitlines():
        if line[:5].lower() == b"date:":
            try:
                parsed = email.utils.parsedate_to_datetime(line[5:].decode("ascii").strip())
            except (TypeError, ValueError, UnicodeDecodeError):
                break
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return _FALLBACK_DATE


def build_store(config: ServerConfig) -> Store:
    """A fresh store holding the configured accounts and folders.

    Non-ASCII folder names are stored in modified UTF-7, exactly as clients name them.
    """
    store = Store()
    for acc in config.accounts:
        account = store.add_account(acc.username, acc.password)
        for fc in acc.folders:
            name = mutf7.encode(fc.name)
            if account.folder(name) is not None and name.upper() == "INBOX":
                account.folders.pop("INBOX")  # replace the implicit empty INBOX
            folder = account.create(
                name, special_use=fc.special_use, spec=fc.generated, subscribed=fc.subscribed
            )
            if not fc.subscribed:
                account.unsubscribe(name)  # the implicit INBOX was
            for raw in fc.messages:
                folder.append(raw, internaldate=_internaldate_of(raw))
            folder.settle_recent()  # the starting contents are nobody's \Recent
    return store


class Connection:
    """One client connection as the server sees it (for hooks and the control endpoint)."""

    def __init__(self, info: ConnectionInfo, session: ImapSession,
                 writer: asyncio.StreamWriter) -> None:
        self.info = info
        self.session = session
        self.writer = writer
        self.injected: list[bytes] = []  # out-of-band bytes waiting for a boundary
        self.close_after_injected = False
        self.kick: Callable[[], None] = lambda: None  # wakes the pipe when it is idle

    def inject(self, data: bytes, *, close: bool = False) -> None:
        """Queue protocol bytes for the next response boundary; then close when ``close``.

        Nothing is queued once a close is pending: the client's last words are the BYE.
        """
        if self.close_after_injected or self.writer.is_closing():
            return
        self.injected.append(data)
        self.close_after_injected = close
        self.kick()

    def take_injected(self) -> bytes:
        data = b"".join(self.injected)
        self.injected.clear()
        return data

    def abort(self) -> None:
        """Drop the connection now, without a BYE."""
        self.writer.transport.abort()


class FakeImapServer(Served):
    """A fake IMAP server on loopback: plain+STARTTLS on ``port``, implicit TLS on ``tls_port``."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_port: int | None = 0,
        hooks: ServerHooks | None = None,
        store: Store | None = None,
        tls: TlsMaterial | None = None,
        tls_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.host = host
        self.hooks = hooks or ServerHooks()
        self.store = store if store is not None else build_store(config)
        self.tls = tls
        self.registry = SessionRegistry()
        self.connections: dict[int, Connection] = {}
        self.port = port
        self.tls_port = tls_port
        self._tls_dir = tls_dir
        self._want_tls_port = tls_port is not None
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._owned_tls_dir: Path | None = None  # a temp dir we made for the CA PEM

    @property
    def ca_pem_path(self) -> Path:
        assert self.tls is not None, "start the server first"
        return self.tls.ca_pem_path

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context trusting this server's CA (tests, the demo)."""
        assert self.tls is not None, "start the server first"
        return self.tls.client_context()

    async def start(self) -> None:
        if self.tls is None:
            names = tuple(dict.fromkeys(
                (self.config.hostname, self.host, "localhost", "127.0.0.1", "::1")))
            self.tls = mint(self._tls_dir, names=names)
            if self._tls_dir is None:
                self._owned_tls_dir = self.tls.ca_pem_path.parent
        plain = await asyncio.start_server(
            lambda r, w: self._serve(r, w, False), self.host, self.port,
            limit=READ_SIZE)
        self._servers.append(plain)
        self.port = plain.sockets[0].getsockname()[1]
        if self._want_tls_port:
            try:
                secure = await asyncio.start_server(
                    lambda r, w: self._serve(r, w, True), self.host, self.tls_port,
                    ssl=self.tls.server_context, limit=READ_SIZE)
            except OSError:
                await self.stop()  # never half-started: no plain port left listening
                raise
            self._servers.append(secure)
            self.tls_port = secure.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self._servers.clear()
        if self._owned_tls_dir is not None:
            shutil.rmtree(self._owned_tls_dir, ignore_errors=True)
            self._owned_tls_dir = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     implicit_tls: bool) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        peer = writer.get_extra_info("peername")
        info = ConnectionInfo(next(self._ids), str(peer[0]) if peer else "?", implicit_tls)
        session = ImapSession(self.config, self.store, conn=info, commands=COMMANDS,
                              hooks=self.hooks, registry=self.registry)
        conn = Connection(info, session, writer)
        self.connections[info.conn_id] = conn
        pipe = _Pipe(self, conn, reader)
        try:
            await pipe.run()
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, TimeoutError) as exc:
            log.debug("conn %d: %s", info.conn_id, exc)
        except asyncio.CancelledError:
            # Only stop() cancels us. Ending normally keeps asyncio's stream callback
            # (which calls task.exception()) from logging a spurious error on 3.11.
            log.debug("conn %d: cancelled by server stop", info.conn_id)
        except Exception:  # a bug must cost one connection, never the server
            log.exception("conn %d: unexpected failure; closing this connection", info.conn_id)
        finally:
            session.receive_eof()
            del self.connections[info.conn_id]
            writer.close()
            self.hooks.on_disconnect(info)


class _Pipe:
    """Moves bytes between one socket and its session until either side ends."""

    def __init__(self, server: FakeImapServer, conn: Connection,
                 reader: asyncio.StreamReader) -> None:
        self.server = server
        self.conn = conn
        self.session = conn.session
        self.reader = reader
        self.writer = conn.writer
        hooks = server.hooks
        self.hooks = hooks
        self.redactor = Redactor() if hooks.wants_transcript else None
        self.wake = asyncio.Event()
        self.session.wakeup = self.wake.set
        conn.kick = self.wake.set

    async def write(self, data: bytes) -> None:
        if not data:
            return
        if self.redactor is not None:
            self.hooks.on_transcript(self.conn.info, "out", self.redactor.outbound(data))
        self.writer.write(data)
        await self.writer.drain()

    async def run(self) -> None:
        session = self.session
        override = self.hooks.on_connect(self.conn.info)
        if override is not None:
            await self.write(override.data)
            if override.close:
                return
        else:
            await self.write(session.greeting())
        timeout = self.server.config.idle_timeout_s
        read: asyncio.Task[bytes] | None = None
        try:
            while session.state is not State.LOGOUT:
                if read is None:
                    read = asyncio.ensure_future(self.reader.read(READ_SIZE))
                woken = asyncio.ensure_future(self.wake.wait())
                done, _ = await asyncio.wait(
                    {read, woken}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
                if not done:
                    await self.write(session.autologout())
                    return
                if self.wake.is_set():
                    self.wake.clear()
                    if await self.flush_injected():
                        return
                    await self.write(session.push_updates())
                if read.done():
                    data = read.result()
                    read = None
                    if not data:
                        return
                    if self.redactor is not None:
                        self.hooks.on_transcript(self.conn.info, "in",
                                                 self.redactor.inbound(data))
                    if await self.pump(session.receive_data(data)):
                        return
        finally:
            if read is not None:
                read.cancel()

    async def flush_injected(self) -> bool:
        """Write what was injected, at a boundary (nothing streams); True when it must close."""
        conn = self.conn
        if not self.session.between_responses:
            return False  # a hook's partial reply: wait for the next command's first item
        if conn.injected:
            await self.write(conn.take_injected())
        return conn.close_after_injected

    async def pump(self, outputs: Iterator[Output]) -> bool:
        """Send a session's outputs in big writes; True when the connection must close.

        Bytes injected while a chunk drains go out right after it (it ends between
        responses); an injected close ends the stream there.
        """
        buf: list[bytes] = []
        size = 0
        conn = self.conn
        try:
            for out in outputs:
                if isinstance(out, bytes):
                    buf.append(out)
                    size += len(out)
                    if size >= WRITE_CHUNK:
                        await self.write(b"".join(buf))
                        buf.clear()
                        size = 0
                        # drain() returns without yielding while the socket keeps up;
                        # yield anyway so a long FETCH never starves other connections.
                        await asyncio.sleep(0)
                        # only these awaits let an injection in: all written so far is
                        # whole items, a boundary unless a hook's reply was partial
                        if conn.injected and await self.flush_injected():
                            return True
                    continue
                await self.write(b"".join(buf))
                buf.clear()
                size = 0
                if isinstance(out, CloseConnection):
                    return True
                if isinstance(out, StartTls):
                    assert self.server.tls is not None
                    # Bytes the client pipelined after STARTTLS came in plaintext: the
                    # session dropped its own buffer; drop what the stream still holds
                    # (no public API; aiosmtpd clears the same buffer for SMTP).
                    self.reader._buffer.clear()  # type: ignore[attr-defined]
                    await self.writer.start_tls(self.server.tls.server_context)
                    self.session.tls_started()
        finally:
            close = getattr(outputs, "close", None)
            if close is not None:
                close()
        await self.write(b"".join(buf))
        return self.session.state is State.LOGOUT  # anything injected meanwhile: run() wakes
