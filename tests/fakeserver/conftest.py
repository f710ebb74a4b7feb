"""Fixtures for the fake IMAP server: small configs, a sans-I/O driver, a raw wire client.

``Driver`` runs an ``ImapSession`` with no sockets (bytes in, bytes out); ``WireClient``
speaks raw IMAP to a real ``FakeImapServer`` over loopback. Both read until the tagged
reply, so no test ever sleeps.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from inboxlab.fakeserver.config import (
    DEMO_PASSWORD,
    DEMO_USER,
    AccountConfig,
    Capabilities,
    FolderConfig,
    ServerConfig,
)
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.imap.command_specs import COMMANDS
from inboxlab.fakeserver.imap.hooks import ConnectionInfo, ServerHooks
from inboxlab.fakeserver.imap.server import FakeImapServer, build_store
from inboxlab.fakeserver.imap.session import CloseConnection, ImapSession, SessionRegistry, StartTls
from inboxlab.fakeserver.store import Store

USER, PASSWORD = DEMO_USER, DEMO_PASSWORD
DEADLINE = 10.0  # seconds: generous upper bound for any single reply on loopback


def small_config(count: int = 20, **caps: object) -> ServerConfig:
    """INBOX with ``count`` generated messages, the usual special-use folders, a child."""
    folders = (
        FolderConfig("INBOX", generated=GenSpec(count=count, seed=7, owner=USER)),
        FolderConfig("Sent", special_use=("\\Sent",)),
        FolderConfig("Trash", special_use=("\\Trash",)),
        FolderConfig("Projects"),
        FolderConfig("Projects/Alpha", subscribed=False),
    )
    return ServerConfig(
        accounts=(AccountConfig(USER, PASSWORD, folders),),
        capabilities=replace(Capabilities(), **caps),  # type: ignore[arg-type]
    )


class Driver:
    """One sans-I/O session: ``send(b"a NOOP")`` returns everything the server wrote."""

    def __init__(self, config: ServerConfig, store: Store, *, registry: SessionRegistry,
                 hooks: ServerHooks | None = None, conn_id: int = 1) -> None:
        self.session = ImapSession(config, store, conn=ConnectionInfo(conn_id, "test", False),
                                   commands=COMMANDS, hooks=hooks, registry=registry)
        self.greeting = self.session.greeting()
        self.markers: list[object] = []

    def feed(self, data: bytes) -> bytes:
        out = []
        for item in self.session.receive_data(data):
            if isinstance(item, bytes):
                out.append(item)
            else:
                self.markers.append(item)
        return b"".join(out)

    def send(self, line: str | bytes) -> bytes:
        data = line.encode() if isinstance(line, str) else line
        return self.feed(data + b"\r\n")

    def login(self) -> bytes:
        return self.send(f"L LOGIN {USER} {PASSWORD}")

    @property
    def closed(self) -> bool:
        return any(isinstance(m, CloseConnection) for m in self.markers)

    @property
    def wants_tls(self) -> bool:
        return any(isinstance(m, StartTls) for m in self.markers)


class Lab:
    """A store shared by several sans-I/O sessions (to see each other's changes)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.store = build_store(config)
        self.registry = SessionRegistry()
        self._ids = 0

    def driver(self, *, login: bool = True, select: str | None = None,
               hooks: ServerHooks | None = None) -> Driver:
        self._ids += 1
        d = Driver(self.config, self.store, registry=self.registry, hooks=hooks,
                   conn_id=self._ids)
        if login:
            assert b"L OK" in d.login()
        if select:
            assert b"S OK" in d.send(f"S SELECT {select}")
        return d


@pytest.fixture
def lab() -> Lab:
    return Lab(small_config())


@pytest.fixture
def make_lab() -> type[Lab] | object:
    """``make_lab(count=20, **capability_toggles)`` -> a Lab on its own store."""
    return lambda count=20, **caps: Lab(small_config(count, **caps))


class WireClient:
    """A raw IMAP client over asyncio streams for exact-bytes tests against the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.greeting = b""

    @classmethod
    async def connect(cls, host: str, port: int, *,
                      ssl_context: ssl.SSLContext | None = None) -> WireClient:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ssl_context), DEADLINE)
        return cls(reader, writer)

    async def line(self) -> bytes:
        return await asyncio.wait_for(self.reader.readline(), DEADLINE)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def until_tagged(self, tag: str) -> list[bytes]:
        """Lines up to and including the tagged reply (literals read as part of lines)."""
        lines: list[bytes] = []
        while True:
            line = await self.line()
            if not line:
                raise ConnectionError(f"closed before {tag} completed; got {lines!r}")
            if line.endswith(b"}\r\n") and b"{" in line:
                size = int(line[line.rindex(b"{") + 1 : -3].rstrip(b"+"))
                line += await asyncio.wait_for(self.reader.readexactly(size), DEADLINE)
                line += await self.line()
            lines.append(line)
            if line.startswith(tag.encode() + b" "):
                return lines

    async def command(self, tag: str, text: str) -> list[bytes]:
        await self.send(f"{tag} {text}\r\n".encode())
        return await self.until_tagged(tag)

    async def login(self) -> None:
        reply = await self.command("L", f"LOGIN {USER} {PASSWORD}")
        assert reply[-1].startswith(b"L OK"), reply

    async def closed(self) -> bytes:
        """Everything until the server closes the connection."""
        return await asyncio.wait_for(self.reader.read(), DEADLINE)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass


@pytest.fixture
def config_factory() -> object:
    """``config_factory(count=20, **capability_toggles)`` -> a small ServerConfig."""
    return small_config


@pytest.fixture
async def connect() -> AsyncIterator[object]:
    """``await connect(server, login=False, tls=False)`` -> a WireClient past the greeting."""
    opened: list[WireClient] = []

    async def open_client(srv: FakeImapServer, *, login: bool = False,
                          tls: bool = False) -> WireClient:
        if tls:
            c = await WireClient.connect(srv.host, srv.tls_port or 0,
                                         ssl_context=srv.client_ssl_context())
        else:
            c = await WireClient.connect(srv.host, srv.port)
        opened.append(c)
        greeting = await c.line()
        assert greeting.startswith((b"* OK", b"* BYE")), greeting
        c.greeting = greeting
        if login:
            await c.login()
        return c

    yield open_client
    for c in opened:
        await c.close()


@pytest.fixture
async def server() -> AsyncIterator[FakeImapServer]:
    async with FakeImapServer(small_config()) as srv:
        yield srv


@pytest.fixture
async def client(server: FakeImapServer) -> AsyncIterator[WireClient]:
    c = await WireClient.connect(server.host, server.port)
    assert (await c.line()).startswith(b"* OK [CAPABILITY ")
    yield c
    await c.close()
