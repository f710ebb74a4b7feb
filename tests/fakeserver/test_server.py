"""The asyncio server over real loopback sockets: TLS, IDLE, streaming, hooks, limits."""

from __future__ import annotations

import asyncio
import imaplib
import os
import signal
import subprocess
import sys
from dataclasses import replace

import pytest

from inboxlab.fakeserver.config import AccountConfig, FolderConfig
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.imap.hooks import Reply, ServerHooks
from inboxlab.fakeserver.imap.server import FakeImapServer

USER, PASSWORD = "user@example.com", "inboxlab-demo"


async def test_starttls_and_implicit_tls_with_imaplib(server) -> None:
    ctx = server.client_ssl_context()

    def run() -> tuple[list[str], list[str]]:
        plain = imaplib.IMAP4(server.host, server.port)
        plain.starttls(ssl_context=ctx)
        plain.login(USER, PASSWORD)
        caps_after_tls = list(plain.capabilities)
        plain.logout()
        secure = imaplib.IMAP4_SSL(server.host, server.tls_port, ssl_context=ctx)
        secure.login(USER, PASSWORD)
        typ, data = secure.select("INBOX")
        secure.logout()
        return caps_after_tls, [typ, data[0].decode()]

    caps, selected = await asyncio.to_thread(run)
    assert "STARTTLS" not in caps
    assert selected == ["OK", "20"]
    assert server.ca_pem_path.read_text().startswith("-----BEGIN CERTIFICATE-----")


async def test_idle_sees_another_connections_append(server, client, connect) -> None:
    await client.login()
    await client.command("s", "SELECT INBOX")
    await client.send(b"i IDLE\r\n")
    assert await client.line() == b"+ idling\r\n"
    other = await connect(server, login=True)
    reply = await other.command("a", "APPEND INBOX {5+}\r\nhello")
    assert reply[-1].startswith(b"a OK [APPENDUID ")
    assert await client.line() == b"* 21 EXISTS\r\n"
    assert await client.line() == b"* 1 RECENT\r\n"  # the first to learn of it (RFC 3501)
    await other.command("f", "SELECT INBOX")
    await other.command("g", "STORE 2 +FLAGS.SILENT (\\Flagged)")
    assert (await client.line()).startswith(b"* 2 FETCH (UID 2 FLAGS (\\Flagged")
    await client.send(b"DONE\r\n")
    assert await client.line() == b"i OK IDLE terminated\r\n"
    await other.close()


async def test_disconnect_mid_literal_leaves_nothing(server, client, connect) -> None:
    await client.login()
    sent = server.store.accounts[USER].folder("Sent")
    await client.send(b"a APPEND Sent {100}\r\n")
    assert await client.line() == b"+ Ready for literal data\r\n"
    await client.send(b"From: half@example.com\r\nSubject: cut")
    await client.close()
    fresh = await connect(server, login=True)
    status = await fresh.command("s", "STATUS Sent (MESSAGES)")
    assert status[0] == b'* STATUS "Sent" (MESSAGES 0)\r\n'
    assert len(sent) == 0
    await fresh.close()


async def test_one_clients_garbage_does_not_disturb_another(server, client, connect) -> None:
    other = await connect(server, login=True)
    await client.send(b"\xff\xfe\x00garbage (((\r\n")
    assert (await client.line()).startswith(b"* BAD ")
    await client.send(b"x FETCH 1:* ((FLAGS)\r\n")
    assert (await client.line()).startswith(b"x BAD ")
    assert (await other.command("n", "NOOP"))[-1] == b"n OK NOOP completed\r\n"
    assert (await client.command("m", "NOOP"))[-1] == b"m OK NOOP completed\r\n"
    await other.close()


async def test_oversized_literal_plus_is_fatal(config_factory, connect) -> None:
    async with FakeImapServer(replace(config_factory(), max_literal=1000)) as srv:
        c = await connect(srv, login=True)
        await c.send(b"a APPEND INBOX {5000+}\r\n")
        rest = await c.closed()
        assert rest.startswith(b"* BYE ")


async def test_autologout_after_idle_timeout(config_factory, connect) -> None:
    async with FakeImapServer(replace(config_factory(), idle_timeout_s=0.2)) as srv:
        c = await connect(srv)
        assert await c.closed() == b"* BYE Autologout; idle for too long\r\n"


class Recorder(ServerHooks):
    def __init__(self) -> None:
        self.chunks: list[tuple[int, str, bytes]] = []
        self.disconnected: list[int] = []

    def on_transcript(self, conn, direction, data) -> None:
        self.chunks.append((conn.conn_id, direction, data))

    def on_disconnect(self, conn) -> None:
        self.disconnected.append(conn.conn_id)


async def test_transcript_redacts_every_credential_form(config_factory, connect) -> None:
    import base64

    hooks = Recorder()
    async with FakeImapServer(config_factory(), hooks=hooks) as srv:
        c = await connect(srv)
        await c.command("a", f"LOGIN {USER} {PASSWORD}")
        await c.command("z", "LOGOUT")
        c2 = await connect(srv)
        await c2.send(f"b LOGIN {USER} {{{len(PASSWORD)}}}\r\n".encode())
        assert (await c2.line()).startswith(b"+ ")
        await c2.send(PASSWORD.encode() + b"\r\n")  # the literal, then the line's end
        assert (await c2.until_tagged("b"))[-1].startswith(b"b OK")
        c3 = await connect(srv)
        await c3.send(b"c AUTHENTICATE PLAIN\r\n")
        assert await c3.line() == b"+ \r\n"
        token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
        await c3.send(token.encode() + b"\r\n")
        assert (await c3.until_tagged("c"))[-1].startswith(b"c OK")
    inbound = b"".join(data for _id, d, data in hooks.chunks if d == "in")
    assert PASSWORD.encode() not in inbound and token.encode() not in inbound
    assert b"a LOGIN [redacted]" in inbound and b"c AUTHENTICATE PLAIN [redacted]" in inbound
    assert b"z LOGOUT" in inbound  # ordinary commands stay readable
    assert sorted(hooks.disconnected) == [1, 2, 3]


async def test_on_connect_hook_can_refuse_with_bye(config_factory, connect) -> None:
    class Full(ServerHooks):
        def on_connect(self, conn):
            return Reply(b"* BYE [UNAVAILABLE] Too many connections\r\n", close=True)

    async with FakeImapServer(config_factory(), hooks=Full()) as srv:
        c = await connect(srv)
        assert c.greeting == b"* BYE [UNAVAILABLE] Too many connections\r\n"
        assert await c.closed() == b""


async def test_big_fetch_streams_while_other_clients_are_served(config_factory,
                                                                  connect) -> None:
    """A client that does not read stalls only itself (backpressure), not the server."""
    async with FakeImapServer(config_factory(count=20000)) as srv:
        slow = await connect(srv, login=True)
        await slow.command("s", "SELECT INBOX")
        await slow.send(b"f FETCH 1:* (UID BODY.PEEK[])\r\n")  # ~70 MB; nobody reads yet
        quick = await connect(srv, login=True)
        assert (await quick.command("n", "NOOP"))[-1] == b"n OK NOOP completed\r\n"
        # The stalled FETCH waits in drain(): its unsent bytes stay bounded (not ~70 MB).
        stalled = srv.connections[1].writer.transport.get_write_buffer_size()
        assert stalled < 2 * 1024 * 1024
        lines = await slow.until_tagged("f")
        assert len(lines) == 20001 and lines[-1] == b"f OK FETCH completed\r\n"


async def test_uidvalidity_reset_ends_the_selected_session(server, client) -> None:
    await client.login()
    await client.command("s", "SELECT INBOX")
    server.store.reset_uidvalidity(server.store.accounts[USER].folder("INBOX"))
    await client.send(b"n NOOP\r\n")
    assert (await client.closed()).startswith(b"* BYE [UNAVAILABLE] UIDVALIDITY changed")


async def test_non_ascii_folder_names_are_modified_utf7(config_factory, connect) -> None:
    account = AccountConfig(USER, PASSWORD, (
        FolderConfig("INBOX", generated=GenSpec(count=1, seed=1)),
        FolderConfig("Elementy wysłane", special_use=("\\Sent",)),
    ))
    async with FakeImapServer(replace(config_factory(), accounts=(account,))) as srv:
        c = await connect(srv, login=True)
        listing = await c.command("l", 'LIST "" "*"')
        assert b'"Elementy wys&AUI-ane"' in b"".join(listing)
        assert (await c.command("s", 'SELECT "Elementy wys&AUI-ane"'))[-1].startswith(b"s OK")
        await c.close()


def test_serve_cli_prints_endpoints_and_stops_cleanly_on_sigint(tmp_path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "inboxlab.cli.main", "fakeserver", "serve"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # blocks until the server prints; ends if it dies
            seen.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(seen)
        assert "IMAP:" in text and "CA file:" in text and "user@example.com" in text
        port = int(next(ln for ln in seen if "IMAP:" in ln).split()[1])
        conn = imaplib.IMAP4("127.0.0.1", port)
        assert conn.login(USER, PASSWORD)[0] == "OK"
        conn.logout()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("scenario", ["no-such-scenario"])
def test_serve_cli_refuses_unknown_scenarios(scenario) -> None:
    from inboxlab.lab.cli import serve_main

    assert serve_main(scenario, "127.0.0.1", 0, 0) == 3


async def test_a_busy_tls_port_leaves_nothing_listening(server, config_factory) -> None:
    clash = FakeImapServer(config_factory(), tls_port=server.port)  # already taken
    with pytest.raises(OSError):
        await clash.start()
    with pytest.raises(OSError):
        await asyncio.open_connection(clash.host, clash.port)


async def test_wrong_hostname_certificate_fails_verification(config_factory, tmp_path) -> None:
    import ssl

    from inboxlab.fakeserver.tls import mint

    material = mint(tmp_path, wrong_hostname="mail.example.net")
    assert (tmp_path / "ca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    async with FakeImapServer(config_factory(), tls=material) as srv:
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
            await asyncio.open_connection(srv.host, srv.tls_port,
                                          ssl=srv.client_ssl_context())
