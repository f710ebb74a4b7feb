"""A tracked reply that leaves INBOX between the header scan and the body fetch.

Another client's rule or a phone can move it in seconds. It used to be recorded as
``malformed`` ("the server returned no body") and its queue row deleted: never seen
again. Now it is looked up by Message-ID in the other folders (Archive / All Mail
first) and logged from there, or stays queued for the next pass.
"""

from __future__ import annotations

from pathlib import Path

from crm_kit import PASSWORD, USER, Lab, crm_lab

from inboxlab.engine.checkpoints import CheckpointStore
from inboxlab.engine.clock import ManualClock
from inboxlab.engine.crm.inbox import VANISHED_GIVE_UP, lookup_order
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.send import Draft
from inboxlab.engine.imap.model import ListItem
from inboxlab.engine.sync import scan_folder
from inboxlab.fakeserver.smtp.config import PersonaSpec

BOB = "bob@client.test"
DRAFT = Draft((Address(BOB, "Bob Buyer"),), "Renewal", "Hi Bob,\nrenewal attached.\n")


async def queued_reply(lab: Lab) -> int:
    """Send, let Bob answer, scan INBOX (queues the reply); returns the thread id."""
    rec = await lab.outbox.send(DRAFT)
    await lab.smtp.log.wait_for(rcpt=USER, kind="local")
    await lab.logger.refresh()
    await scan_folder(lab.client, CheckpointStore(lab.db), USER, "INBOX", lab.logger.sink)
    assert len(await lab.store.pending()) == 1
    assert rec.thread_id is not None
    return rec.thread_id


def take_from_inbox(lab: Lab) -> bytes:
    """Another client removes Bob's reply from INBOX; returns its bytes."""
    box = lab.imap.store.authenticate(USER, PASSWORD)
    assert box is not None
    inbox = box.get("INBOX")
    [uid] = list(inbox.uids())
    raw = inbox.raw(uid)
    inbox.remove([uid])
    return raw


async def malformed(lab: Lab) -> int:
    return await lab.count("SELECT count(*) FROM refusals WHERE kind = 'malformed'")


async def test_moved_to_archive_is_logged_from_there(tmp_path: Path) -> None:
    personas = (PersonaSpec(BOB, "Bob", body="Deal."),)
    async with crm_lab(tmp_path, personas=personas) as lab:
        thread = await queued_reply(lab)
        box = lab.imap.store.authenticate(USER, PASSWORD)
        assert box is not None
        archive = box.create("Archive", special_use=("\\Archive",))
        archive.append(take_from_inbox(lab))
        assert await lab.logger.fetch_and_log(lab.client) == 1
        rows = await lab.store.emails(thread_id=thread)
        assert [(r.direction, r.sender) for r in rows] == [("outgoing", USER), ("incoming", BOB)]
        assert "found in 'Archive'" in rows[1].notes
        assert await lab.store.pending() == [] and await malformed(lab) == 0


async def test_found_nowhere_stays_queued_and_a_later_pass_logs_it(tmp_path: Path) -> None:
    personas = (PersonaSpec(BOB, "Bob", body="Deal."),)
    async with crm_lab(tmp_path, personas=personas) as lab:
        thread = await queued_reply(lab)
        raw = take_from_inbox(lab)  # in another client's hands, in no folder for now
        for _ in range(2):
            assert await lab.logger.fetch_and_log(lab.client) == 0
            assert len(await lab.store.pending()) == 1 and await malformed(lab) == 0
        box = lab.imap.store.authenticate(USER, PASSWORD)
        assert box is not None
        box.get("Presentations").append(raw)  # ... and filed it under a plain folder
        assert await lab.logger.fetch_and_log(lab.client) == 1
        assert len(await lab.store.emails(thread_id=thread)) == 2
        assert await lab.store.pending() == [] and await malformed(lab) == 0


def test_lookup_order_all_mail_and_archive_first_trash_and_junk_last() -> None:
    listed = [(("\\HasNoChildren",), "INBOX"), (("\\Trash",), "Trash"),
              (("\\Junk",), "Spam"), ((), "Projects"), (("\\Noselect",), "[Gmail]"),
              (("\\Archive",), "Archive"), (("\\All",), "All Mail")]
    items = [ListItem(attrs, "/", name, name.encode()) for attrs, name in listed]
    assert lookup_order(items, frozenset({"SPECIAL-USE"}), "INBOX") == [
        "All Mail", "Archive", "Projects", "Trash", "Spam"]


def no_id_reply(lab: Lab, to_mid: str) -> bytes:
    """A reply without a Message-ID, as some clients and gateways send them."""
    return (f"From: Bob Buyer <{BOB}>\r\nTo: {USER}\r\nSubject: Re: Renewal\r\n"
            f"Date: Tue, 03 Dec 2024 10:00:00 +0000\r\nIn-Reply-To: {to_mid}\r\n\r\n"
            "Sent from a gateway that adds no Message-ID.\r\n").encode()


async def queued_no_id_reply(lab: Lab) -> tuple[int, bytes]:
    """Send, another client files a reply without Message-ID in INBOX, scan INBOX (queues
    it); returns the thread id and the reply's bytes."""
    rec = await lab.outbox.send(DRAFT)
    await lab.logger.refresh()
    box = lab.imap.store.authenticate(USER, PASSWORD)
    assert box is not None and rec.thread_id is not None
    box.get("INBOX").append(no_id_reply(lab, rec.message_id))
    await scan_folder(lab.client, CheckpointStore(lab.db), USER, "INBOX", lab.logger.sink)
    assert len(await lab.store.pending()) == 1
    return rec.thread_id, take_from_inbox(lab)


async def test_without_message_id_moved_to_archive_is_found_there_by_its_identity(
        tmp_path: Path) -> None:
    """No Message-ID to search for: the lookup searches by sender and subject and takes
    the message whose identity (Date, From, To, Subject, size) is the queued one's."""
    async with crm_lab(tmp_path) as lab:
        thread, raw = await queued_no_id_reply(lab)
        box = lab.imap.store.authenticate(USER, PASSWORD)
        assert box is not None
        archive = box.create("Archive", special_use=("\\Archive",))
        archive.append(raw.replace(b"Subject: Re: Renewal", b"Subject: Re: Renewal (2)"))
        archive.append(raw)
        assert await lab.logger.fetch_and_log(lab.client) == 1
        rows = await lab.store.emails(thread_id=thread)
        assert [(r.direction, r.subject) for r in rows] == [
            ("outgoing", "Renewal"), ("incoming", "Re: Renewal")]
        assert "found in 'Archive'" in rows[1].notes
        assert await lab.store.pending() == [] and await malformed(lab) == 0


async def test_without_message_id_logged_from_its_new_folder_leaves_no_queue_row(
        tmp_path: Path) -> None:
    """With every folder watched, the moved reply is scanned (and logged) in Archive; the
    row queued from INBOX must then go, not be looked for on every pass forever."""
    async with crm_lab(tmp_path) as lab:
        thread, raw = await queued_no_id_reply(lab)
        await lab.scan("Presentations")  # the first sight of a folder starts at UIDNEXT
        box = lab.imap.store.authenticate(USER, PASSWORD)
        assert box is not None
        box.get("Presentations").append(raw)
        for _ in range(2):
            await lab.scan("Presentations")
        assert len(await lab.store.emails(thread_id=thread)) == 2
        assert await lab.store.pending() == [] and await malformed(lab) == 0


async def test_without_message_id_gone_everywhere_is_given_up_after_a_week(
        tmp_path: Path) -> None:
    """Deleted on a phone before its body was read: looked for on every pass for a week,
    then recorded as vanished on its thread (ids and reason) and no longer queued."""
    async with crm_lab(tmp_path) as lab:
        clock = ManualClock()
        lab.store.clock = clock
        thread, _ = await queued_no_id_reply(lab)
        for _ in range(2):
            assert await lab.logger.fetch_and_log(lab.client) == 0
            assert len(await lab.store.pending()) == 1
        clock.advance(VANISHED_GIVE_UP.total_seconds() + 1)
        assert await lab.logger.fetch_and_log(lab.client) == 0
        assert await lab.store.pending() == [] and await malformed(lab) == 0
        assert await lab.count("SELECT count(*) FROM refusals WHERE kind = 'vanished' "
                               "AND thread_id = ?", thread) == 1
