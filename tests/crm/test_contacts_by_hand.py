"""Contacts and companies added and edited by hand, and imported from CSV (issue 20)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inboxlab.engine.crm.attachments import AttachmentStore
from inboxlab.engine.crm.contacts_csv import parse_contacts
from inboxlab.engine.crm.errors import BadInput
from inboxlab.engine.crm.records import CrmStore
from inboxlab.engine.db import Database


async def test_edit_a_contact_and_its_company(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "engine.db") as db:
        store = CrmStore(db, AttachmentStore(tmp_path / "files"))
        dana = await store.upsert_contact("dana@acme.example")
        lee = await store.upsert_contact("lee@acme.example")
        pat = await store.upsert_contact("pat@gmail.com")
        before = store.generation
        edited = await store.edit_contact(dana, name="Dana Buyer", company="Acme Corp")
        assert (edited.name, edited.first_name, edited.company) == ("Dana Buyer", "Dana",
                                                                    "Acme Corp")
        assert (await store.contact(lee)).company == "Acme Corp"  # type: ignore[union-attr]
        assert store.generation > before  # a running logger reloads what it knows
        # a free-mail contact gets a company of its own; a known name is reused
        assert (await store.edit_contact(pat, company="Globex")).company == "Globex"
        assert (await store.edit_contact(lee, company="globex")).company == "Globex"
        assert (await store.edit_contact(pat, company="")).company is None
        with pytest.raises(BadInput, match="no contact"):
            await store.edit_contact(999, name="x")


def test_csv_rows_in_any_column_order_with_bad_rows_named() -> None:
    parsed = parse_contacts("\ufeffCompany,E-mail,First Name,Last Name\n"
                            "Acme,Dana@Acme.example,Dana,Buyer\n"
                            "Globex,not an address,Lee,Park\n\n"
                            ",pat@gmail.com,,\n")
    assert [(r.line, r.email, r.name, r.company) for r in parsed.rows] == [
        (2, "dana@acme.example", "Dana Buyer", "Acme"), (5, "pat@gmail.com", "", "")]
    assert parsed.problems == ("line 3: 'not an address' is not an email address",)
    with pytest.raises(BadInput, match="no email column"):
        parse_contacts("name,company\nx,y\n")
    with pytest.raises(BadInput, match="empty"):
        parse_contacts("")
