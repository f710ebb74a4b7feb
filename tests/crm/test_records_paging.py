"""CrmStore.contacts: paged in id order, with each contact's logged-email count and the total."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from inboxlab.engine.crm.attachments import AttachmentStore
from inboxlab.engine.crm.errors import BadInput
from inboxlab.engine.crm.ingest import parse_message
from inboxlab.engine.crm.records import CrmStore
from inboxlab.engine.db import Database


def _mail(n: int, sender: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, "sam@crm.test"
    msg["Subject"], msg["Message-ID"] = f"note {n}", f"<n{n}@crm.test>"
    msg.set_content(f"body {n}")
    return msg.as_bytes()


async def test_contacts_are_paged_with_counts_and_total(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "crm.db")
    try:
        store = CrmStore(db, AttachmentStore(tmp_path / "files"))
        ids = [await store.upsert_contact(f"p{i}@acme{i % 2}.example", f"Person {i}")
               for i in range(7)]
        thread = await store.new_thread("notes", ids[2], "contact", (), ())
        for n in range(3):  # three emails on the third contact, one on the sixth
            await store.log_email(parse_message(_mail(n, "p2@acme0.example")),
                                  thread_id=thread, contact_id=ids[2], direction="incoming",
                                  join_reason="test", source="test")
        await store.log_email(parse_message(_mail(9, "p5@acme1.example")), thread_id=thread,
                              contact_id=ids[5], direction="incoming", join_reason="test",
                              source="test")

        first = await store.contacts(0, 3)
        assert first.total == 7 and first.offset == 0
        assert [c.id for c in first.contacts] == ids[:3]
        assert [c.emails for c in first.contacts] == [0, 0, 3]
        assert first.contacts[1].email == "p1@acme1.example"
        assert first.contacts[1].name == "Person 1"
        assert first.contacts[1].company == "Acme1"

        second = await store.contacts(3, 3)
        assert [c.id for c in second.contacts] == ids[3:6]
        assert [c.emails for c in second.contacts] == [0, 0, 1]
        last = await store.contacts(6, 3)
        assert [c.id for c in last.contacts] == ids[6:] and last.total == 7
        assert (await store.contacts(50, 3)).contacts == ()
    finally:
        await db.close()


@pytest.mark.parametrize("offset,limit", [(-1, 10), (0, -5), (True, 1), ("0", 1)])
async def test_bad_page_is_a_typed_error(tmp_path: Path, offset: object, limit: object) -> None:
    db = await Database.open(tmp_path / "crm.db")
    try:
        store = CrmStore(db, AttachmentStore(tmp_path / "files"))
        with pytest.raises(BadInput, match="contacts"):
            await store.contacts(offset, limit)  # type: ignore[arg-type]
    finally:
        await db.close()
