"""The inbox logger with a scripted IMAP client: malformed mail is recorded, the queue goes on;
and the scenario summary counts what was logged and what the server holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from crm_kit import USER, crm_lab

from inboxlab.engine.crm.attachments import AttachmentStore
from inboxlab.engine.crm.inbox import InboxLogger, text_sections
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.records import CrmStore
from inboxlab.engine.crm.rules import LoggingRules
from inboxlab.engine.crm.send import Draft
from inboxlab.engine.crm.summary import crm_summary, sent_copies, sent_message_ids
from inboxlab.engine.db import Database
from inboxlab.engine.imap.model import Fetch
from inboxlab.engine.sync import ScannedMessage
from inboxlab.fakeserver.smtp.config import PersonaSpec

GOOD = (b"From: bob@client.test\r\nTo: sam@crm.test\r\nSubject: Re: Quote\r\n"
        b"Message-ID: <good@client.test>\r\nIn-Reply-To: <q1@crm.test>\r\n\r\nDeal.\r\n")
HEADERS_BAD = (b"From: bob@client.test\r\nMessage-ID: <bad@client.test>\r\n"
               b"In-Reply-To: <q1@crm.test>\r\n\r\n")


class Scripted:
    """Answers BODY.PEEK[] from a dict; ``None`` means the server sent no body (NIL)."""

    def __init__(self, bodies: dict[int, bytes | None]) -> None:
        self.bodies = bodies

    async def list(self) -> list[Any]:
        return []  # no other folder to look in

    async def select(self, mailbox: str, **kw: Any) -> None:
        return None

    async def uid_fetch(self, uids: Any, items: Any = ()) -> AsyncIterator[Fetch]:
        for uid in uids:
            yield Fetch(uid, {"UID": uid, "BODY[]": self.bodies[uid]})


async def test_malformed_mail_is_recorded_and_the_queue_goes_on(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "engine.db") as db:
        store = CrmStore(db, AttachmentStore(tmp_path / "files"))
        bob = await store.upsert_contact("bob@client.test")
        thread = await store.new_thread("Quote", bob, "sent", ["bob@client.test"],
                                        ["<q1@crm.test>"])
        traces: list[tuple[str, dict[str, Any]]] = []
        logger = InboxLogger(store, LoggingRules(), [USER],
                             trace=lambda name, info: traces.append((name, dict(info))))
        await logger.refresh()
        for uid, head in ((1, HEADERS_BAD), (2, HEADERS_BAD.replace(b"bad@", b"nil@")),
                          (3, GOOD)):
            await logger.sink(ScannedMessage("INBOX", 1, uid, 100, None, head))
        client = Scripted({1: b"\x00", 2: None, 3: GOOD})
        assert await logger.fetch_and_log(client) == 1
        assert logger.malformed == 1
        refusals = await store.refusals(thread)
        assert [(m, k) for m, k, _ in refusals] == [("<bad@client.test>", "malformed")]
        assert "no header fields" in refusals[0][2]
        [row] = await store.emails(thread_id=thread)
        assert row.message_id == "<good@client.test>"
        # a NIL body is how Dovecot answers for a message another client expunged and this
        # session was not told of yet (RFC 2180 4.1.1): vanished, kept queued, not malformed
        assert [(n, i["uid"]) for n, i in traces] == [
            ("crm.inbox.malformed", 1), ("crm.inbox.vanished", 2), ("crm.inbox.logged", 3)]
        assert [row[2] for row in await store.pending()] == [2]


def test_text_sections_of_nested_structures() -> None:
    plain = (b"TEXT", b"PLAIN", (b"CHARSET", b"iso-8859-1"), None, None, b"QUOTED-PRINTABLE",
             "10", "1")
    html = (b"text", b"html", None, None, None, b"base64", "20", "1")
    pdf = (b"application", b"pdf", None, None, None, b"base64", "9000")
    structure = ((plain, html, b"alternative"), pdf, b"mixed", (b"boundary", b"x"))
    assert text_sections(structure) == [("1.1", "plain", "iso-8859-1", "quoted-printable"),
                                        ("1.2", "html", "utf-8", "base64")]
    assert text_sections(plain) == [("1", "plain", "iso-8859-1", "quoted-printable")]
    assert text_sections(None) == [] and text_sections(("junk",)) == []


async def test_summary_counts_logs_copies_and_no_duplicates(tmp_path: Path) -> None:
    personas = (PersonaSpec("bob@client.test", "Bob", attach=True),)
    traces: list[tuple[str, dict[str, Any]]] = []
    async with crm_lab(tmp_path, personas=personas,
                       trace=lambda name, info: traces.append((name, dict(info)))) as lab:
        await lab.outbox.send(Draft((Address("bob@client.test"),), "Quote", "Hi"))
        await lab.smtp.log.wait_for(rcpt=USER, kind="local")
        await lab.scan()
        summary = await crm_summary(lab.store)
        assert summary.logged_per_contact == {"bob@client.test": 2}
        assert (summary.emails, summary.threads, summary.attachments_stored) == (2, 1, 1)
        assert summary.outbox == {"logged": 1} and summary.flagged == 0
        copies = await sent_copies(lab.client, lab.sent_folder,
                                   await sent_message_ids(lab.store))
        assert copies.duplicates == 0 and copies.missing == 0
        assert list(copies.copies.values()) == [1]
        assert [(i["from"], i["to"]) for _, i in traces] == [
            ("queued", "submitted"), ("submitted", "copied"), ("copied", "logged")]
        assert traces[1][1]["copy_how"] == "appended"


async def test_the_queue_survives_a_restart_between_sink_and_fetch(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "engine.db") as db:
        store = CrmStore(db, AttachmentStore(tmp_path / "files"))
        bob = await store.upsert_contact("bob@client.test")
        thread = await store.new_thread("Quote", bob, "sent", ["bob@client.test"],
                                        ["<q1@crm.test>"])
        before = InboxLogger(store, LoggingRules(), [USER])
        await before.refresh()
        await before.sink(ScannedMessage("INBOX", 1, 3, 100, None, GOOD))
        # ... the process dies here; the scan had committed its checkpoint past UID 3.
    async with await Database.open(tmp_path / "engine.db") as db:
        store = CrmStore(db, AttachmentStore(tmp_path / "files"))
        after = InboxLogger(store, LoggingRules(), [USER])
        assert after.pending == []
        assert await after.fetch_and_log(Scripted({3: GOOD})) == 1
        [row] = await store.emails(thread_id=thread)
        assert row.message_id == "<good@client.test>"
        assert await store.pending() == []
        assert await after.fetch_and_log(Scripted({3: GOOD})) == 0
