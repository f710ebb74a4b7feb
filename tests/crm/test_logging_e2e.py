"""Logging rules end to end: size limit, attachment switch, never-log, forward reuse, privacy."""

from __future__ import annotations

import random
from email.message import EmailMessage
from pathlib import Path

from crm_kit import PASSWORD, USER, Lab, crm_lab, sqlite_bytes, tree_bytes

from inboxlab.engine.crm.bcc import BccIngest
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.rules import LoggingRules, Mode
from inboxlab.engine.crm.send import Draft
from inboxlab.engine.crm.tracking import thread_view
from inboxlab.fakeserver.smtp.config import PersonaSpec

BOB = "bob@client.test"
DRAFT = Draft((Address(BOB, "Bob Buyer"),), "Quote for widgets", "Hi Bob,\nthe quote.\n")


def deliver(lab: Lab, msg: EmailMessage | bytes) -> None:
    raw = msg if isinstance(msg, bytes) else msg.as_bytes()
    account = lab.imap.store.authenticate(USER, PASSWORD)
    assert account is not None
    account.get("INBOX").append(raw)


def reply_to(mid: str, *, sender: str = BOB, subject: str = "Re: Quote for widgets",
             body: str = "Sounds good.", references: str | None = None,
             reply_id: str = "<r1@client.test>") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = USER
    msg["Subject"] = subject
    msg["Message-ID"] = reply_id
    msg["In-Reply-To"] = mid
    msg["References"] = references or mid
    msg.set_content(body)
    return msg


async def test_a_60_mb_email_is_logged_without_attachments(tmp_path: Path) -> None:
    async with crm_lab(tmp_path) as lab:
        rec = await lab.outbox.send(DRAFT)
        msg = reply_to(rec.message_id, body="Big drawings attached.")
        msg.add_alternative("<p>Big <b>drawings</b> attached.</p>", subtype="html")
        blob = random.Random(1).randbytes(1024) * (45 * 1024)  # 45 MiB -> ~61 MB base64
        msg.add_attachment(blob, maintype="application", subtype="octet-stream",
                           filename="drawings.bin")
        raw = msg.as_bytes()
        assert len(raw) > 60 * 1000 * 1000
        deliver(lab, raw)
        assert await lab.scan() == 1
        [_, logged] = await lab.store.emails(thread_id=rec.thread_id)
        assert logged.attachments == ()
        assert "over the 50 MB (50,000,000 bytes) limit" in logged.notes
        text = await lab.db.scalar("SELECT text_body || html_body FROM emails WHERE id = ?",
                                   (logged.id,))
        assert "Big drawings attached." in str(text) and "<b>drawings</b>" in str(text)
        assert tree_bytes(lab.store.files.root) == b""


async def test_attachment_logging_switched_off(tmp_path: Path) -> None:
    personas = (PersonaSpec(BOB, "Bob", attach=True),)
    async with crm_lab(tmp_path, personas=personas,
                       rules=LoggingRules(log_attachments=False)) as lab:
        rec = await lab.outbox.send(DRAFT)
        await lab.smtp.log.wait_for(rcpt=USER, kind="local")
        assert await lab.scan() == 1
        [_, logged] = await lab.store.emails(thread_id=rec.thread_id)
        assert logged.attachments == () and "switched off" in logged.notes
        assert tree_bytes(lab.store.files.root) == b""


async def test_never_log_address_and_domain(tmp_path: Path) -> None:
    personas = (PersonaSpec(BOB, "Bob"),)
    async with crm_lab(tmp_path, personas=personas) as lab:
        await lab.store.add_never_log("client.test")
        rec = await lab.outbox.send(DRAFT)
        await lab.smtp.log.wait_for(rcpt=USER, kind="local")
        assert await lab.scan() == 0
        assert [e.direction for e in await lab.store.emails(thread_id=rec.thread_id)] == [
            "outgoing"]
        [(_mid, kind, reason)] = await lab.store.refusals(rec.thread_id)
        assert kind == "refuse" and reason == "never-log list: client.test"


async def test_forward_reuse_is_flagged_with_the_reference_chain(tmp_path: Path) -> None:
    async with crm_lab(tmp_path) as lab:
        rec = await lab.outbox.send(DRAFT)
        fwd = "<fwd-1@crm.test>"
        deliver(lab, reply_to(fwd, sender="carol@newco.test", subject="Re: Fwd: Quote for "
                              "widgets", references=f"{rec.message_id} {fwd}",
                              reply_id="<c1@newco.test>"))
        assert await lab.scan() == 0
        view = await thread_view(lab.store, rec.thread_id or 0)
        assert [e.status for e in view.entries] == ["logged", "flagged"]
        flagged = view.entries[1]
        assert flagged.message_id == "<c1@newco.test>"
        assert "forward reuse" in flagged.reason and "carol@newco.test" in flagged.reason
        assert f"References {rec.message_id}: tracked, thread" in flagged.reason
        assert f"In-Reply-To {fwd}: not tracked" in flagged.reason
        assert await lab.store.contact("carol@newco.test") is None


async def test_untracked_mail_never_reaches_the_database_or_disk(tmp_path: Path) -> None:
    personas = (PersonaSpec(BOB, "Bob", attach=True),)
    secrets = ["Zanzibar-7781-subject", "quokka-body-55120", "pangolin-attachment-9931",
               "unrelated-sender-4410@elsewhere.test", "<untracked-3321@elsewhere.test>",
               "narwhal-file-6612.pdf"]
    async with crm_lab(tmp_path, personas=personas) as lab:
        rec = await lab.outbox.send(DRAFT)
        await lab.smtp.log.wait_for(rcpt=USER, kind="local")
        other = EmailMessage()
        other["From"] = secrets[3]
        other["To"] = USER
        other["Subject"] = f"Hello {secrets[0]}"
        other["Message-ID"] = secrets[4]
        other.set_content(f"Hi, {secrets[1]}")
        other.add_attachment(secrets[2].encode() * 10, maintype="application", subtype="pdf",
                             filename=secrets[5])
        deliver(lab, other)
        assert await lab.scan() == 1  # the tracked reply is logged (storing works) ...
        assert len(await lab.store.emails(thread_id=rec.thread_id)) == 2
        stored = sqlite_bytes(lab.db.path) + tree_bytes(lab.store.files.root)
        assert b"notes.pdf" in stored  # ... the scan can find what was stored ...
        for s in secrets:  # ... and finds nothing of the untracked one
            assert s.encode() not in stored, s


async def test_a_reply_to_mail_logged_through_bcc_is_logged_by_the_scan(tmp_path: Path) -> None:
    async with crm_lab(tmp_path) as lab:
        ingest = BccIngest(lab.store, [USER])
        sent = EmailMessage()  # sent from the user's phone, BCC to the logging address
        sent["From"], sent["To"], sent["Subject"] = USER, "Dana <dana@acme.test>", "Visit"
        sent["Message-ID"] = "<phone-1@crm.test>"
        sent.set_content("See you Tuesday.")
        result = await ingest.ingest(USER, sent.as_bytes())
        assert result.logged and result.reply.startswith("250")
        deliver(lab, reply_to("<phone-1@crm.test>", sender="dana@acme.test",
                              subject="Re: Visit", reply_id="<d1@acme.test>"))
        assert await lab.scan() == 1
        dana = await lab.store.contact("dana@acme.test")
        assert dana is not None
        rows = await lab.store.emails(contact_id=dana.id)
        assert [(r.direction, r.thread_id) for r in rows] == [
            ("outgoing", result.thread_id), ("incoming", result.thread_id)]


async def test_log_all_mail_with_contacts_mode(tmp_path: Path) -> None:
    rules = LoggingRules(mode=Mode.ALL_CONTACTS)
    async with crm_lab(tmp_path, rules=rules) as lab:
        await lab.store.upsert_contact("known@client.test", "Known Person")
        cold = EmailMessage()
        cold["From"], cold["To"], cold["Subject"] = "known@client.test", USER, "Hello"
        cold["Message-ID"] = "<k1@client.test>"
        cold.set_content("Not a reply to anything.")
        stranger = EmailMessage()
        stranger["From"], stranger["To"], stranger["Subject"] = "who@else.test", USER, "Hi"
        stranger["Message-ID"] = "<s1@else.test>"
        stranger.set_content("Also not.")
        deliver(lab, cold)
        deliver(lab, stranger)
        assert await lab.scan() == 1
        known = await lab.store.contact("known@client.test")
        assert known is not None
        [row] = await lab.store.emails(contact_id=known.id)
        assert row.message_id == "<k1@client.test>" and "existing contact" in row.join_reason
        assert await lab.store.contact("who@else.test") is None


async def test_a_reply_to_a_bcc_thread_is_matched_by_the_running_logger(tmp_path: Path) -> None:
    """Issue 20: the running logger's tracked set was not refreshed after a BCC ingest, so
    the scan passed over the reply. Here nobody calls ``refresh`` between the two."""
    async with crm_lab(tmp_path) as lab:
        ingest = BccIngest(lab.store, [USER])
        await lab.logger.refresh()  # the logger is up and running before the BCC arrives
        sent = EmailMessage()
        sent["From"], sent["To"], sent["Subject"] = USER, "Dana <dana@acme.test>", "Visit"
        sent["Message-ID"] = "<phone-2@crm.test>"
        sent.set_content("See you Tuesday.")
        assert (await ingest.ingest(USER, sent.as_bytes())).logged
        deliver(lab, reply_to("<phone-2@crm.test>", sender="dana@acme.test",
                              subject="Re: Visit", reply_id="<d2@acme.test>"))
        assert await lab.scan(refresh=False) == 1
        assert await lab.store.thread_of("<d2@acme.test>") is not None


async def test_a_reply_on_a_bcc_thread_shows_on_every_contact_on_it(tmp_path: Path) -> None:
    async with crm_lab(tmp_path) as lab:
        ingest = BccIngest(lab.store, [USER])
        sent = EmailMessage()
        sent["From"], sent["Subject"] = USER, "Visit"
        sent["To"], sent["Cc"] = "dana@acme.test, lee@acme.test", "kim@other.test"
        sent["Message-ID"] = "<phone-3@crm.test>"
        sent.set_content("See you Tuesday.")
        assert (await ingest.ingest(USER, sent.as_bytes())).logged
        reply = reply_to("<phone-3@crm.test>", sender="lee@acme.test", subject="Re: Visit",
                         reply_id="<l3@acme.test>")
        reply.replace_header("To", f"{USER}, dana@acme.test")
        deliver(lab, reply)
        assert await lab.scan() == 1
        for who, expected in (("dana@acme.test", 2), ("lee@acme.test", 2),
                              ("kim@other.test", 1)):
            contact = await lab.store.contact(who)
            assert contact is not None
            assert len(await lab.store.emails(contact_id=contact.id)) == expected, who
