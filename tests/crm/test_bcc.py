"""The BCC/forward endpoint over real SMTP on loopback: contacts, tracking, forwards, limits."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from inboxlab.engine.crm.attachments import AttachmentStore
from inboxlab.engine.crm.bcc import BccEndpoint, BccIngest
from inboxlab.engine.crm.records import CrmStore
from inboxlab.engine.crm.rules import ATTACHMENT_LIMIT, LoggingRules
from inboxlab.engine.db import Database

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


async def test_over_the_attachment_limit_is_logged_trimmed_and_answered_250(bcc: Bcc) -> None:
    msg = mail()
    msg.add_attachment(random.Random(3).randbytes(1024) * (40 * 1024), maintype="application",
                       subtype="octet-stream", filename="huge.bin")
    reply = await bcc.send(msg)  # a 5xx here would make the sender's server bounce it
    assert reply.startswith("250") and "logged" in reply and "50 MB" in reply
    [row] = await bcc.store.emails(contact_id=(await bcc.store.contact("dana@acme.test")).id)
    assert row.attachments == () and "over the 50 MB (50,000,000 bytes) limit" in row.notes
    assert (bcc.store.files.root / "").exists() and not any(bcc.store.files.root.iterdir())


def test_the_attachment_limit_is_50_decimal_megabytes() -> None:
    rules = LoggingRules()
    assert ATTACHMENT_LIMIT == 50_000_000
    assert rules.attachments(50_000_000) == (True, None)
    keep, note = rules.attachments(50_000_001)
    assert not keep and "50 MB (50,000,000 bytes)" in (note or "")


async def test_the_body_limit_is_per_text_part(bcc: Bcc) -> None:
    msg = mail(body="x" * 1_500_000)  # a text and an HTML part of 1.5 MB each: 3 MB in all
    msg.add_alternative("<p>" + "y" * 1_500_000 + "</p>", subtype="html")
    assert (await bcc.send(msg)).startswith("250")
    too_big = mail(subject="Too big", body="z" * 2_000_001)
    reply = await bcc.send(too_big)
    assert reply.startswith("552") and "over 2 MB" in reply
    assert len(await bcc.store.emails()) == 1


async def test_bcc_to_two_recipients_and_a_cc_logs_on_every_record(bcc: Bcc) -> None:
    msg = mail(to="Dana Doe <dana@acme.test>, lee@acme.test")
    msg["Cc"] = "Kim <kim@other.test>"
    assert (await bcc.send(msg)).startswith("250")
    [result] = bcc.ep.results
    assert result.contacts == ("dana@acme.test", "lee@acme.test", "kim@other.test")
    for who in result.contacts:
        contact = await bcc.store.contact(who)
        assert contact is not None
        [row] = await bcc.store.emails(contact_id=contact.id)
        assert row.message_id == msg["Message-ID"] and row.thread_id == result.thread_id
    page = await bcc.store.contacts()
    assert sorted((c.email, c.emails) for c in page.contacts) == [
        ("dana@acme.test", 1), ("kim@other.test", 1), ("lee@acme.test", 1)]


FORWARDS = {
    "german-thunderbird": ("WG: Angebot", "Siehe unten.\n\n-------- Weitergeleitete Nachricht "
                           "--------\nBetreff: \tAngebot für 50 Stück\nDatum: \tMon, 4 Mar "
                           "2024 09:00:00 +0100\nVon: \tPia Käufer <pia@kunde.test>\nAn: "
                           "\tsam@crm.test\n\nWas kostet das?\n", "pia@kunde.test",
                           "Angebot für 50 Stück"),
    "german-outlook": ("WG: Angebot", "FYI\n\n-----Ursprüngliche Nachricht-----\nVon: Pia "
                       "Käufer [mailto:pia@kunde.test]\nGesendet: Montag, 4. März 2024 09:00\n"
                       "An: Sam\nBetreff: Angebot\n\nWas kostet das?\n", "pia@kunde.test",
                       "Angebot"),
    "french-thunderbird": ("TR: Devis", "\n-------- Message transféré --------\nSujet : Devis "
                           "pour 50\nDate : Mon, 4 Mar 2024 09:00:00 +0100\nDe : Luc Client "
                           "<luc@client.test>\nPour : sam@crm.test\n\nCombien ?\n",
                           "luc@client.test", "Devis pour 50"),
    "french-outlook": ("TR: Devis", "\n-----Message d'origine-----\nDe : Luc Client "
                       "<luc@client.test>\nEnvoyé : lundi 4 mars 2024 09:00\nÀ : Sam\nObjet : "
                       "Devis\n\nCombien ?\n", "luc@client.test", "Devis"),
    "spanish-gmail": ("RV: Pedido", "---------- Mensaje reenviado ---------\nDe: Ana "
                      "<ana@cliente.test>\nDate: lun, 4 mar 2024 a las 9:00\nSubject: Pedido "
                      "nuevo\nTo: <sam@crm.test>\n\nHola\n", "ana@cliente.test",
                      "Pedido nuevo"),
    "dutch-outlook": ("Doorst: Offerte", "-----Oorspronkelijk bericht-----\nVan: Jan "
                      "<jan@klant.test>\nVerzonden: maandag 4 maart 2024 09:00\nAan: Sam\n"
                      "Onderwerp: Offerte\n\nHoi\n", "jan@klant.test", "Offerte"),
    "apple-mail-no-prefix": ("Offerte (edited)", "Begin forwarded message:\n\nFrom: Jan "
                             "<jan@klant.test>\nSubject: Offerte\nDate: 4 March 2024\nTo: "
                             "Sam <sam@crm.test>\n\nHoi\n", "jan@klant.test", "Offerte"),
}


@pytest.mark.parametrize("case", sorted(FORWARDS))
async def test_an_inline_forward_in_any_client_language_logs_the_original(
        bcc: Bcc, case: str) -> None:
    subject, body, sender, original_subject = FORWARDS[case]
    assert (await bcc.send(mail(to=BCC, subject=subject, body=body))).startswith("250")
    contact = await bcc.store.contact(sender)
    assert contact is not None
    [row] = await bcc.store.emails(contact_id=contact.id)
    assert (row.direction, row.sender, row.subject) == ("incoming", sender, original_subject)
    assert "inline forward block" in row.join_reason
    assert await bcc.store.contact(BCC) is None  # the logging address is never a contact
    assert (await bcc.store.contacts()).total == 1


async def test_an_attached_original_under_an_edited_subject_is_a_forward(bcc: Bcc) -> None:
    original = mail(to=USER, subject="Vertrag", body="Unterschrieben.", sender="kai@client.test")
    fwd = mail(to=BCC, subject="the signed contract, for the record", body="see attached")
    fwd.add_attachment(original)
    assert (await bcc.send(fwd)).startswith("250")
    kai = await bcc.store.contact("kai@client.test")
    assert kai is not None
    [row] = await bcc.store.emails(contact_id=kai.id)
    assert row.subject == "Vertrag" and "attached message/rfc822" in row.join_reason
    assert await bcc.store.contact(BCC) is None


async def test_a_bcc_of_a_reply_quoting_an_original_is_outgoing_mail(bcc: Bcc) -> None:
    body = ("Yes, Tuesday works.\n\n-----Original Message-----\nFrom: Dana "
            "<dana@acme.test>\nSent: Monday\nSubject: Visit\n\nTuesday?\n")
    assert (await bcc.send(mail(to="dana@acme.test", subject="RE: Visit", body=body))
            ).startswith("250")
    dana = await bcc.store.contact("dana@acme.test")
    assert dana is not None
    [row] = await bcc.store.emails(contact_id=dana.id)
    assert row.direction == "outgoing" and row.sender == USER
