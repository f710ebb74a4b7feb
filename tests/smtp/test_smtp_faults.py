"""Each scripted SMTP fault, observed exactly as a real client sees it.

Client libraries are checked (smtplib, aiosmtplib) for the exception and the code a
connector will handle; a raw socket checks what the server itself did on the wire
(aiosmtplib closes on 421 by itself, so only the wire shows the server hung up).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import smtplib
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib
import pytest
from smtp_kit import PASSWORD, USER, make_store, smtps_client

from inboxlab.fakeserver.smtp.config import SmtpConfig, SmtpFault
from inboxlab.fakeserver.smtp.server import FakeSmtpServer
from inboxlab.fakeserver.tls import TlsMaterial, mint

RCPT = "bob@client.test"


@pytest.fixture(scope="module")
def tls() -> TlsMaterial:
    return mint()


@pytest.fixture
async def server(tls: TlsMaterial) -> AsyncIterator[FakeSmtpServer]:
    srv = FakeSmtpServer.for_store(
        SmtpConfig(), make_store(), tls=tls, now=lambda: datetime(2024, 1, 1, tzinfo=UTC)
    )
    async with srv:
        yield srv


def message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = USER, RCPT, "Faults"
    msg["Message-ID"] = "<f1@crm.test>"
    msg.set_content("line one\nline two\n" * 50)
    return msg


def send_with_smtplib(server: FakeSmtpServer, ctx: ssl.SSLContext) -> None:
    assert server.tls_port is not None
    with smtplib.SMTP_SSL(server.host, server.tls_port, context=ctx, timeout=10) as client:
        client.login(USER, PASSWORD)
        client.send_message(message())


class Wire:
    """A bare client on the implicit-TLS port: sends lines, reads replies, sees EOF."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, server: FakeSmtpServer, tls: TlsMaterial) -> Wire:
        assert server.tls_port is not None
        reader, writer = await asyncio.open_connection(
            server.host, server.tls_port, ssl=tls.client_context()
        )
        return cls(reader, writer)

    async def reply(self) -> list[str]:
        lines: list[str] = []
        while True:
            line = (await asyncio.wait_for(self.reader.readline(), 10)).decode()
            assert line, f"connection closed after {lines}"
            lines.append(line.rstrip("\r\n"))
            if line[3:4] != "-":
                return lines

    async def cmd(self, line: str) -> list[str]:
        self.writer.write(line.encode() + b"\r\n")
        await self.writer.drain()
        return await self.reply()

    async def login(self) -> None:
        assert (await self.reply())[0].startswith("220")
        await self.cmd("EHLO wire.test")
        token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
        assert (await self.cmd(f"AUTH PLAIN {token}"))[0].startswith("235")

    async def closed_by_server(self) -> bool:
        try:
            rest = await asyncio.wait_for(self.reader.read(), 10)
        except (ConnectionResetError, ssl.SSLError):
            return True
        return rest == b""

    def close(self) -> None:
        self.writer.close()


async def test_421_at_connect_closes_before_the_greeting(server, tls) -> None:
    server.faults.arm(SmtpFault("421", "connect", message="4.7.0 Too many connections"))
    with pytest.raises(smtplib.SMTPConnectError) as info:
        await asyncio.to_thread(send_with_smtplib, server, tls.client_context())
    assert info.value.smtp_code == 421
    assert b"Too many connections" in info.value.smtp_error
    # The fault fired once: the next connection is served normally.
    await asyncio.to_thread(send_with_smtplib, server, tls.client_context())
    assert len(server.log.outside(RCPT)) == 1


async def test_421_mid_session_is_said_then_the_server_hangs_up(server, tls) -> None:
    server.faults.arm(SmtpFault("421", "mail"))
    wire = await Wire.open(server, tls)
    try:
        await wire.login()
        reply = await wire.cmd(f"MAIL FROM:<{USER}>")
        assert reply == ["421 4.3.2 Service not available, closing transmission channel"]
        assert await wire.closed_by_server()
    finally:
        wire.close()
    assert [f.kind for f in server.faults.fired] == ["421"]


async def test_421_at_ehlo_with_aiosmtplib(server, tls) -> None:
    server.faults.arm(SmtpFault("421", "ehlo"))
    client = smtps_client(server, tls)
    await client.connect()
    with pytest.raises(aiosmtplib.SMTPHeloError) as info:
        await client.ehlo()
    assert info.value.code == 421
    assert not client.is_connected


async def test_451_is_temporary_and_the_session_survives(server, tls) -> None:
    server.faults.arm(SmtpFault("451", "rcpt"))
    client = smtps_client(server, tls)
    async with client:
        await client.login(USER, PASSWORD)
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as info:
            await client.send_message(message())
        [refused] = info.value.recipients
        assert refused.code == 451 and refused.message.startswith("4.3.0")
        assert client.is_connected
        await client.rset()
        await client.send_message(message())  # the retry goes through
    assert len(server.log.outside(RCPT)) == 1


async def test_452_insufficient_storage_refuses_the_recipient_for_now(server, tls) -> None:
    server.faults.arm(SmtpFault("452", "rcpt"))
    client = smtps_client(server, tls)
    async with client:
        await client.login(USER, PASSWORD)
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as info:
            await client.send_message(message())
        [refused] = info.value.recipients
        assert refused.code == 452 and refused.message == "4.3.1 Insufficient system storage"
        assert client.is_connected
    assert server.log.deliveries == []
    assert [(f.kind, f.transient, f.closes) for f in server.faults.fired] == [
        ("452", True, False)]


async def test_451_after_data_with_smtplib(server, tls) -> None:
    server.faults.arm(SmtpFault("451", "data", times=2))
    for _ in range(2):
        with pytest.raises(smtplib.SMTPDataError) as info:
            await asyncio.to_thread(send_with_smtplib, server, tls.client_context())
        assert info.value.smtp_code == 451
    assert server.log.deliveries == []
    await asyncio.to_thread(send_with_smtplib, server, tls.client_context())
    assert len(server.log.outside(RCPT)) == 1


async def test_535_refuses_even_correct_credentials(server, tls) -> None:
    server.faults.arm(SmtpFault("535", "auth", message="5.7.8 Username and Password not accepted"))
    with pytest.raises(smtplib.SMTPAuthenticationError) as info:
        await asyncio.to_thread(send_with_smtplib, server, tls.client_context())
    assert info.value.smtp_code == 535
    assert b"Username and Password not accepted" in info.value.smtp_error
    assert server.log.deliveries == []
    # smtplib tried every mechanism on that connection; the refusal held for all of
    # them, and the fault (times=1) is spent: the next connection logs in.
    assert len(server.faults.fired) == 1
    await asyncio.to_thread(send_with_smtplib, server, tls.client_context())
    assert len(server.log.outside(RCPT)) == 1


async def test_552_at_end_of_data(server, tls) -> None:
    server.faults.arm(SmtpFault("552", "data"))
    client = smtps_client(server, tls)
    async with client:
        await client.login(USER, PASSWORD)
        with pytest.raises(aiosmtplib.SMTPDataError) as info:
            await client.send_message(message())
        assert info.value.code == 552
    assert server.log.deliveries == []


async def test_552_at_mail_with_smtplib(server, tls) -> None:
    server.faults.arm(SmtpFault("552", "mail"))
    with pytest.raises(smtplib.SMTPSenderRefused) as info:
        await asyncio.to_thread(send_with_smtplib, server, tls.client_context())
    assert info.value.smtp_code == 552


async def test_drop_mid_data_is_a_disconnect_and_nothing_is_delivered(server, tls, caplog
                                                                      ) -> None:
    server.faults.arm(SmtpFault("drop_mid_data", "data"))
    with caplog.at_level(logging.INFO, logger="mail.log"), pytest.raises(
        smtplib.SMTPServerDisconnected
    ):
        await asyncio.to_thread(send_with_smtplib, server, tls.client_context())
    # The cut is clean: no body line already buffered was read as a command.
    assert not [r for r in caplog.records if "unrecognised" in r.getMessage()]
    assert server.log.deliveries == []
    assert [f.kind for f in server.faults.fired] == ["drop_mid_data"]
    # The server itself is fine: the next submission is delivered.
    await asyncio.to_thread(send_with_smtplib, server, tls.client_context())
    assert len(server.log.outside(RCPT)) == 1


async def test_drop_mid_data_seen_by_aiosmtplib_and_on_the_wire(server, tls) -> None:
    server.faults.arm(SmtpFault("drop_mid_data", "data", times=2))
    client = smtps_client(server, tls)
    async with client:
        await client.login(USER, PASSWORD)
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await client.send_message(message())

    wire = await Wire.open(server, tls)
    try:
        await wire.login()
        await wire.cmd(f"MAIL FROM:<{USER}>")
        await wire.cmd(f"RCPT TO:<{RCPT}>")
        assert (await wire.cmd("DATA"))[0].startswith("354")
        wire.writer.write(b"Subject: half a message\r\n")
        await wire.writer.drain()
        assert await wire.closed_by_server()  # no reply line: the socket just ends
    finally:
        wire.close()
    assert server.log.deliveries == []


async def test_faults_from_the_config_fire_in_order() -> None:
    tls = mint()
    config = SmtpConfig(faults=(SmtpFault("451", "mail"), SmtpFault("421", "mail")))
    async with FakeSmtpServer.for_store(config, make_store(), tls=tls) as srv:
        for code, exc in ((451, smtplib.SMTPSenderRefused), (421, smtplib.SMTPSenderRefused)):
            with pytest.raises(exc) as info:
                await asyncio.to_thread(send_with_smtplib, srv, tls.client_context())
            assert info.value.smtp_code == code
        await asyncio.to_thread(send_with_smtplib, srv, tls.client_context())
        assert [f.kind for f in srv.faults.fired] == ["451", "421"]


async def test_drop_after_data_stores_the_message_then_cuts_without_a_reply(server, tls
                                                                             ) -> None:
    server.faults.arm(SmtpFault("drop_after_data", "data"))
    wire = await Wire.open(server, tls)
    try:
        await wire.login()
        await wire.cmd(f"MAIL FROM:<{USER}>")
        await wire.cmd(f"RCPT TO:<{RCPT}>")
        assert (await wire.cmd("DATA"))[0].startswith("354")
        wire.writer.write(message().as_bytes().replace(b"\n", b"\r\n") + b".\r\n")
        await wire.writer.drain()
        assert await wire.closed_by_server()  # no 250: the client cannot know
    finally:
        wire.close()
    [stored] = server.log.outside(RCPT)  # ... but the provider has it
    assert stored.message()["Message-ID"] == "<f1@crm.test>"


async def test_stall_after_data_stores_and_never_answers(server, tls) -> None:
    server.faults.arm(SmtpFault("stall_after_data", "data"))
    client = aiosmtplib.SMTP(hostname=server.host, port=server.tls_port, use_tls=True,
                             tls_context=tls.client_context(), timeout=0.5)
    async with client:
        await client.login(USER, PASSWORD)
        with pytest.raises(aiosmtplib.SMTPTimeoutError):
            await client.send_message(message())
    assert len(server.log.outside(RCPT)) == 1
