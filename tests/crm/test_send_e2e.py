"""End to end on loopback fakes: send from a record, one Sent copy, the persona's reply logged."""

from __future__ import annotations

from pathlib import Path

import pytest
from crm_kit import USER, crm_lab

from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.outbox import State
from inboxlab.engine.crm.send import Draft
from inboxlab.engine.crm.sentcopy import CopyPolicy
from inboxlab.engine.crm.tracking import thread_view
from inboxlab.fakeserver.imap.hooks import ConnectionInfo, ServerHooks
from inboxlab.fakeserver.smtp.config import PersonaSpec

BOB = "bob@client.test"
DRAFT = Draft((Address(BOB, "Bob Buyer"),), "Quote for 12 widgets", "Hi Bob,\n12 at 10.\n")


@pytest.mark.parametrize("special_use", [True, False], ids=["special-use", "no-special-use"])
async def test_send_copy_and_reply_logged(tmp_path: Path, special_use: bool) -> None:
    personas = (PersonaSpec(BOB, "Bob Buyer", body="Yes, deal.", attach=True),)
    async with crm_lab(tmp_path, personas=personas, special_use=special_use) as lab:
        rec = await lab.outbox.send(DRAFT)
        assert rec.state is State.LOGGED and rec.copy_how == "appended"
        assert rec.message_id.endswith("@crm.test>")
        assert lab.folder_ids(lab.sent_folder) == [rec.message_id]
        assert lab.folder_ids("Presentations") == []
        [out] = lab.smtp.log.outside(BOB)
        assert out.message()["Message-ID"] == rec.message_id

        await lab.smtp.log.wait_for(rcpt=USER, kind="local")
        assert await lab.scan() == 1
        bob = await lab.store.contact(BOB)
        assert bob is not None and bob.company == "Client" and bob.first_name == "Bob"
        emails = await lab.store.emails(contact_id=bob.id)
        assert [(e.direction, e.sender) for e in emails] == [
            ("outgoing", USER), ("incoming", BOB)]
        reply = emails[1]
        assert reply.thread_id == rec.thread_id and "In-Reply-To" in reply.join_reason
        assert [(name, size > 0) for name, _sha, size in reply.attachments] == [
            ("notes.pdf", True)]
        sha = reply.attachments[0][1]
        assert lab.store.files.path(sha).read_bytes()[:4] == b"%PDF"
        assert (lab.store.files.root.stat().st_mode & 0o777) == 0o700
        view = await thread_view(lab.store, rec.thread_id or 0)
        assert [e.status for e in view.entries] == ["logged", "logged"]
        assert "In-Reply-To names " + rec.message_id in view.entries[1].reason
        assert await lab.scan() == 0  # a second pass logs nothing twice


async def test_gmail_autosave_leaves_exactly_one_copy(tmp_path: Path) -> None:
    personas = (PersonaSpec(BOB, "Bob Buyer"),)
    async with crm_lab(tmp_path, personas=personas, autosave=True) as lab:
        first = await lab.outbox.send(DRAFT)
        assert first.copy_how == "autosave-detected" and lab.copier.appends == 0
        second = await lab.outbox.send(DRAFT)
        assert second.copy_how == "autosave-detected"
        assert lab.folder_ids("Sent") == [first.message_id, second.message_id]


async def test_autosave_from_the_profile_never_appends_or_searches(tmp_path: Path) -> None:
    policy = CopyPolicy(autosave=True)
    async with crm_lab(tmp_path, autosave=True, policy=policy) as lab:
        rec = await lab.outbox.send(DRAFT)
        assert rec.copy_how == "autosave-profile"
        assert lab.copier.appends == 0 and lab.copier.searches == 0
        assert lab.folder_ids("Sent") == [rec.message_id]


async def test_reply_from_another_address_logs_to_the_threads_contact(tmp_path: Path) -> None:
    personas = (PersonaSpec(BOB, "Bob", action="reply_from_other",
                            other_address="bob.b@mobile.test"),)
    async with crm_lab(tmp_path, personas=personas) as lab:
        rec = await lab.outbox.send(DRAFT)
        await lab.smtp.log.wait_for(rcpt=USER, kind="local")
        assert await lab.scan() == 1
        bob = await lab.store.contact(BOB)
        assert bob is not None
        emails = await lab.store.emails(thread_id=rec.thread_id)
        assert [(e.sender, e.contact_id) for e in emails] == [
            (USER, bob.id), ("bob.b@mobile.test", bob.id)]
        assert await lab.store.contact("bob.b@mobile.test") is None


class Transcript(ServerHooks):
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def on_transcript(self, conn: ConnectionInfo, direction: str, data: bytes) -> None:
        if direction == "in":
            self.lines.append(data)


async def test_the_idempotency_search_is_bounded_to_uids_since_submission(
        tmp_path: Path) -> None:
    hooks = Transcript()
    async with crm_lab(tmp_path, hooks=hooks, sent_messages=300) as lab:
        rec = await lab.outbox.send(DRAFT)
        assert rec.mark.uidnext == 301
        searches = [line for line in hooks.lines if b"UID SEARCH" in line]
        bounded = b'UID SEARCH UID 301:* HEADER "Message-ID"'
        assert searches and all(bounded in line for line in searches)
        second = await lab.outbox.send(DRAFT)
        assert second.mark.uidnext == 302  # the APPENDUID we saw, not a fresh EXAMINE
        assert lab.folder_ids("Sent")[-2:] == [rec.message_id, second.message_id]


async def test_detect_mode_learns_a_provider_that_does_not_autosave(tmp_path: Path) -> None:
    policy = CopyPolicy(autosave=None, detect_window=0.2, poll_interval=0.05)
    async with crm_lab(tmp_path, policy=policy) as lab:
        first = await lab.outbox.send(DRAFT)
        assert first.copy_how == "appended" and lab.copier.learned_autosave is False
        watched = lab.copier.searches
        assert watched >= 2  # it watched Sent for a while before appending
        second = await lab.outbox.send(DRAFT)
        assert second.copy_how == "appended" and lab.copier.searches == watched + 1
        assert lab.folder_ids("Sent") == [first.message_id, second.message_id]
