"""The fake SMTP server over loopback, driven by real clients (smtplib, aiosmtplib)."""

from __future__ import annotations

import asyncio
import json
import smtplib
import ssl
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib
import pytest
from smtp_kit import COLLEAGUE, PASSWORD, USER, ManualTimer, make_store, smtps_client

from inboxlab.fakeserver.smtp.config import PersonaSpec, SmtpConfig, SmtpFault
from inboxlab.fakeserver.smtp.delivery import StoreMailboxes
from inboxlab.fakeserver.smtp.server import FakeSmtpServer
from inboxlab.fakeserver.store import Store
from inboxlab.fakeserver.tls import TlsMaterial, mint

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def messages(store: Store, account: str, folder: str) -> list[tuple[bytes, frozenset[str]]]:
    box = store.accounts[account].get(folder)
    return [(box.raw(uid), box.flags(uid)) for uid in box.uids()]


@pytest.fixture(scope="module")
def tls() -> TlsMaterial:
    return mint()


@pytest.fixture
async def make_server(tls: TlsMaterial) -> AsyncIterator[Callable[..., object]]:
    started: list[FakeSmtpServer] = []

    async def make(config: SmtpConfig | None = None) -> FakeSmtpServer:
        server = FakeSmtpServer.for_store(
            config or SmtpConfig(), make_store(), tls=tls, now=lambda: NOW
        )
        await server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        await server.stop()


def store(server: FakeSmtpServer) -> Store:
    boxes = server.router.mailboxes
    assert isinstance(boxes, StoreMailboxes)
    return boxes.store


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
    events: list[object] = []
    store(server).accounts[COLLEAGUE].get("INBOX").subscribe(events.append)
    await asyncio.to_thread(smtplib_send, server, tls.client_context(), msg)

    assert [type(e).__name__ for e in events] == ["Exists"]  # what wakes IMAP IDLE
    inbox = messages(store(server), COLLEAGUE, "INBOX")
    assert len(inbox) == 1
    raw, flags = inbox[0]
    assert flags == frozenset()
    assert raw.startswith(b"Return-Path: <sam@crm.test>\r\nReceived: from ")
    assert b"with ESMTPSA id" in raw and b"Message-ID: <m1@crm.test>" in raw
    outside = server.log.outside("BOB@client.test")
    assert [d.message()["Subject"] for d in outside] == ["Hello"]
    assert server.log.outside_world().keys() == {"bob@client.test"}
    assert messages(store(server), USER, "Sent") == []  # no auto-save unless the profile says


async def test_implicit_tls_auth_login_with_aiosmtplib(make_server, tls) -> None:
    server = await make_server()
    assert server.tls_port is not None
    client = smtps_client(server, tls)
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


@pytest.mark.parametrize("folder", ["Sent", "\\Sent"])
async def test_autosave_files_the_submitted_copy_in_sent(make_server, tls, folder) -> None:
    server = await make_server(SmtpConfig(autosave_sent_folder=folder))
    msg = message("bob@client.test")
    await asyncio.to_thread(smtplib_send, server, tls.client_context(), msg)
    sent = messages(store(server), USER, "Sent")
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


async def test_persona_delay_runs_on_the_injected_timer(tls) -> None:
    timer = ManualTimer()
    persona = PersonaSpec("bob@client.test", action="reply_from_other",
                          other_address="bob@mobile.test", delay_s=3600)
    config = SmtpConfig(personas=(persona,))
    async with FakeSmtpServer.for_store(config, make_store(), tls=tls, timer=timer) as server:
        await asyncio.to_thread(
            smtplib_send, server, tls.client_context(), message("bob@client.test")
        )
        assert server.personas is not None and server.personas.waiting == 1
        timer.advance(3599)
        assert messages(store(server), USER, "INBOX") == []
        timer.advance(1)
        [(raw, flags)] = messages(store(server), USER, "INBOX")
    assert flags == frozenset()
    assert b"From: bob@mobile.test" in raw and b"In-Reply-To: <m1@crm.test>" in raw


async def test_summary_is_json_ready_and_has_no_bodies(make_server, tls) -> None:
    server = await make_server()
    await asyncio.to_thread(smtplib_send, server, tls.client_context(), message(COLLEAGUE))
    server.faults.arm(SmtpFault("451", "rcpt", times=3))
    server.faults.take("rcpt")
    summary = json.loads(json.dumps(server.summary()))
    assert summary["port"] == server.port
    assert summary["faults_pending"] == [{"kind": "451", "stage": "rcpt", "left": 2}]
    assert summary["faults_fired"] == [{"kind": "451", "stage": "rcpt", "transient": True}]
    [delivery] = summary["deliveries"]
    assert delivery["kind"] == "local" and delivery["rcpt"] == COLLEAGUE
    assert delivery["subject"] == "Hello" and delivery["message_id"] == "<m1@crm.test>"
    assert "Hi there" not in json.dumps(summary)
