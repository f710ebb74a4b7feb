"""Thread reuse over loopback: what joins a tracked thread and what is flagged (issue 20).

Each case is a real scan of the fake IMAP server after a real CRM send, and checks the
record a person would expect: which contact got which email, who is a participant, and
the reason and reference chain on the thread view.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from crm_kit import PASSWORD, USER, Lab, crm_lab

from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.send import Draft
from inboxlab.engine.crm.tracking import thread_view

BOB = "bob@client.test"
DRAFT = Draft((Address(BOB, "Bob Buyer"),), "Quote for widgets", "Hi Bob,\nthe quote.\n")


def mail(sender: str, to: str, subject: str, mid: str, *, in_reply_to: str | None = None,
         references: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = sender, to, subject, mid
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    msg.set_content("body")
    return msg


def put(lab: Lab, folder: str, msg: EmailMessage) -> None:
    account = lab.imap.store.authenticate(USER, PASSWORD)
    assert account is not None
    account.get(folder).append(msg.as_bytes())


async def participants(lab: Lab, thread_id: int) -> set[str]:
    index = await lab.store.tracked_index()
    return {p for ref in index.values() if ref.id == thread_id for p in ref.participants}


async def test_reply_with_a_new_subject_to_a_stranger_is_flagged_not_merged(
        tmp_path: Path) -> None:
    async with crm_lab(tmp_path) as lab:
        await lab.scan(lab.sent_folder)  # first sight of Sent: start at its UIDNEXT
        rec = await lab.outbox.send(DRAFT)
        thread = rec.thread_id or 0
        before = await participants(lab, thread)
        put(lab, lab.sent_folder, mail(USER, "pat@elsewhere.test", "Lunch on Friday?",
                                       "<lunch-1@crm.test>", in_reply_to=rec.message_id,
                                       references=rec.message_id))
        put(lab, "INBOX", mail("pat@elsewhere.test", USER, "Re: Lunch on Friday?",
                               "<pat-1@elsewhere.test>", in_reply_to="<lunch-1@crm.test>",
                               references=f"{rec.message_id} <lunch-1@crm.test>"))
        assert await lab.scan(lab.sent_folder) == 0
        assert await lab.scan() == 0
        bob = await lab.store.contact(BOB)
        assert bob is not None
        assert [e.message_id for e in await lab.store.emails(contact_id=bob.id)] == [
            rec.message_id]
        assert await lab.store.contact("pat@elsewhere.test") is None
        assert await participants(lab, thread) == before  # never widened by a flag
        view = await thread_view(lab.store, thread)
        assert [(e.status, e.message_id) for e in view.entries] == [
            ("logged", rec.message_id), ("flagged", "<lunch-1@crm.test>"),
            ("flagged", "<pat-1@elsewhere.test>")]
        lunch, answer = view.entries[1].reason, view.entries[2].reason
        assert "thread reuse" in lunch and "'Lunch on Friday?'" in lunch
        assert f"| chain: References {rec.message_id}: tracked, thread {thread}" in lunch
        assert f"In-Reply-To {rec.message_id}: tracked, thread {thread}" in lunch
        assert f"References {rec.message_id}: tracked" in answer
        assert "In-Reply-To <lunch-1@crm.test>: not tracked" in answer


@pytest.mark.parametrize("prefix", ["Fwd:", "WG:", "Doorst:"])
async def test_a_forward_to_a_stranger_and_its_answer_are_flagged(tmp_path: Path,
                                                                  prefix: str) -> None:
    async with crm_lab(tmp_path) as lab:
        await lab.scan(lab.sent_folder)
        rec = await lab.outbox.send(DRAFT)
        thread = rec.thread_id or 0
        before = await participants(lab, thread)
        put(lab, lab.sent_folder, mail(USER, "carol@newco.test", f"{prefix} Quote for widgets",
                                       "<fwd-1@crm.test>", in_reply_to=rec.message_id,
                                       references=rec.message_id))
        put(lab, "INBOX", mail("carol@newco.test", USER, f"Re: {prefix} Quote for widgets",
                               "<c1@newco.test>", in_reply_to="<fwd-1@crm.test>",
                               references=f"{rec.message_id} <fwd-1@crm.test>"))
        assert await lab.scan(lab.sent_folder) == 0
        assert await lab.scan() == 0
        view = await thread_view(lab.store, thread)
        assert [e.status for e in view.entries] == ["logged", "flagged", "flagged"]
        assert all("forward reuse" in e.reason for e in view.entries[1:])
        assert await lab.store.contact("carol@newco.test") is None
        assert await participants(lab, thread) == before


async def test_a_references_only_reply_from_a_colleague_joins(tmp_path: Path) -> None:
    async with crm_lab(tmp_path) as lab:
        rec = await lab.outbox.send(DRAFT)
        put(lab, "INBOX", mail("Joe Colleague <joe@client.test>", USER,
                               "AW: Quote for widgets", "<joe-1@client.test>",
                               references=rec.message_id))  # no In-Reply-To
        assert await lab.scan() == 1
        bob = await lab.store.contact(BOB)
        assert bob is not None
        rows = await lab.store.emails(contact_id=bob.id)
        assert [(r.message_id, r.direction, r.thread_id) for r in rows] == [
            (rec.message_id, "outgoing", rec.thread_id),
            ("<joe-1@client.test>", "incoming", rec.thread_id)]
        assert "colleague at the thread's company (joe@client.test)" in rows[1].join_reason
        assert await lab.store.refusals(rec.thread_id) == []
