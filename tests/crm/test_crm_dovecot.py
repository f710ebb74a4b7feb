"""The IMAP side of the CRM against a real Dovecot: Sent copy, idempotency, reply logging."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from inboxlab.engine.checkpoints import CheckpointStore
from inboxlab.engine.crm.attachments import AttachmentStore
from inboxlab.engine.crm.inbox import InboxLogger
from inboxlab.engine.crm.records import CrmStore
from inboxlab.engine.crm.rules import LoggingRules
from inboxlab.engine.crm.sentcopy import CopyPolicy, SentCopier
from inboxlab.engine.crm.tracking import thread_view
from inboxlab.engine.db import Database
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.commands import Atom
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.roles import Role
from inboxlab.engine.sync import discover_roles, scan_folder

pytestmark = pytest.mark.dovecot
_users = itertools.count(1)
WHEN = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


def new_user(dovecot: Any) -> Credentials:
    name = f"crm{next(_users)}@crm.test"
    dovecot.add_user(name, f"pw-{name}")
    dovecot.doveadm("mailbox", "create", "-u", name, "Sent")
    return Credentials(name, f"pw-{name}")


def message(mid: str, sender: str, to: str, subject: str, body: str,
            in_reply_to: str | None = None, attach: bytes | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = sender, to, subject, mid
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = in_reply_to
    msg.set_content(body)
    if attach is not None:
        msg.add_attachment(attach, maintype="application", subtype="pdf", filename="q.pdf")
    return msg.as_bytes()


async def connect(dovecot: Any, creds: Credentials) -> ImapClient:
    client = ImapClient(dovecot.host, dovecot.port, security="plain", timeout=30)
    await client.connect()
    await client.login(creds)
    return client


def session(dovecot: Any, creds: Credentials) -> ImapClient:
    """``async with session(...)`` connects on entry and closes on exit."""
    return ImapClient(dovecot.host, dovecot.port, security="plain", timeout=30)


async def test_sent_copy_is_appended_once_and_found_on_retry(dovecot: Any) -> None:
    creds = new_user(dovecot)
    dovecot.load_messages(creds.username, "Sent", [
        (message(f"<old{n}@crm.test>", creds.username, "x@y.test", f"old {n}", "x"),
         "\\Seen", WHEN) for n in range(20)])
    async with session(dovecot, creds) as probe:
        await probe.login(creds)
        folder = (await discover_roles(probe))[Role.SENT].folder
    assert folder == "Sent"
    copier = SentCopier(lambda: connect(dovecot, creds), folder, CopyPolicy(autosave=False))
    try:
        mark = await copier.mark()
        assert mark.uidnext == 21
        raw = message("<new1@crm.test>", creds.username, "bob@client.test", "Quote", "Hi")
        assert await copier.ensure(raw, "<new1@crm.test>", mark) == "appended"
        assert await copier.ensure(raw, "<new1@crm.test>", mark) == "found"  # a restart
        async with session(dovecot, creds) as check:
            await check.login(creds)
            await check.select("Sent", readonly=True)
            hits = await check.uid_search(Atom("HEADER"), "Message-ID", "<new1@crm.test>")
            seen = await check.uid_search(Atom("SEEN"), Atom("UID"), Atom("21:*"))
        assert hits == [21] and seen == [21]
    finally:
        await copier.close()


async def test_reply_logged_untracked_ignored_large_one_without_attachments(
        dovecot: Any, tmp_path: Path) -> None:
    creds = new_user(dovecot)
    me = creds.username
    async with await Database.open(tmp_path / "engine.db") as db:
        store = CrmStore(db, AttachmentStore(tmp_path / "files"))
        bob = await store.upsert_contact("bob@client.test", "Bob Buyer")
        thread = await store.new_thread("Quote", bob, "sent", ["bob@client.test"],
                                        ["<q1@crm.test>"])
        logger = InboxLogger(store, LoggingRules(attachment_limit=20_000), [me])
        async with session(dovecot, creds) as client:
            await client.login(creds)
            await logger.refresh()
            checkpoints = CheckpointStore(db)
            await scan_folder(client, checkpoints, me, "INBOX", logger.sink)  # first sight
            dovecot.load_messages(me, "INBOX", [
                (message("<r1@client.test>", "bob@client.test", me, "Re: Quote", "Deal.",
                         "<q1@crm.test>", attach=b"%PDF small"), "", WHEN),
                (message("<u1@other.test>", "zed@other.test", me, "Secret-xq81 offer",
                         "body-untracked-77"), "", WHEN),
                (message("<r2@client.test>", "bob@client.test", me, "Re: Quote", "Big one.",
                         "<q1@crm.test>", attach=b"P" * 40_000), "", WHEN),
            ])
            await scan_folder(client, checkpoints, me, "INBOX", logger.sink)
            assert await logger.fetch_and_log(client) == 2
        rows = await store.emails(thread_id=thread)
        assert [(r.message_id, [a[0] for a in r.attachments]) for r in rows] == [
            ("<r1@client.test>", ["q.pdf"]), ("<r2@client.test>", [])]
        assert "limit" in rows[1].notes
        view = await thread_view(store, thread)
        assert all("In-Reply-To" in e.reason for e in view.entries)
    data = (tmp_path / "engine.db").read_bytes()
    wal = tmp_path / "engine.db-wal"
    data += wal.read_bytes() if wal.exists() else b""
    assert b"Secret-xq81" not in data and b"body-untracked-77" not in data
    assert b"Big one." in data


async def test_a_reply_without_message_id_moved_to_archive_is_found_by_its_identity(
        dovecot: Any, tmp_path: Path) -> None:
    """Issue 11: the lookup of a vanished reply without Message-ID (SEARCH FROM + SUBJECT,
    then the identity of Date, From, To, Subject and RFC822.SIZE) on a real server, with
    the message moved by another client (doveadm) between the scan and the body fetch."""
    creds = new_user(dovecot)
    me = creds.username
    dovecot.doveadm("mailbox", "create", "-u", me, "Archive")
    no_id = (f"From: Bob Buyer <bob@client.test>\r\nTo: {me}\r\nSubject: Re: Quote\r\n"
             "Date: Mon, 04 Mar 2024 09:00:00 +0000\r\nIn-Reply-To: <q1@crm.test>\r\n\r\n"
             "Sent by a gateway that adds no Message-ID.\r\n").encode()
    async with await Database.open(tmp_path / "engine.db") as db:
        store = CrmStore(db, AttachmentStore(tmp_path / "files"))
        bob = await store.upsert_contact("bob@client.test", "Bob Buyer")
        thread = await store.new_thread("Quote", bob, "sent", ["bob@client.test"],
                                        ["<q1@crm.test>"])
        logger = InboxLogger(store, LoggingRules(), [me])
        async with session(dovecot, creds) as client:
            await client.login(creds)
            await logger.refresh()
            checkpoints = CheckpointStore(db)
            await scan_folder(client, checkpoints, me, "INBOX", logger.sink)  # first sight
            dovecot.load_messages(me, "INBOX", [
                (no_id.replace(b"Re: Quote", b"Re: Quote (again)"), "", WHEN),
                (no_id, "", WHEN)])
            await scan_folder(client, checkpoints, me, "INBOX", logger.sink)
            assert len(await store.pending()) == 2
            dovecot.doveadm("move", "-u", me, "Archive", "mailbox", "INBOX", "ALL")
            assert await logger.fetch_and_log(client) == 2
        rows = await store.emails(thread_id=thread)
        assert sorted(r.subject for r in rows) == ["Re: Quote", "Re: Quote (again)"]
        assert all("found in 'Archive'" in r.notes for r in rows)
        assert await store.pending() == []
