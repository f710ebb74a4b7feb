"""The account's event timeline, persisted: what happened, when, and why it broke.

A support engineer reads it as a story: connected, logged in, capabilities, synced,
disconnected (with the catalogue's cause), waited 2.1 s, reconnected... ``Timeline``
stores entries in the engine database (table ``timeline``, migration 3) and answers
queries by time; ``TimelineRecorder`` turns an ``Account``'s events and trace into
entries.

Why a buffer and a flush task: account subscribers and trace subscribers are plain
synchronous callbacks, and a database write is awaited. Entries are queued in order
and written by one task; ``stop()`` writes what is left. Nothing secret is stored:
summaries are built from typed fields (codes, folder names, server words), never from
command lines.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from inboxlab.engine.clock import SYSTEM_CLOCK, Clock
from inboxlab.engine.db import Database
from inboxlab.engine.diag.classify import Diagnosis, diagnose, diagnose_fact
from inboxlab.engine.states import State, StateChanged
from inboxlab.engine.supervise import (
    DisconnectNotice,
    FolderGone,
    LargeFolderWarning,
    NewMail,
    RetryScheduled,
    ScanProgress,
    UidValidityChanged,
)

if TYPE_CHECKING:
    from inboxlab.engine.account import Account

KINDS = ("connect", "login", "capabilities", "sync", "send", "disconnect", "reconnect",
         "backoff", "state", "folder", "warning", "stop")


@dataclass(frozen=True)
class TimelineEntry:
    """One fact; ``cause``/``permanent`` are set for disconnects and folder events."""

    at: datetime
    account: str
    kind: str
    summary: str
    cause: str | None = None
    permanent: bool | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"at": self.at.isoformat(), "account": self.account, "kind": self.kind,
                "summary": self.summary, "cause": self.cause, "permanent": self.permanent,
                "data": dict(self.data)}


def _iso(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


class Timeline:
    """Read and write timeline entries in an open ``Database``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, entries: Iterable[TimelineEntry]) -> int:
        rows = [(e.account, _iso(e.at), e.kind, e.summary, e.cause,
                 None if e.permanent is None else int(e.permanent),
                 json.dumps(dict(e.data), default=str, sort_keys=True)) for e in entries]
        if not rows:
            return 0
        async with self.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO timeline (account, at, kind, summary, cause, permanent, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    async def query(self, account: str | None = None, *, since: datetime | None = None,
                    until: datetime | None = None, kinds: Iterable[str] | None = None,
                    limit: int | None = None) -> list[TimelineEntry]:
        """Entries in time order; ``since`` inclusive, ``until`` exclusive."""
        where, params = [], []
        if account is not None:
            where.append("account = ?")
            params.append(account)
        if since is not None:
            where.append("at >= ?")
            params.append(_iso(since))
        if until is not None:
            where.append("at < ?")
            params.append(_iso(until))
        wanted = list(kinds or ())
        if wanted:
            where.append(f"kind IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        sql = "SELECT account, at, kind, summary, cause, permanent, data FROM timeline"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        async with self.db.conn.execute(sql, params) as cur:
            rows = await cur.fetchall()
        return [TimelineEntry(datetime.fromisoformat(r[1]), r[0], r[2], r[3], r[4],
                              None if r[5] is None else bool(r[5]), json.loads(r[6]))
                for r in rows]


def _cause_fields(d: Diagnosis) -> dict[str, Any]:
    return {"cause": d.code, "permanent": d.permanent}


def entry_for_event(account: str, event: object, at: datetime) -> TimelineEntry | None:
    """The timeline entry for one account event (None for ones not worth a line); a BYE's
    response code rides on the error itself (``Disconnected.response_code``)."""
    if isinstance(event, StateChanged):
        if event.new is State.DISCONNECTED or event.new in (State.AUTH_ERROR,
                                                             State.CONNECT_ERROR):
            if event.error is None:
                return TimelineEntry(event.at, account, "disconnect", event.detail)
            d = diagnose(event.error)
            return TimelineEntry(event.at, account, "disconnect",
                                 f"{d.cause.title}: {d.message}", **_cause_fields(d),
                                 data={"diagnosis": d.as_dict(), "state": event.new.value})
        if event.new is State.CONNECTED and event.old is State.AUTHENTICATING:
            return TimelineEntry(event.at, account, "login", "logged in")
        if event.new is State.AUTHENTICATING:
            return TimelineEntry(event.at, account, "connect", "connected")
        if event.new is State.CONNECTING and event.old is State.DISCONNECTED:
            return TimelineEntry(event.at, account, "reconnect", "reconnecting")
        if event.new is State.IDLE and event.old is State.SYNCING:
            return TimelineEntry(event.at, account, "sync", "sync pass done")
        if event.new is State.STOPPED:
            return TimelineEntry(event.at, account, "stop", "stopped")
        return None
    if isinstance(event, RetryScheduled):
        return TimelineEntry(event.at, account, "backoff",
                             f"waiting {event.delay:.2f}s before attempt {event.attempt + 1}",
                             data={"delay": event.delay, "attempt": event.attempt,
                                   "code": event.code})
    if isinstance(event, DisconnectNotice):
        return None  # the failure transition already carries the same classification
    if isinstance(event, FolderGone):
        d2 = diagnose_fact(event)
        assert d2 is not None
        return TimelineEntry(event.at, account, "folder", f"folder {event.folder!r} vanished",
                             **_cause_fields(d2), data={"server_text": event.server_text})
    if isinstance(event, UidValidityChanged):
        d3 = diagnose_fact(event)
        assert d3 is not None
        return TimelineEntry(event.at, account, "folder", d3.message or d3.cause.title,
                             **_cause_fields(d3),
                             data={"folder": event.folder, "old": event.old, "new": event.new})
    if isinstance(event, LargeFolderWarning):
        return TimelineEntry(event.at, account, "warning",
                             f"{event.folder!r} holds {event.messages} messages",
                             data={"folder": event.folder, "messages": event.messages})
    if isinstance(event, ScanProgress | NewMail):
        return None
    return None


class TimelineRecorder:
    """Feeds one ``Account``'s events and trace into a ``Timeline``.

    ``start()`` after the account's database is open is not required: the recorder has
    its own ``Database`` (the same file is fine: WAL).
    """

    def __init__(self, timeline: Timeline, account: Account, *,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.timeline = timeline
        self.account = account
        self.clock = clock
        self._pending: list[TimelineEntry] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._undo: list[Callable[[], None]] = []
        self._caps: tuple[str, ...] = ()
        self._stopping = False

    def _push(self, entry: TimelineEntry | None) -> None:
        if entry is not None:
            self._pending.append(entry)
            self._wake.set()

    def on_event(self, event: object) -> None:
        self._push(entry_for_event(self.account.name, event, self.clock.wall()))
        if isinstance(event, StateChanged) and event.new in (State.CONNECTED, State.SYNCING):
            caps = self.account.capabilities
            if caps and caps != self._caps:
                self._caps = caps
                self._push(TimelineEntry(self.clock.wall(), self.account.name,
                                         "capabilities", " ".join(caps),
                                         data={"capabilities": list(caps)}))

    def on_trace(self, name: str, info: Mapping[str, Any]) -> None:
        if name.startswith(("send.", "outbox.", "smtp.send")):
            self._push(TimelineEntry(self.clock.wall(), self.account.name, "send", name,
                                     data={k: v for k, v in info.items()
                                           if isinstance(v, str | int | float | bool)}))

    async def start(self) -> None:
        self._undo = [self.account.subscribe(self.on_event),
                      self.account.hub.subscribe(self.on_trace)]
        self._task = asyncio.create_task(self._run(), name="timeline recorder")

    async def _run(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        await self.timeline.add(batch)

    async def stop(self) -> None:
        for undo in self._undo:
            undo()
        self._undo = []
        task, self._task = self._task, None
        if task is not None:  # let a write in progress finish; never cancel mid-transaction
            self._stopping = True
            self._wake.set()
            await task
        await self.flush()


__all__ = ["KINDS", "Timeline", "TimelineEntry", "TimelineRecorder", "entry_for_event"]
