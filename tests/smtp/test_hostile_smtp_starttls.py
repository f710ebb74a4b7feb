"""SMTP STARTTLS injection, both directions, over loopback.

The engine's SMTP client is aiosmtplib: it discards anything received between the
server's ``220`` and the handshake (RFC 3207 4.2), so forged ESMTP lines never reach
the session; and with ``starttls`` it refuses a server that does not offer STARTTLS.
The fake SMTP server is aiosmtpd, which clears its reader at STARTTLS: commands a
client pipelined after STARTTLS are never run over the encrypted session.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

import pytest
from hostile import HostileServer, Peer, Script
from smtp_kit import PASSWORD, USER, make_store

from inboxlab.engine.crm.errors import SubmitFailed
from inboxlab.engine.crm.send import SmtpSubmitter
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import SmtpServer
from inboxlab.fakeserver.smtp.config import SmtpConfig
from inboxlab.fakeserver.smtp.server import FakeSmtpServer
from inboxlab.fakeserver.tls import TlsMaterial, mint

MAIL = b"From: a@x.test\r\nTo: b@x.test\r\nSubject: hi\r\nMessage-ID: <1@x.test>\r\n\r\nhello\r\n"


@pytest.fixture(scope="module")
def tls() -> TlsMaterial:
    return mint()


def smtp_server(*, offer_starttls: bool, inject: bytes, log: list[bytes]) -> Script:
    async def script(peer: Peer) -> None:
        await peer.send(b"220 hostile ESMTP\r\n")
        over_tls = False
        while line := await peer.line():
            log.append((b"tls " if over_tls else b"plain ") + line)
            verb = line.split(b" ", 1)[0].upper()
            if verb == b"EHLO":
                ext = b"250-STARTTLS\r\n" if offer_starttls and not over_tls else b""
                await peer.send(b"250-hostile\r\n" + ext + b"250 AUTH PLAIN LOGIN\r\n")
            elif verb == b"STARTTLS":
                await peer.send(b"220 go ahead\r\n" + inject)
                await peer.starttls()
                over_tls = True
            elif verb == b"AUTH":
                await peer.send(b"235 ok\r\n")
            elif verb == b"DATA":
                await peer.send(b"354 go\r\n")
                while (await peer.line()) != b".":
                    pass
                await peer.send(b"250 queued as REAL\r\n")
            elif verb == b"QUIT":
                await peer.send(b"221 bye\r\n")
                return
            else:
                await peer.send(b"250 ok\r\n")

    return script


async def test_the_engine_never_believes_smtp_lines_injected_after_starttls(
        tls: TlsMaterial) -> None:
    log: list[bytes] = []
    # forged: a "250" that would answer EHLO and the MAIL FROM before the real server does
    inject = b"250-forged\r\n250 AUTH FORGED\r\n250 forged-mail\r\n250 queued as FORGED\r\n"
    async with HostileServer(smtp_server(offer_starttls=True, inject=inject, log=log),
                             tls=tls) as srv:
        sub = SmtpSubmitter(SmtpServer("127.0.0.1", srv.port, "starttls"), USER,
                            Secret(PASSWORD), tls_context=tls.client_context(), timeout=5)
        reply = await sub.submit("a@x.test", ["b@x.test"], MAIL)
        await sub.close()
    assert "REAL" in reply and "FORGED" not in reply
    # everything after STARTTLS (EHLO, AUTH, MAIL...) went over TLS
    after = log[[e.startswith(b"plain STARTTLS") for e in log].index(True) + 1:]
    assert after and all(e.startswith(b"tls ") for e in after), log


async def test_the_engine_refuses_an_smtp_server_without_starttls(tls: TlsMaterial) -> None:
    log: list[bytes] = []
    async with HostileServer(smtp_server(offer_starttls=False, inject=b"", log=log),
                             tls=tls) as srv:
        sub = SmtpSubmitter(SmtpServer("127.0.0.1", srv.port, "starttls"), USER,
                            Secret(PASSWORD), tls_context=tls.client_context(), timeout=5)
        with pytest.raises(SubmitFailed):
            await sub.submit("a@x.test", ["b@x.test"], MAIL)
        await sub.close()
    assert not any(b"AUTH" in e for e in log), log  # no password in plaintext


async def test_the_fake_smtp_server_drops_commands_pipelined_after_starttls() -> None:
    material = mint()
    server = FakeSmtpServer.for_store(SmtpConfig(), make_store(), tls=material)
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            await reader.readline()
            writer.write(b"EHLO me\r\n")
            while not (await reader.readline()).startswith(b"250 "):
                pass
            # STARTTLS and, in the same segment, a plaintext command the server must drop
            writer.write(b"STARTTLS\r\nHELP\r\n")
            assert (await reader.readline()).startswith(b"220")
            await writer.start_tls(ssl.create_default_context(cafile=str(material.ca_pem_path)),
                                   server_hostname="localhost")
            writer.write(b"NOOP\r\n")
            async with asyncio.timeout(5):
                first = await reader.readline()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    assert first.startswith(b"250"), first  # NOOP's answer, not HELP's (214)
