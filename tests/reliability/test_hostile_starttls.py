"""STARTTLS response injection and downgrades, against hostile servers on loopback.

A man in the middle appends plaintext right after the server's ``OK Begin TLS``; if the
client reads it after the handshake it takes forged CAPABILITY and tagged OKs for the
server's (Poddebniak et al., "Why TLS is better without STARTTLS", USENIX Security 2021).
The engine must abort with a security error wherever the bytes wait: the parser's buffer
(same segment as the OK) or the stream reader's (a later segment).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

import pytest
from hostile import HostileServer, Peer, Script

from inboxlab.engine.diag.classify import diagnose
from inboxlab.engine.errors import EngineError, SecurityError, TlsError
from inboxlab.engine.imap.client import ImapClient
from inboxlab.fakeserver.tls import TlsMaterial, mint

FORGED = b"* CAPABILITY IMAP4rev1 AUTH=PLAIN FORGED\r\n"


@pytest.fixture(scope="module")
def tls() -> TlsMaterial:
    return mint()


def starttls_server(inject: bytes, *, separate: bool) -> Script:
    """A server that offers STARTTLS and sends ``inject`` after its OK (in the same
    segment, or in a second write), then speaks honest IMAP over TLS."""

    async def script(peer: Peer) -> None:
        await peer.send(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hostile\r\n")
        tag, verb, _ = await peer.command()
        assert verb == b"STARTTLS", verb
        if separate:
            await peer.send(tag + b" OK Begin TLS\r\n")
            await peer.send(inject)
        else:
            await peer.send(tag + b" OK Begin TLS\r\n" + inject)
        await peer.starttls()
        while True:
            tag, verb, _ = await peer.command()
            if not tag:
                return
            if verb == b"CAPABILITY":
                await peer.send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
            else:
                await peer.send(tag + b" OK done\r\n")

    return script


def client(port: int, tls: TlsMaterial, **kw: object) -> ImapClient:
    return ImapClient("127.0.0.1", port, security="starttls",
                      cafile=str(tls.ca_pem_path), timeout=5, connect_timeout=5, **kw)  # type: ignore[arg-type]


async def test_injection_waiting_in_the_stream_reader_buffer_is_refused(tls: TlsMaterial) -> None:
    # read_size=1: the client's reads stop exactly at the OK's line end, so the injected
    # bytes (sent in the same write) are still in asyncio's StreamReader buffer, not
    # the parser's: the buffer the engine did not check before.
    inject = FORGED + b"A0002 OK [CAPABILITY IMAP4rev1 FORGED] forged\r\n"
    async with HostileServer(starttls_server(inject, separate=False), tls=tls) as srv:
        c = client(srv.port, tls, read_size=1)
        with pytest.raises(SecurityError) as err:
            await c.connect()
        assert "FORGED" not in c.caps
    assert err.value.code == "starttls_injection" and err.value.permanent
    assert err.value.stage == "imap_starttls"
    assert b"FORGED" in (err.value.data or b"")
    d = diagnose(err.value)  # diagnostics name it
    assert d.cause.code == "tampering" and d.permanent


async def test_injection_in_the_parser_buffer_is_refused(tls: TlsMaterial) -> None:
    async with HostileServer(starttls_server(FORGED, separate=False), tls=tls) as srv:
        with pytest.raises(SecurityError) as err:
            await client(srv.port, tls).connect()
    assert err.value.code == "starttls_injection"


async def test_injection_in_a_later_segment_is_never_accepted(tls: TlsMaterial) -> None:
    """The attack as reported: the OK, then the injection in its own TCP segment. Each
    try ends in the security error (bytes seen before the handshake) or a failed
    handshake (bytes that reached the TLS layer); forged data is never believed."""
    inject = FORGED + b"A0002 OK [CAPABILITY IMAP4rev1 FORGED] forged\r\n"
    outcomes: dict[str, int] = {}
    async with HostileServer(starttls_server(inject, separate=True), tls=tls) as srv:
        for _ in range(20):
            c = client(srv.port, tls)
            try:
                await c.connect()
            except EngineError as exc:
                outcomes[exc.code] = outcomes.get(exc.code, 0) + 1
            else:
                outcomes["accepted"] = outcomes.get("accepted", 0) + 1
                assert "FORGED" not in c.caps
            finally:
                await c.close()
    assert set(outcomes) <= {"starttls_injection", "tls_handshake", "tls_read", "eof",
                             "connection_reset"}, outcomes


async def test_an_honest_starttls_server_still_works(tls: TlsMaterial) -> None:
    async with HostileServer(starttls_server(b"", separate=False), tls=tls) as srv:
        c = client(srv.port, tls, read_size=1)
        await c.connect()
        assert c.tls and "AUTH=PLAIN" in c.caps and "LOGINDISABLED" not in c.caps
        await c.close()


@pytest.mark.parametrize("greeting", [
    b"* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] logged in already\r\n",
    b"* OK [CAPABILITY IMAP4rev1] no STARTTLS here\r\n",
])
async def test_no_silent_downgrade_when_tls_is_required(tls: TlsMaterial, greeting: bytes) -> None:
    seen: list[bytes] = []

    async def script(peer: Peer) -> None:
        await peer.send(greeting)
        while tag := (await peer.command())[0]:
            seen.append(peer.received[-1])
            await peer.send(b"* CAPABILITY IMAP4rev1\r\n" + tag + b" OK done\r\n")

    async with HostileServer(script, tls=tls) as srv:
        c = client(srv.port, tls)
        with pytest.raises(TlsError) as err:
            await c.connect()
        assert not c._conn.is_open
    assert err.value.code in ("starttls_preauth", "starttls_unavailable")
    assert err.value.permanent
    if err.value.code == "starttls_preauth":  # STARTTLS skipped: someone on the path
        assert diagnose(err.value).cause.code == "tampering"
    assert not any(b"LOGIN" in s or b"AUTHENTICATE" in s for s in seen)


# -- the fake servers: the server-side variant ---------------------------------------------


async def _pipelined_after_starttls(port: int, ca: str, first: bytes, pipelined: bytes,
                                    after_tls: bytes, *, separate: bool) -> bytes:
    """Send ``first`` (ending in STARTTLS) and ``pipelined`` in plaintext, upgrade, send
    ``after_tls``; return what the server said over TLS."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await reader.readline()  # greeting / banner
        if separate:
            writer.write(first)
            await writer.drain()
            writer.write(pipelined)
        else:
            writer.write(first + pipelined)
        await writer.drain()
        while True:  # up to the server's go-ahead
            line = await reader.readline()
            if not line or line.startswith((b"220 ", b"S1 OK")) or b" OK Begin" in line:
                break
        await writer.start_tls(ssl.create_default_context(cafile=ca),
                               server_hostname="localhost")
        writer.write(after_tls)
        await writer.drain()
        got = b""
        async with asyncio.timeout(5):
            while not got.endswith(b"S9 OK done\r\n") and b"S9 " not in got \
                    and not got.rstrip().endswith(b"250 OK") and not got.startswith(b"5"):
                chunk = await reader.read(4096)
                if not chunk:
                    break
                got += chunk
        return got
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


@pytest.mark.parametrize("read_size", [1, 64 * 1024])
async def test_the_fake_imap_server_drops_commands_pipelined_after_starttls(
        read_size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """read_size=1 leaves the pipelined bytes in the server's StreamReader buffer (not
    its parser's) when STARTTLS is answered: the buffer it did not clear before."""
    from inboxlab.fakeserver.config import AccountConfig, FolderConfig, ServerConfig
    from inboxlab.fakeserver.imap import server as imap_server
    from inboxlab.fakeserver.imap.server import FakeImapServer

    monkeypatch.setattr(imap_server, "READ_SIZE", read_size)
    cfg = ServerConfig(accounts=(AccountConfig("u@example.com", "pw-Pa55", (FolderConfig("INBOX"),
                                                                             FolderConfig("Evil"))),))
    material = mint()
    async with FakeImapServer(cfg, tls=material) as srv:
        got = await _pipelined_after_starttls(
            srv.port, str(material.ca_pem_path), b"S1 STARTTLS\r\n",
            b'S2 LOGIN u@example.com pw-Pa55\r\nS3 DELETE Evil\r\n',
            b"S9 NOOP\r\n", separate=False)
    # the pipelined LOGIN never ran: no S2/S3 answer over TLS, and we are not logged in
    assert b"S2 " not in got and b"S3 " not in got, got
    assert b"S9 OK" in got, got
