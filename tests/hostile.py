"""A kit of hostile servers: scriptable asyncio IMAP/SMTP peers on loopback.

The fake servers (``fakeserver``) are well-behaved by design; these are not. A test
writes the server's side of a conversation as a coroutine over a ``Peer`` (send bytes,
read the client's next line, upgrade to TLS) and points the engine's real client at
it over a real socket::

    async def script(peer: Peer) -> None:
        await peer.send(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\\r\\n")
        tag, verb, _ = await peer.command()
        await peer.send(tag + b" OK Begin TLS\\r\\n* CAPABILITY FORGED\\r\\n")
        await peer.starttls()
        ...

    async with HostileServer(script, tls=mint()) as srv:
        client = ImapClient("127.0.0.1", srv.port, security="starttls", ...)

A script's failure (the client hung up, a ``ConnectionError``) ends that connection
only; ``failures`` keeps anything else it raised so a test can assert the script ran
as written. The same class serves SMTP: the script speaks SMTP instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from types import TracebackType

from inboxlab.fakeserver.tls import TlsMaterial

LINE_LIMIT = 64 * 1024


class Peer:
    """The server's end of one connection, as a script sees it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 tls: TlsMaterial | None) -> None:
        self.reader = reader
        self.writer = writer
        self._tls = tls
        self.received: list[bytes] = []  # every line the client sent, in order

    async def send(self, data: bytes) -> None:
        """Write ``data`` now, as one segment on loopback (one write, then drain)."""
        self.writer.write(data)
        await self.writer.drain()

    async def line(self) -> bytes:
        """The client's next line (CRLF stripped); ``b""`` at EOF."""
        raw = await self.reader.readline()
        line = raw.rstrip(b"\r\n")
        if raw:
            self.received.append(line)
        return line

    async def command(self) -> tuple[bytes, bytes, bytes]:
        """The client's next IMAP command: (tag, upper-cased verb, the rest)."""
        line = await self.line()
        tag, _, rest = line.partition(b" ")
        verb, _, args = rest.partition(b" ")
        return tag, verb.upper(), args

    async def starttls(self) -> None:
        """Upgrade this connection to TLS (server side), with the kit's certificate."""
        assert self._tls is not None, "HostileServer(tls=...) is needed for STARTTLS"
        await self.writer.start_tls(self._tls.server_context)

    async def drain_input(self) -> bytes:
        """Everything the client sends until it closes (bounded by ``LINE_LIMIT``)."""
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            return await self.reader.read(LINE_LIMIT)
        return b""


Script = Callable[[Peer], Awaitable[None]]


class HostileServer:
    """Runs ``script`` for every connection on 127.0.0.1 (a free port unless given)."""

    def __init__(self, script: Script, *, tls: TlsMaterial | None = None,
                 implicit_tls: bool = False) -> None:
        self.script = script
        self.tls = tls
        self.implicit_tls = implicit_tls
        self.host = "127.0.0.1"
        self.port = 0
        self.connections = 0
        self.finished = 0
        self.failures: list[BaseException] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> HostileServer:
        ctx = self.tls.server_context if self.implicit_tls and self.tls else None
        self._server = await asyncio.start_server(self._handle, self.host, 0, ssl=ctx,
                                                  limit=LINE_LIMIT)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        peer = Peer(reader, writer, self.tls)
        try:
            await self.script(peer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass  # the client hung up on us: that is often the point
        except Exception as exc:  # kept for the test to look at
            self.failures.append(exc)
        except asyncio.CancelledError:
            # the server is stopping; ending normally keeps asyncio's stream callback
            # (task.exception() on 3.11) from logging the cancellation as an error
            writer.close()
            return
        finally:
            self.finished += 1
        writer.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await writer.wait_closed()


__all__ = ["HostileServer", "Peer", "Script"]
