"""A tracked reply without a Message-ID is logged once, however often it is delivered.

``emails.message_id`` is UNIQUE, but SQLite's UNIQUE accepts any number of NULLs, so a
reply without the header was logged again after every UIDVALIDITY reset (the reset
recovery delivers it again, by design). Such messages now get a stable identity: a
digest of Date, From, To, Subject and size.
"""

from __future__ import annotations

from pathlib import Path

from crm_kit import PASSWORD, USER, crm_lab

from inboxlab.engine.crm.ingest import Address, Headers, identity_of
from inboxlab.engine.crm.send import Draft

BOB = "bob@client.test"


def reply_without_id(parent: str) -> bytes:
    return (f"From: Bob <{BOB}>\r\nTo: {USER}\r\nSubject: Re: Renewal\r\n"
            "Date: Tue, 03 Dec 2024 10:00:00 +0000\r\n"
            f"In-Reply-To: {parent}\r\nReferences: {parent}\r\n\r\nDeal, no id.\r\n").encode()


async def test_logged_once_across_three_uidvalidity_resets(tmp_path: Path) -> None:
    async with crm_lab(tmp_path) as lab:
        rec = await lab.outbox.send(Draft((Address(BOB, "Bob"),), "Renewal", "Hi Bob"))
        box = lab.imap.store.authenticate(USER, PASSWORD)
        assert box is not None
        inbox = box.get("INBOX")
        inbox.append(reply_without_id(rec.message_id))
        counts = []
        for reset in range(4):
            if reset:
                lab.imap.store.reset_uidvalidity(inbox)
            await lab.scan()
            counts.append(await lab.count(
                "SELECT count(*) FROM emails WHERE thread_id = ? AND direction = 'incoming'",
                rec.thread_id))
        assert counts == [1, 1, 1, 1]


def test_identity_is_the_message_id_or_a_stable_digest() -> None:
    bob = Address(BOB, "Bob")
    with_id = Headers("<a@x>", from_=bob, subject="Hi")
    assert identity_of(with_id, 120) == "<a@x>"
    plain = Headers(None, from_=bob, to=(Address(USER),), subject="Hi", date="2024-12-03")
    digest = identity_of(plain, 120)
    assert digest.startswith("digest:") and digest == identity_of(plain, 120)
    # Each named field is part of it; the display name is not.
    assert identity_of(plain, 121) != digest
    assert identity_of(Headers(None, from_=Address(BOB), to=(Address(USER),), subject="Hi",
                               date="2024-12-03"), 120) == digest
    assert identity_of(Headers(None, from_=bob, to=(Address(USER),), subject="Ho",
                               date="2024-12-03"), 120) != digest
