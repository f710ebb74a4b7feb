"""The crash-safe outbox: queued -> submitted -> copied -> logged, each step committed.

``TRANSITIONS`` is the whole state machine, in one table; ``advance`` refuses anything
else. The runner does one step, commits the new state, does the next. Killed at any
point, ``run_pending()`` on the same database finishes the work:

- a 'submitted' record is copied again: the copy step searches Sent for the
  Message-ID first, so it never makes two copies;
- a 'copied' record is logged again: logging is idempotent on Message-ID;
- a 'queued' record whose submission *may* have happened (``submit_started`` was
  committed before the SMTP transaction; the kill came before 'submitted' was, or the
  server cut the connection / timed out after the message was handed over in DATA,
  ``SubmitUncertain``) is the one real ambiguity. SMTP has no "did you get message X?" query, so:
  1. if the provider files submissions into Sent (auto-save), Sent is asked for the
     Message-ID; found means it went out: the record moves on without a resend;
  2. otherwise ``uncertain`` decides. ``"resend"`` (at-least-once, the default) submits
     again *with the same Message-ID*: the copy and the log still happen exactly once,
     and receiving systems that dedupe on Message-ID (Gmail does) show one message; a
     plain MTA may deliver twice. ``"hold"`` (at-most-once) parks the record in state
     'uncertain' for a person to confirm (``release``). We chose at-least-once by
     default because a silently lost customer email is worse than a rare duplicate,
     and the window is one SMTP round trip wide.

Every transition is also emitted on the ``trace`` hook as ``crm.outbox.transition`` (the
TUI's timeline and the diagnostics bundle subscribe there). The ``crash`` hook is called
at every step boundary (names in ``CRASH_POINTS``); tests
make it raise to simulate a kill and then restart from the database.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Literal

from inboxlab.engine.clock import SYSTEM_CLOCK, Clock
from inboxlab.engine.crm.errors import (
    BadInput,
    CrmError,
    SentCopyFailed,
    SubmitFailed,
    SubmitUncertain,
)
from inboxlab.engine.crm.ingest import Address, parse_message
from inboxlab.engine.crm.records import CrmStore
from inboxlab.engine.crm.send import Draft, SmtpSubmitter, build_message, new_message_id
from inboxlab.engine.crm.sentcopy import Mark, SentCopier
from inboxlab.engine.errors import EngineError
from inboxlab.engine.trace import TraceFn


class State(StrEnum):
    QUEUED = "queued"
    SUBMITTED = "submitted"
    COPIED = "copied"
    LOGGED = "logged"
    FAILED = "failed"  # the server refused the submission for good (5xx)
    UNCERTAIN = "uncertain"  # at-most-once: may have gone out; a person decides


TRANSITIONS: dict[tuple[State, str], State] = {
    (State.QUEUED, "submitted"): State.SUBMITTED,
    (State.QUEUED, "found_in_sent"): State.SUBMITTED,  # restart: it had gone out
    (State.QUEUED, "rejected"): State.FAILED,
    (State.QUEUED, "maybe_sent"): State.UNCERTAIN,
    (State.UNCERTAIN, "release"): State.QUEUED,  # a person says: send it (again)
    (State.UNCERTAIN, "confirm_sent"): State.SUBMITTED,  # a person says: it went out
    (State.SUBMITTED, "copied"): State.COPIED,
    (State.COPIED, "logged"): State.LOGGED,
}
TERMINAL = frozenset({State.LOGGED, State.FAILED, State.UNCERTAIN})
CRASH_POINTS = ("after_queued", "before_submit", "after_submit", "after_submitted",
                "after_copy", "after_copied", "after_log", "after_logged")


def advance(state: State, event: str) -> State:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise CrmError(f"outbox: no transition from {state.value!r} on {event!r}",
                       code="bad_transition", permanent=True) from None


@dataclass(frozen=True)
class OutboxRecord:
    id: int
    message_id: str
    state: State
    thread_id: int | None
    contact_id: int | None
    mail_from: str
    rcpts: tuple[str, ...]
    raw: bytes
    submit_started: bool
    mark: Mark
    copy_how: str | None
    attempts: int
    last_error: str | None


_COLS = ("id, message_id, state, thread_id, contact_id, mail_from, rcpt_json, raw, "
         "submit_started, uidvalidity, uidnext_before, copy_how, attempts, last_error")


def _record(r: Any) -> OutboxRecord:
    return OutboxRecord(int(r[0]), str(r[1]), State(str(r[2])), r[3], r[4], str(r[5]),
                        tuple(json.loads(str(r[6]))), bytes(r[7]), bool(r[8]),
                        Mark(r[9], r[10]), r[11], int(r[12]), r[13])


def _updated(rec: OutboxRecord, **columns: Any) -> OutboxRecord:
    """The record as the UPDATE just committed it (saves a read-back per step)."""
    fields = {k: v for k, v in columns.items()
              if k in ("state", "copy_how", "attempts", "last_error")}
    if "submit_started" in columns:
        fields["submit_started"] = bool(columns["submit_started"])
    if "uidvalidity" in columns or "uidnext_before" in columns:
        fields["mark"] = Mark(columns.get("uidvalidity", rec.mark.uidvalidity),
                              columns.get("uidnext_before", rec.mark.uidnext))
    return replace(rec, **fields)


class Outbox:
    def __init__(self, store: CrmStore, submitter: SmtpSubmitter, copier: SentCopier | None,
                 sender: Address, *, clock: Clock = SYSTEM_CLOCK,
                 rng: random.Random | None = None,
                 uncertain: Literal["resend", "hold"] = "resend",
                 crash: Callable[[str], None] | None = None,
                 trace: TraceFn | None = None) -> None:
        self.store = store
        self.db = store.db
        self.submitter = submitter
        self.copier = copier
        self.sender = sender
        self.clock = clock
        self.rng = rng or random.Random()
        self.uncertain = uncertain
        self._crash = crash or (lambda point: None)
        self._trace = trace
        self._running = asyncio.Lock()

    # -- records ----------------------------------------------------------------------

    async def get(self, message_id: str) -> OutboxRecord:
        async with self.db.transaction(write=False) as conn, conn.execute(
                f"SELECT {_COLS} FROM outbox WHERE message_id = ?", (message_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            raise BadInput(f"no outbox record for {message_id}", code="no_such_record")
        return _record(tuple(row))

    async def records(self) -> list[OutboxRecord]:
        async with self.db.transaction(write=False) as conn, conn.execute(
                f"SELECT {_COLS} FROM outbox ORDER BY id") as cur:
            return [_record(tuple(r)) for r in await cur.fetchall()]

    async def _move(self, rec: OutboxRecord, event: str, **columns: object) -> OutboxRecord:
        new = advance(rec.state, event)
        sets = ", ".join(f"{k} = ?" for k in columns)
        async with self.db.transaction() as conn:
            await conn.execute(
                f"UPDATE outbox SET state = ?, updated_at = ?{', ' + sets if sets else ''} "
                "WHERE id = ? AND state = ?",
                (new.value, self.clock.wall().isoformat(), *columns.values(), rec.id,
                 rec.state.value))
        if self._trace is not None:  # ids, states and our own error text: nothing secret
            self._trace("crm.outbox.transition", {
                "message_id": rec.message_id, "from": rec.state.value, "event": event,
                "to": new.value, **{k: v for k, v in columns.items()
                                    if k in ("copy_how", "last_error")}})
        return _updated(rec, state=new, **columns)

    async def _note(self, rec: OutboxRecord, **columns: object) -> OutboxRecord:
        sets = ", ".join(f"{k} = ?" for k in columns)
        async with self.db.transaction() as conn:
            await conn.execute(f"UPDATE outbox SET {sets}, updated_at = ? WHERE id = ?",
                               (*columns.values(), self.clock.wall().isoformat(), rec.id))
        return _updated(rec, **columns)

    # -- queueing -----------------------------------------------------------------------

    async def enqueue(self, draft: Draft, *, contact_id: int | None = None,
                      thread_id: int | None = None) -> str:
        """Create the Message-ID, the tracked thread and the 'queued' record (one commit)."""
        when = self.clock.wall()
        mid = new_message_id(self.sender.domain, self.rng, when)
        raw = build_message(self.sender, draft, mid, when)
        if contact_id is None:
            first = draft.to[0]
            contact_id = await self.store.upsert_contact(first.email, first.name)
        people = draft.recipients
        if thread_id is not None:
            await self.store.track(thread_id, (mid,), people)
        now = when.isoformat()
        async with self.db.transaction() as conn:
            if thread_id is None:
                thread_id = await self.store.new_thread(draft.subject, contact_id, "sent",
                                                        people, (mid,), conn=conn)
            await conn.execute(
                "INSERT INTO outbox (message_id, state, contact_id, thread_id, mail_from, "
                "rcpt_json, raw, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (mid, State.QUEUED.value, contact_id, thread_id, self.sender.email,
                 json.dumps(list(people)), raw, now, now))
        self._crash("after_queued")
        return mid

    async def send(self, draft: Draft, **kw: int | None) -> OutboxRecord:
        mid = await self.enqueue(draft, **kw)
        return await self.run(mid)

    async def release(self, message_id: str, *, sent: bool) -> OutboxRecord:
        """A person resolved an 'uncertain' record: it went out (``sent``) or send it."""
        rec = await self.get(message_id)
        rec = await self._move(rec, "confirm_sent" if sent else "release",
                               **({} if sent else {"submit_started": 0}))
        return await self.run(message_id)

    # -- running ----------------------------------------------------------------------

    async def unfinished(self) -> list[str]:
        """Message-IDs of the records not in a terminal state, oldest first."""
        marks = ", ".join("?" for _ in TERMINAL)
        async with self.db.transaction(write=False) as conn, conn.execute(
                f"SELECT message_id FROM outbox WHERE state NOT IN ({marks}) ORDER BY id",
                tuple(s.value for s in TERMINAL)) as cur:
            return [str(r[0]) for r in await cur.fetchall()]

    async def run_pending(self) -> list[OutboxRecord]:
        """Finish every unfinished record (after a restart, or a failed earlier run).

        Every start path calls this (the TUI's bridge, ``inboxlab connect``, the headless
        scenario runner): a record left 'queued' by an SMTP 421 or 'submitted' by a crash
        after the server's OK gets its submission, Sent copy and log. A record that fails
        again keeps its error and waits for the next call.
        """
        out = []
        for mid in await self.unfinished():
            try:
                out.append(await self.run(mid))
            except EngineError:  # CRM or connection failure: recorded on the row
                out.append(await self.get(mid))
        return out

    async def run(self, message_id: str) -> OutboxRecord:
        # One record at a time: a resume running beside a send must not submit the
        # same record twice (each step re-reads the committed state under the lock).
        async with self._running:
            return await self._run(message_id)

    async def _run(self, message_id: str) -> OutboxRecord:
        rec = await self.get(message_id)
        if rec.state is State.QUEUED:
            rec = await self._submit(rec)
        if rec.state is State.SUBMITTED:
            rec = await self._copy(rec)
        if rec.state is State.COPIED:
            rec = await self._log(rec)
        return rec

    async def _submit(self, rec: OutboxRecord) -> OutboxRecord:
        if rec.submit_started:
            if self.copier is not None and self.copier.autosave and \
                    await self.copier.find(rec.message_id, rec.mark):
                return await self._move(rec, "found_in_sent", copy_how="autosave-found")
            if self.uncertain == "hold":
                return await self._move(rec, "maybe_sent", last_error=(
                    "the process stopped during submission; it may have gone out"))
        mark = await self.copier.mark() if self.copier is not None else Mark(None, None)
        rec = await self._note(rec, submit_started=1, uidvalidity=mark.uidvalidity,
                               uidnext_before=mark.uidnext, attempts=rec.attempts + 1)
        self._crash("before_submit")
        try:
            await self.submitter.submit(rec.mail_from, rec.rcpts, rec.raw)
        except SubmitUncertain as exc:
            # Cut or timed out after the message was handed over: never "not started".
            # hold parks it for a person; resend keeps submit_started, so the next run
            # asks Sent first (auto-save providers) and only then sends it again.
            if self.uncertain == "hold":
                return await self._move(rec, "maybe_sent", last_error=str(exc))
            await self._note(rec, last_error=str(exc))
            raise
        except SubmitFailed as exc:
            if exc.permanent:
                await self._move(rec, "rejected", last_error=str(exc))
            else:
                await self._note(rec, submit_started=0, last_error=str(exc))
            raise
        self._crash("after_submit")
        rec = await self._move(rec, "submitted", last_error=None)
        self._crash("after_submitted")
        return rec

    async def _copy(self, rec: OutboxRecord) -> OutboxRecord:
        how = rec.copy_how or "no-imap"
        if self.copier is not None and rec.copy_how != "autosave-found":
            try:
                how = await self.copier.ensure(rec.raw, rec.message_id, rec.mark)
            except SentCopyFailed as exc:
                await self._note(rec, last_error=str(exc))
                raise
        self._crash("after_copy")
        rec = await self._move(rec, "copied", copy_how=how, last_error=None)
        self._crash("after_copied")
        return rec

    async def _log(self, rec: OutboxRecord) -> OutboxRecord:
        email = parse_message(rec.raw)
        if rec.thread_id is not None:
            await self.store.log_email(email, thread_id=rec.thread_id, contact_id=rec.contact_id,
                                       direction="outgoing", join_reason="sent from the CRM",
                                       source="outbox")
        self._crash("after_log")
        rec = await self._move(rec, "logged")
        self._crash("after_logged")
        return rec


__all__ = ["CRASH_POINTS", "TERMINAL", "TRANSITIONS", "Outbox", "OutboxRecord", "State",
           "advance"]
