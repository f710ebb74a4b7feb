"""The BCC/forward endpoint over real SMTP on loopback: contacts, tracking, forwards, limits."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from engine.crm.attachments import AttachmentStore
from engine.crm.bcc import BccEndpoint, BccIngest
from engine.crm.records import CrmStore
from engine.db import Database

USER = "sam@crm.test"
BCC = "log-123@bcc.crm.test"


@dataclass
class Bcc:
    ep: BccEndpoint
    store: CrmStore

    async def send(self, msg: EmailMessage, mail_from: str = USER) -> str:
        try:
            _, reply = await aiosmtplib.send(msg, hostname="127.0.0.1", port=self.ep.port,
                                             sender=mail_from, recipients=[BCC], timeout=60)
        except aiosmtplib.SMTPResponseException as exc:
            return f"{exc.code} {exc.message}"
        return f"250 {reply}"


@pytest.fixture
async def bcc(tmp_path: Path) -> AsyncIterator[Bcc]:
    async with await Database.open(tmp_path / "engine.db") as db:
        store = CrmStore(db, AttachmentStore(tmp_path / "files"))
        async with BccEndpoint(BccIngest(store, [USER]), BCC) as ep:
            yield Bcc(ep, store)


def mail(to: str = "Dana Doe <dana@acme.test>, lee@acme.test", subject: str = "Proposal",
         body: str = "Here it is.", sender: str = USER) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{random.Random(subject + body[:20]).getrandbits(40)}@crm.test>"
    msg.set_content(body)
    return msg


async def test_bcc_logs_creates_contacts_and_tracks_the_thread(bcc: Bcc) -> None:
    msg = mail()
    assert (await bcc.send(msg)).startswith("250")
    [result] = bcc.ep.results
    assert result.logged and result.contacts == ("dana@acme.test", "lee@acme.test")
    dana = await bcc.store.contact("dana@acme.test")
    assert dana is not None and dana.first_name == "Dana" and dana.company == "Acme"
    assert await bcc.store.thread_of(msg["Message-ID"]) == result.thread_id
    [row] = await bcc.store.emails(contact_id=dana.id)
    assert row.direction == "outgoing" and "BCC" in row.join_reason


async def test_forward_logs_the_original_sender_from_the_quoted_block(bcc: Bcc) -> None:
    body = ("FYI\n\n---------- Forwarded message ---------\n"
            "From: Pat Prospect <pat@prospect.test>\nDate: Mon, 4 Mar 2024 09:00\n"
            "Subject: Pricing question\nTo: Sam <sam@crm.test>\n\nHow much for 50?\n")
    assert (await bcc.send(mail(to=BCC, subject="Fwd: Pricing question", body=body))
            ).startswith("250")
    pat = await bcc.store.contact("pat@prospect.test")
    assert pat is not None and pat.name == "Pat Prospect"
    [row] = await bcc.store.emails(contact_id=pat.id)
    assert row.direction == "incoming" and row.sender == "pat@prospect.test"
    assert row.subject == "Pricing question"


async def test_forward_logs_the_original_sender_from_an_attached_message(bcc: Bcc) -> None:
    original = mail(to=USER, subject="Contract", body="Signed.", sender="kai@client.test")
    fwd = mail(to=BCC, subject="Fwd: Contract", body="see attached")
    fwd.add_attachment(original)
    assert (await bcc.send(fwd)).startswith("250")
    kai = await bcc.store.contact("kai@client.test")
    assert kai is not None
    assert await bcc.store.thread_of(original["Message-ID"]) is not None


async def test_mail_from_a_stranger_is_refused(bcc: Bcc) -> None:
    reply = await bcc.send(mail(sender="eve@evil.test"), mail_from="eve@evil.test")
    assert reply.startswith("550") and "not a connected user" in reply
    assert await bcc.store.contact("dana@acme.test") is None


async def test_body_over_2_mb_is_not_logged_and_the_sender_is_told(bcc: Bcc) -> None:
    reply = await bcc.send(mail(body="x" * (2 * 1024 * 1024 + 10)))
    assert reply.startswith("552") and "over 2 MB" in reply
    assert await bcc.store.emails() == []


async def test_attachments_over_50_mb_are_dropped_with_a_delivery_error(bcc: Bcc) -> None:
    msg = mail()
    msg.add_attachment(random.Random(3).randbytes(1024) * (40 * 1024), maintype="application",
                       subtype="octet-stream", filename="huge.bin")
    reply = await bcc.send(msg)
    assert reply.startswith("552") and "were dropped" in reply
    [row] = await bcc.store.emails()
    assert row.attachments == () and "dropped" in row.notes
    assert (bcc.store.files.root / "").exists() and not any(bcc.store.files.root.iterdir())
