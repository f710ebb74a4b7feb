"""The fake SMTP server over loopback, driven by real clients (smtplib, aiosmtplib)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib
import pytest

from fakeserver.smtp.config import PersonaSpec, SmtpConfig
from fakeserver.smtp.server import FakeSmtpServer
from fakeserver.tls import TlsMaterial, mint

USER, PASSWORD = "sam@crm.test", "correct horse"
COLLEAGUE = "kim@crm.test"
NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


@dataclass
class MemoryMailboxes:
    """Accounts and folders as dicts; stands in for the Store in server-only tests."""

    folders: dict[str, dict[str, list[tuple[bytes, frozenset[str]]]]] = field(
        default_factory=lambda: {
            USER: {"INBOX": [], "Sent": []},
            COLLEAGUE: {"INBOX": []},
        }
    )
    passwords: dict[str, str] = field(default_factory=lambda: {USER: PASSWORD, COLLEAGUE: "x"})

    def owner_of(self, address: str) -> str | None:
        return next((a for a in self.folders if a.lower() == address.lower()), None)

    def append(
        self, account: str, folder: str, raw: bytes, flags: frozenset[str], when: datetime
    ) -> int:
        box = self.folders[account][folder]
        box.append((raw, flags))
        return len(box)

    def check_login(self, login: str, password: str) -> str | None:
        return login if self.passwords.get(login) == password else None


@pytest.fixture(scope="module")
def tls() -> TlsMaterial:
    return mint()


Start = Callable[..., "asyncio.Future[FakeSmtpServer]"]


@pytest.fixture
async def make_server(tls: TlsMaterial) -> AsyncIterator[Callable[..., object]]:
    started: list[FakeSmtpServer] = []

    async def make(config: SmtpConfig | None = None, boxes: MemoryMailboxes | None = None
                   ) -> FakeSmtpServer:
        boxes = boxes or MemoryMailboxes()
        server = FakeSmtpServer(
            config or SmtpConfig(), boxes, boxes.check_login, tls=tls, now=lambda: NOW
        )
        server.mailboxes = boxes  # type: ignore[attr-defined]
        await server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        await server.stop()


def message(to: str, subject: str = "Hello", body: str = "Hi there.\n", size: int = 0
            ) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = USER
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = "<m1@crm.test>"
    msg.set_content(body + "x" * size)
    return msg


def smtplib_send(server: FakeSmtpServer, ctx: ssl.SSLContext, msg: EmailMessage,
                 *, login: tuple[str, str] = (USER, PASSWORD)) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=10) as client:
        client.starttls(context=ctx)
        client.login(*login)
        client.send_message(msg)


async def test_starttls_auth_plain_local_and_outside_delivery(make_server, tls) -> None:
    server = await make_server()
    msg = message(f"{COLLEAGUE}, bob@client.test")
    await asyncio.to_thread(smtplib_send, server, tls.client_context(), msg)

    inbox = server.mailboxes.folders[COLLEAGUE]["INBOX"]
    assert len(inbox) == 1
    raw, flags = inbox[0]
    assert flags == frozenset()
    assert raw.startswith(b"Return-Path: <sam@crm.test>\r\nReceived: from ")
    assert b"with ESMTPSA id" in raw and b"Message-ID: <m1@crm.test>" in raw
    outside = server.log.outside("BOB@client.test")
    assert [d.message()["Subject"] for d in outside] == ["Hello"]
    assert server.log.outside_world().keys() == {"bob@client.test"}
    assert server.mailboxes.folders[USER]["Sent"] == []  # no auto-save unless the profile says


async def test_implicit_tls_auth_login_with_aiosmtplib(make_server, tls) -> None:
    server = await make_server()
    assert server.tls_port is not None
    client = aiosmtplib.SMTP(
        hostname=server.host, port=server.tls_port, use_tls=True, tls_context=tls.client_context()
    )
    async with client:
        await client.ehlo()
        assert "auth" in client.esmtp_extensions
        assert "starttls" not in client.esmtp_extensions
        await client.auth_login(USER, PASSWORD)
        await client.send_message(message("bob@client.test"))
    delivered = await server.log.wait_for(rcpt="bob@client.test", kind="outside")
    assert delivered.mail_from == USER


async def test_the_certificate_is_checked_by_the_client(make_server) -> None:
    server = await make_server()
    stranger = mint().client_context()  # trusts a different CA
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.to_thread(smtplib_send, server, stranger, message("bob@client.test"))


async def test_wrong_password_is_535(make_server, tls) -> None:
    server = await make_server()
    with pytest.raises(smtplib.SMTPAuthenticationError) as info:
        await asyncio.to_thread(
            smtplib_send, server, tls.client_context(), message("b@c.test"), login=(USER, "no")
        )
    assert info.value.smtp_code == 535
    assert server.log.deliveries == []


async def test_auth_needs_tls_and_mail_needs_auth(make_server) -> None:
    server = await make_server()
    client = aiosmtplib.SMTP(hostname=server.host, port=server.port, start_tls=False)
    async with client:
        await client.ehlo()
        assert "auth" not in client.esmtp_extensions  # not offered in clear text
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as info:
            await client.mail(USER)
        assert info.value.code == 530


async def test_require_starttls_refuses_commands_in_clear(make_server) -> None:
    server = await make_server(SmtpConfig(require_starttls=True, auth_required=False))
    client = aiosmtplib.SMTP(hostname=server.host, port=server.port, start_tls=False)
    async with client:
        await client.ehlo()
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as info:
            await client.mail(USER)
        assert info.value.code == 530
        assert "STARTTLS" in info.value.message


async def test_size_limit_is_advertised_and_enforced(make_server, tls) -> None:
    server = await make_server(SmtpConfig(data_size_limit=2000))
    client = aiosmtplib.SMTP(
        hostname=server.host, port=server.port, start_tls=True, tls_context=tls.client_context()
    )
    async with client:
        await client.login(USER, PASSWORD)
        assert client.esmtp_extensions["size"] == "2000"
        # Declared too big: refused at MAIL FROM, before any data is sent.
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as declared:
            await client.mail(USER, options=["SIZE=5000"])
        assert declared.value.code == 552
        await client.rset()
        # Undeclared and too big: refused after DATA.
        await client.mail(USER)
        await client.rcpt("bob@client.test")
        with pytest.raises(aiosmtplib.SMTPDataError) as sent:
            await client.data(message("bob@client.test", size=5000).as_bytes())
        assert sent.value.code == 552
    assert server.log.deliveries == []


async def test_autosave_files_the_submitted_copy_in_sent(make_server, tls) -> None:
    server = await make_server(SmtpConfig(autosave_sent_folder="Sent"))
    msg = message("bob@client.test")
    await asyncio.to_thread(smtplib_send, server, tls.client_context(), msg)
    sent = server.mailboxes.folders[USER]["Sent"]
    assert len(sent) == 1
    raw, flags = sent[0]
    assert flags == frozenset({"\\Seen"})
    assert b"Received:" not in raw and b"Return-Path:" not in raw  # as sent
    assert b"Message-ID: <m1@crm.test>" in raw
    kinds = [d.kind for d in server.log.deliveries]
    assert kinds == ["outside", "sent_copy"]


async def test_autosave_into_a_missing_folder_is_recorded_not_fatal(make_server, tls) -> None:
    server = await make_server(SmtpConfig(autosave_sent_folder="Sent Items"))
    await asyncio.to_thread(smtplib_send, server, tls.client_context(), message("b@c.test"))
    failed = await server.log.wait_for(kind="failed")
    assert failed.error is not None and "Sent Items" in failed.error
    assert server.log.outside("b@c.test")  # the mail itself still went out


async def test_persona_answer_is_delivered_to_the_sender(make_server, tls) -> None:
    persona = PersonaSpec("bob@client.test", "Bob", body="Deal.", attach=True)
    server = await make_server(SmtpConfig(personas=(persona,)))
    await asyncio.to_thread(smtplib_send, server, tls.client_context(), message("bob@client.test"))
    reply = await server.log.wait_for(rcpt=USER, kind="local")
    assert reply.source == "persona" and reply.folder == "INBOX"
    msg = reply.message()
    assert msg["In-Reply-To"] == "<m1@crm.test>"
    assert msg["Subject"] == "Re: Hello"
    assert [a.get_filename() for a in msg.iter_attachments()] == ["notes.pdf"]
