"""A tracked reply that leaves INBOX between the header scan and the body fetch.

Another client's rule or a phone can move it in seconds. It used to be recorded as
``malformed`` ("the server returned no body") and its queue row deleted: never seen
again. Now it is looked up by Message-ID in the other folders (Archive / All Mail
first) and logged from there, or stays queued for the next pass.
"""

from __future__ import annotations

from pathlib import Path

from crm_kit import PASSWORD, USER, Lab, crm_lab

from engine.checkpoints import CheckpointStore
from engine.crm.inbox import lookup_order
from engine.crm.ingest import Address
from engine.crm.send import Draft
from engine.imap.model import ListItem
from engine.sync import scan_folder
from fakeserver.smtp.config import PersonaSpec

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
