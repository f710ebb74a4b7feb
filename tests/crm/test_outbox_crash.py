"""The outbox survives a kill at every step, and the Sent copy survives APPEND failures.

A kill is an injected hook raising ``Killed`` (a BaseException, like SystemExit) at a
step boundary; the "restart" closes the database and SMTP/IMAP connections and runs
``run_pending()`` on a fresh Outbox over the same file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from crm_kit import USER, Lab, crm_lab

from inboxlab.engine.crm.errors import SentCopyFailed
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.outbox import CRASH_POINTS, TRANSITIONS, State, advance
from inboxlab.engine.crm.send import Draft
from inboxlab.engine.errors import EngineError
from inboxlab.fakeserver.imap.hooks import Reply, ServerHooks
from inboxlab.fakeserver.imap.session import ImapSession
from inboxlab.fakeserver.imap.syntax.commands import Command

BOB = "bob@client.test"
DRAFT = Draft((Address(BOB, "Bob Buyer"),), "Renewal", "Hi Bob,\nrenewal attached.\n")


class Killed(BaseException):
    pass


def killer(point: str) -> tuple[list[str], object]:
    seen: list[str] = []

    def crash(where: str) -> None:
        seen.append(where)
        if where == point and seen.count(where) == 1:
            raise Killed(where)

    return seen, crash


async def outcome(lab: Lab, mid: str) -> tuple[int, int, int]:
    sends = [d for d in lab.smtp.log.outside(BOB) if d.message()["Message-ID"] == mid]
    copies = lab.folder_ids(lab.sent_folder).count(mid)
    logs = await lab.count("SELECT count(*) FROM emails WHERE message_id = ?", mid)
    return len(sends), copies, logs


def test_the_table_is_the_only_way_to_move() -> None:
    assert advance(State.QUEUED, "submitted") is State.SUBMITTED
    assert {s for (s, _e) in TRANSITIONS} <= set(State)
    with pytest.raises(EngineError, match="no transition"):
        advance(State.LOGGED, "submitted")


# after_submit is the one ambiguous window: tested separately below.
SAFE_POINTS = [p for p in CRASH_POINTS if p != "after_submit"]


@pytest.mark.parametrize("point", SAFE_POINTS)
async def test_kill_at_every_step_sends_copies_and_logs_once(tmp_path: Path,
                                                             point: str) -> None:
    seen, crash = killer(point)
    async with crm_lab(tmp_path, crash=crash) as lab:  # type: ignore[arg-type]
        with pytest.raises(Killed):
            await lab.outbox.send(DRAFT)
        [rec] = await lab.outbox.records()
        outbox = await lab.restart()
        await outbox.run_pending()
        done = await outbox.get(rec.message_id)
        assert done.state is State.LOGGED, done
        assert await outcome(lab, rec.message_id) == (1, 1, 1)
        assert point in seen


async def test_kill_between_smtp_ok_and_commit_with_autosave_does_not_resend(
        tmp_path: Path) -> None:
    _, crash = killer("after_submit")
    async with crm_lab(tmp_path, autosave=True, crash=crash) as lab:  # type: ignore[arg-type]
        with pytest.raises(Killed):
            await lab.outbox.send(DRAFT)
        [rec] = await lab.outbox.records()
        assert rec.state is State.QUEUED and rec.submit_started
        outbox = await lab.restart()
        outbox.copier.learned_autosave = True  # type: ignore[union-attr]
        [done] = await outbox.run_pending()
        assert done.state is State.LOGGED and done.copy_how == "autosave-found"
        assert await outcome(lab, rec.message_id) == (1, 1, 1)


async def test_kill_in_the_smtp_window_without_autosave_at_most_once(tmp_path: Path) -> None:
    _, crash = killer("after_submit")
    async with crm_lab(tmp_path, crash=crash) as lab:  # type: ignore[arg-type]
        with pytest.raises(Killed):
            await lab.outbox.send(DRAFT)
        [rec] = await lab.outbox.records()
        outbox = await lab.restart(uncertain="hold")
        [held] = await outbox.run_pending()
        assert held.state is State.UNCERTAIN and "may have gone out" in (held.last_error or "")
        assert await outcome(lab, rec.message_id) == (1, 0, 0)
        done = await outbox.release(rec.message_id, sent=True)
        assert done.state is State.LOGGED
        assert await outcome(lab, rec.message_id) == (1, 1, 1)


async def test_kill_in_the_smtp_window_without_autosave_at_least_once(tmp_path: Path) -> None:
    """The documented trade-off: resent with the same Message-ID; still one copy, one log."""
    _, crash = killer("after_submit")
    async with crm_lab(tmp_path, crash=crash) as lab:  # type: ignore[arg-type]
        with pytest.raises(Killed):
            await lab.outbox.send(DRAFT)
        [rec] = await lab.outbox.records()
        outbox = await lab.restart()
        [done] = await outbox.run_pending()
        assert done.state is State.LOGGED
        assert await outcome(lab, rec.message_id) == (2, 1, 1)


class AppendFaults(ServerHooks):
    """Scripted APPEND behaviour: 'overquota' refuses; 'land_then_reset' stores then cuts."""

    def __init__(self) -> None:
        self.plan: list[str] = []

    def on_command(self, session: ImapSession, command: Command) -> Reply | None:
        if command.name != "APPEND" or not self.plan:
            return None
        what = self.plan.pop(0)
        if what == "overquota":
            return Reply(f"{command.tag} NO [OVERQUOTA] Quota exceeded (mailbox full)\r\n"
                         .encode())
        assert session.account is not None
        args = command.args
        session.account.get(args.mailbox).append(args.message, args.flags)  # type: ignore[attr-defined]
        return Reply(b"", close=True)


async def test_append_interrupted_by_a_reset_leaves_exactly_one_copy(tmp_path: Path) -> None:
    hooks = AppendFaults()
    async with crm_lab(tmp_path, hooks=hooks) as lab:
        hooks.plan = ["land_then_reset"]
        rec = await lab.outbox.send(DRAFT)
        assert rec.state is State.LOGGED and rec.copy_how == "found"
        assert await outcome(lab, rec.message_id) == (1, 1, 1)


async def test_overquota_is_reported_then_retried_never_lost(tmp_path: Path) -> None:
    hooks = AppendFaults()
    async with crm_lab(tmp_path, hooks=hooks) as lab:
        hooks.plan = ["overquota"]
        with pytest.raises(SentCopyFailed) as info:
            await lab.outbox.send(DRAFT)
        assert info.value.code == "copy_overquota" and info.value.permanent
        assert "Quota exceeded" in (info.value.server_text or "")
        [rec] = await lab.outbox.records()
        assert rec.state is State.SUBMITTED and "overquota" in (rec.last_error or "")
        [done] = await lab.outbox.run_pending()  # space was freed
        assert done.state is State.LOGGED
        assert await outcome(lab, rec.message_id) == (1, 1, 1)


async def test_trycreate_creates_the_deleted_sent_folder(tmp_path: Path) -> None:
    async with crm_lab(tmp_path) as lab:
        account = lab.imap.store.authenticate(USER, "lab password")
        assert account is not None
        account.delete(lab.sent_folder)  # the user deleted Sent after we found it
        rec = await lab.outbox.send(DRAFT)
        assert rec.state is State.LOGGED and rec.copy_how == "appended"
        assert lab.folder_ids(lab.sent_folder) == [rec.message_id]
