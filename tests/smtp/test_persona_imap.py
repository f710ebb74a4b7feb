"""End to end: submit over SMTP, a persona answers, the answer is read back over IMAP.

The SMTP and IMAP fake servers share one loop, one Store and one CA, as in a scenario.
imaplib is blocking, so it runs in a worker thread while the servers run on the loop.
"""

from __future__ import annotations

import asyncio
import email
import imaplib
import ssl
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage

import aiosmtplib
import imapclient
import pytest

from inboxlab.fakeserver.config import AccountConfig, FolderConfig, ServerConfig
from inboxlab.fakeserver.imap.server import FakeImapServer
from inboxlab.fakeserver.smtp.config import PersonaSpec, SmtpConfig
from inboxlab.fakeserver.smtp.server import FakeSmtpServer

USER, PASSWORD = "sam@crm.test", "imap and smtp share me"
COLLEAGUE, COLLEAGUE_PASSWORD = "kim@crm.test", "kim's"
BUYER = "bob@client.test"
ORIGINAL_ID = "<deal-1@crm.test>"


@dataclass
class Lab:
    imap: FakeImapServer
    smtp: FakeSmtpServer
    ctx: ssl.SSLContext


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    folders = (FolderConfig("INBOX"), FolderConfig("Sent", special_use=("\\Sent",)))
    config = ServerConfig(
        accounts=(
            AccountConfig(USER, PASSWORD, folders),
            AccountConfig(COLLEAGUE, COLLEAGUE_PASSWORD, (FolderConfig("INBOX"),)),
        )
    )
    personas = (
        PersonaSpec(BUYER, "Bob Buyer", body="Yes, let's do it.", attach=True),
        PersonaSpec("boss@client.test", action="forward", forward_to=COLLEAGUE),
    )
    async with FakeImapServer(config) as imap:
        assert imap.tls is not None
        smtp_config = SmtpConfig(personas=personas, autosave_sent_folder="\\Sent")
        async with FakeSmtpServer.for_store(smtp_config, imap.store, tls=imap.tls) as smtp:
            yield Lab(imap, smtp, imap.client_ssl_context())


async def submit(lab: Lab, to: str) -> None:
    msg = EmailMessage()
    msg["From"] = f"Sam Seller <{USER}>"
    msg["To"] = to
    msg["Subject"] = "Widgets, final offer"
    msg["Message-ID"] = ORIGINAL_ID
    msg.set_content("Hi,\n\n12 widgets at 10 each.\n")
    await aiosmtplib.send(
        msg, hostname=lab.smtp.host, port=lab.smtp.port, start_tls=True,
        tls_context=lab.ctx, username=USER, password=PASSWORD,
    )


def imap_fetch_all(lab: Lab, user: str, password: str, folder: str
                   ) -> list[tuple[bytes, EmailMessage]]:
    """(FLAGS response, parsed message) for every message in ``folder``, over IMAPS."""
    assert lab.imap.tls_port is not None
    with imaplib.IMAP4_SSL(lab.imap.host, lab.imap.tls_port, ssl_context=lab.ctx,
                           timeout=10) as client:
        client.login(user, password)
        typ, _ = client.select(folder, readonly=True)
        assert typ == "OK"
        typ, data = client.uid("SEARCH", "ALL")
        assert typ == "OK"
        out = []
        for uid in data[0].split():
            typ, parts = client.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
            assert typ == "OK"
            head, body = parts[0]
            msg = email.message_from_bytes(body, policy=policy.default)
            assert isinstance(msg, EmailMessage)
            out.append((head, msg))
        return out


async def test_persona_reply_arrives_in_inbox_threaded_on_the_original(lab: Lab) -> None:
    assert await asyncio.to_thread(imap_fetch_all, lab, USER, PASSWORD, "INBOX") == []
    await submit(lab, BUYER)
    await lab.smtp.log.wait_for(rcpt=USER, kind="local")  # the answer reached the Store

    [(flags, reply)] = await asyncio.to_thread(imap_fetch_all, lab, USER, PASSWORD, "INBOX")
    assert b"\\Seen" not in flags
    assert reply["From"] == f"Bob Buyer <{BUYER}>"
    assert reply["Subject"] == "Re: Widgets, final offer"
    assert reply["In-Reply-To"] == ORIGINAL_ID
    assert reply["References"].split()[-1] == ORIGINAL_ID
    assert reply["Message-ID"] != ORIGINAL_ID
    assert reply["Return-Path"] == f"<{BUYER}>" and reply["Received"] is not None
    assert [a.get_filename() for a in reply.iter_attachments()] == ["notes.pdf"]
    text = reply.get_body(preferencelist=("plain",))
    assert text is not None and "> 12 widgets at 10 each." in text.get_content()

    # The provider auto-saved the submitted original into Sent, already read.
    [(sent_flags, sent)] = await asyncio.to_thread(imap_fetch_all, lab, USER, PASSWORD, "Sent")
    assert b"\\Seen" in sent_flags
    assert sent["Message-ID"] == ORIGINAL_ID and sent["Received"] is None


async def test_forward_reaches_a_local_colleague_over_imap(lab: Lab) -> None:
    await submit(lab, "boss@client.test")
    await lab.smtp.log.wait_for(rcpt=COLLEAGUE, kind="local")
    [(_, fwd)] = await asyncio.to_thread(
        imap_fetch_all, lab, COLLEAGUE, COLLEAGUE_PASSWORD, "INBOX"
    )
    assert fwd["Subject"] == "Fwd: Widgets, final offer"
    assert ORIGINAL_ID in fwd["References"].split()
    [inner] = [p for p in fwd.iter_attachments() if p.get_content_type() == "message/rfc822"]
    assert inner.get_content()["Message-ID"] == ORIGINAL_ID
    # The sender's own INBOX stays empty: a forward is not an answer to them.
    assert await asyncio.to_thread(imap_fetch_all, lab, USER, PASSWORD, "INBOX") == []


async def test_an_idling_client_is_told_when_the_answer_arrives(lab: Lab) -> None:
    """The connector's real path: IDLE on INBOX, get EXISTS when the contact answers."""
    idling = threading.Event()

    def idle_until_exists() -> list[tuple[object, ...]]:
        assert lab.imap.tls_port is not None
        client = imapclient.IMAPClient(lab.imap.host, port=lab.imap.tls_port, ssl=True,
                                       ssl_context=lab.ctx, timeout=10)
        try:
            client.login(USER, PASSWORD)
            client.select_folder("INBOX")
            client.idle()
            idling.set()
            seen: list[tuple[object, ...]] = []
            while not any(b"EXISTS" in r for r in seen if isinstance(r, tuple)):
                batch = client.idle_check(timeout=10)
                assert batch, "no untagged response within 10 s of IDLE"
                seen.extend(batch)
            client.idle_done()
            return seen
        finally:
            client.logout()

    watcher = asyncio.create_task(asyncio.to_thread(idle_until_exists))
    assert await asyncio.to_thread(idling.wait, 10), "IDLE did not start"
    await submit(lab, BUYER)
    responses = await asyncio.wait_for(watcher, 20)
    assert (1, b"EXISTS") in responses
