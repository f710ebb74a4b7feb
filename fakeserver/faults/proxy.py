"""A loopback TCP proxy in front of the fake IMAP server that breaks connections on cue.

Why a proxy and not hooks inside the server: transport faults (a real RST, a tarpit,
a connection cut after N bytes, a refused connect while the server is "down") happen
below IMAP, where the session cannot reach. Sitting between the client's socket and
the server's, the proxy does them with real sockets, so a client sees exactly what a
real network would give it: ``ConnectionResetError``, a timeout, an SSL alert.

Bytes pass through untouched (TLS included: the proxy never decrypts), so the server
still sees TLS and the client still verifies the server's certificate. Each link has
one ``Shaper`` per direction (see ``shaping.py``); an ``observer`` is told about
connections and byte counts and may act on the link from inside those callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import struct
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from inboxlab.fakeserver.faults.shaping import Shaper

log = logging.getLogger(__name__)

TO_CLIENT, TO_SERVER = "to_client", "to_server"
_CHUNK = 256 * 1024
_LIMIT = 1024 * 1024  # StreamReader buffer: fewer, larger reads on bulk transfers
# A TLS fatal alert record: handshake_failure(40), as a server that refuses the handshake.
TLS_HANDSHAKE_FAILURE = b"\x15\x03\x03\x00\x02\x02\x28"


class LinkObserver(Protocol):
    def link_opened(self, link: Link) -> None: ...
    def link_bytes(self, link: Link, direction: str, total: int) -> None: ...
    def link_budget(self, link: Link, direction: str, total: int) -> int | None: ...
    def link_closed(self, link: Link) -> None: ...


class _NullObserver:
    def link_opened(self, link: Link) -> None:
        pass

    def link_bytes(self, link: Link, direction: str, total: int) -> None:
        pass

    def link_budget(self, link: Link, direction: str, total: int) -> int | None:
        return None

    def link_closed(self, link: Link) -> None:
        pass


def _rst(writer: asyncio.StreamWriter) -> None:
    """Abort with SO_LINGER 0: the kernel sends RST instead of FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@dataclass(eq=False)
class Link:
    """One proxied connection: the client's socket and ours to the server."""

    conn_id: int
    tls: bool
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    upstream_port: int
    shapers: dict[str, Shaper] = field(default_factory=lambda: {TO_CLIENT: Shaper(),
                                                                 TO_SERVER: Shaper()})
    totals: dict[str, int] = field(default_factory=lambda: {TO_CLIENT: 0, TO_SERVER: 0})
    closed: bool = False
    fail_tls_next: bool = False  # STARTTLS answered: swallow the ClientHello, send an alert
    delay_to_client_s: float = 0.0  # one-shot think time before the next server bytes
    on_limit: str = "close"  # what a reached data limit does: "close" or "reset"

    @property
    def peer(self) -> str:
        info = self.client.get_extra_info("peername")
        return f"{info[0]}:{info[1]}" if info else "?"

    def reset(self, direction: str = TO_CLIENT) -> None:
        """RST towards ``direction`` ("both" for both); FIN the other side."""
        if self.closed:
            return
        self.closed = True
        for side, writer in ((TO_CLIENT, self.client), (TO_SERVER, self.upstream)):
            if direction in (side, "both"):
                _rst(writer)
            else:
                writer.close()

    def close(self, direction: str = TO_CLIENT) -> None:
        """Orderly close of both sides (``direction`` says who hears it first)."""
        if self.closed:
            return
        self.closed = True
        first, second = ((self.upstream, self.client) if direction == TO_SERVER
                         else (self.client, self.upstream))
        first.close()
        second.close()

    def shaper(self, direction: str) -> list[Shaper]:
        if direction == "both":
            return [self.shapers[TO_CLIENT], self.shapers[TO_SERVER]]
        return [self.shapers[direction]]


class FaultProxy:
    """Listens on loopback (plain and implicit-TLS ports) and relays to the real server."""

    def __init__(
        self,
        *,
        upstream_host: str,
        upstream_port: int,
        upstream_tls_port: int | None,
        host: str = "127.0.0.1",
        observer: LinkObserver | None = None,
    ) -> None:
        self.host = host
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.upstream_tls_port = upstream_tls_port
        self.observer: LinkObserver = observer or _NullObserver()
        self.port = 0
        self.tls_port = 0
        self.links: dict[int, Link] = {}
        self.tls_failures_pending = 0
        self.is_down = False
        # injectable so tests can observe the scripted delays instead of timing them
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self.counters: dict[str, int] = {"connections": 0, "refused_tls": 0, "resets": 0}
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._count = 0
        self._by_upstream_port: dict[int, Link] = {}

    # -- lifecycle ------------------------------------------------------------------

    async def start(self, port: int = 0, tls_port: int = 0) -> None:
        plain = await asyncio.start_server(self._accept_plain, self.host, port,
                                           limit=_LIMIT)
        self.port = plain.sockets[0].getsockname()[1]
        self._servers = [plain]
        if self.upstream_tls_port is not None:
            tls = await asyncio.start_server(self._accept_tls, self.host, tls_port,
                                             limit=_LIMIT)
            self.tls_port = tls.sockets[0].getsockname()[1]
            self._servers.append(tls)

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        self._servers = []
        for link in list(self.links.values()):
            link.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def down(self, seconds: float) -> None:
        """Refuse connections for ``seconds`` (nothing listens) and drop the live ones."""
        if self.is_down:
            return
        self.is_down = True
        for server in self._servers:
            server.close()
        for link in list(self.links.values()):
            link.reset(TO_CLIENT)
        try:
            await self.sleep(seconds)
        finally:
            self.is_down = False
            if self._servers:  # not stopped meanwhile
                await self.start(self.port, self.tls_port)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a coroutine owned by the proxy (cancelled at stop)."""
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def link_by_upstream_port(self, port: int) -> Link | None:
        return self._by_upstream_port.get(port)

    def link_for_peer(self, peer: str) -> Link | None:
        """The link whose upstream socket the server sees as ``peer`` (``host:port``)."""
        match = re.search(r"(\d+)\D*$", peer)
        return self._by_upstream_port.get(int(match.group(1))) if match else None

    # -- connections ----------------------------------------------------------------

    async def _accept_plain(self, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> None:
        await self._accept(reader, writer, tls=False)

    async def _accept_tls(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        await self._accept(reader, writer, tls=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                      tls: bool) -> None:
        # asyncio's stream callback reads the task's exception: a cancelled connection
        # task (proxy stopping) must end quietly rather than log a CancelledError.
        with contextlib.suppress(asyncio.CancelledError):
            await self._connection(reader, writer, tls=tls)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                          tls: bool) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._count += 1
        self.counters["connections"] += 1
        conn_id = self._count
        _nodelay(writer)
        if tls and self.tls_failures_pending > 0:
            self.tls_failures_pending -= 1
            self.counters["refused_tls"] += 1
            await self._refuse_tls(reader, writer)
            return
        port = self.upstream_tls_port if tls else self.upstream_port
        assert port is not None
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, port, limit=_LIMIT)
        except OSError:
            _rst(writer)
            return
        _nodelay(up_writer)
        link = Link(conn_id, tls, writer, up_writer, up_writer.get_extra_info("sockname")[1])
        self.links[conn_id] = link
        self._by_upstream_port[link.upstream_port] = link
        try:
            self.observer.link_opened(link)
            if not link.closed:
                await asyncio.gather(
                    self._pump(link, up_reader, TO_CLIENT),
                    self._pump(link, reader, TO_SERVER),
                )
        finally:
            self.links.pop(conn_id, None)
            self._by_upstream_port.pop(link.upstream_port, None)
            if not link.closed:
                link.close()
            self.observer.link_closed(link)

    async def _refuse_tls(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(reader.read(_CHUNK), timeout=5.0)  # the ClientHello
            writer.write(TLS_HANDSHAKE_FAILURE)
            await writer.drain()
        writer.close()

    async def _pump(self, link: Link, source: asyncio.StreamReader, direction: str) -> None:
        """Move bytes from ``source`` to the other side of ``direction`` until EOF."""
        target = link.client if direction == TO_CLIENT else link.upstream
        try:
            while not link.closed:
                data = await source.read(_CHUNK)
                if not data:
                    break
                if direction == TO_SERVER and link.fail_tls_next:
                    link.fail_tls_next = False
                    self.counters["refused_tls"] += 1
                    link.client.write(TLS_HANDSHAKE_FAILURE)
                    with contextlib.suppress(OSError):
                        await link.client.drain()
                    link.close()
                    break
                await self._forward(link, direction, target, data)
        except (ConnectionError, OSError):
            pass
        if link.closed:
            return
        if link.shapers[TO_CLIENT].tarpit and direction == TO_CLIENT:
            return  # the server went away but a tarpit keeps the client hanging
        link.close(TO_CLIENT if direction == TO_CLIENT else TO_SERVER)

    async def _forward(self, link: Link, direction: str, target: asyncio.StreamWriter,
                       data: bytes) -> None:
        observer = self.observer
        while data and not link.closed:
            total = link.totals[direction]
            budget = observer.link_budget(link, direction, total)
            if budget == 0:
                observer.link_bytes(link, direction, total)
                if link.closed:
                    return
                budget = observer.link_budget(link, direction, total)
                if budget == 0:
                    budget = None  # a trigger that will not fire again: do not spin
            n = len(data) if budget is None else min(budget, len(data))
            piece, data = data[:n], data[n:]
            await self._write(link, direction, target, piece)
            link.totals[direction] = total + n
            observer.link_bytes(link, direction, total + n)

    async def _write(self, link: Link, direction: str, target: asyncio.StreamWriter,
                     data: bytes) -> None:
        if direction == TO_CLIENT and link.delay_to_client_s:
            delay, link.delay_to_client_s = link.delay_to_client_s, 0.0
            await self.sleep(delay)
        shaper = link.shapers[direction]
        if shaper.plain:
            target.write(data)
            await target.drain()
            return
        plan = shaper.plan(data)
        for step in plan.steps:
            if link.closed:
                return
            if step.delay_s:
                await self.sleep(step.delay_s)
            target.write(step.data)
            await target.drain()
        if plan.close_after:
            if link.on_limit == "reset":
                link.reset(direction)
            else:
                link.close(direction)
