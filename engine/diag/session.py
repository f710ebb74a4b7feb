"""Diagnostics for one running account in one object: trace ring, timeline, causes, bundle.

    diag = AccountDiagnostics(account)         # before or after account.start()
    await diag.start()
    ...
    diag.ring.lines()                          # redacted protocol lines, last 10,000
    await diag.timeline(since=an_hour_ago)     # TimelineEntry list, oldest first
    diag.causes()                              # Diagnosis for every failure, in order
    await diag.export("bundle.json")           # the support bundle
    await diag.stop()

What the TUI's Diagnostics screen needs, with no classification logic of its own: it
shows ``Diagnosis.cause`` (title, permanent, owner/IT fixes) and the evidence as they
are. Call everything on the account's event loop.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inboxlab.engine.db import Database
from inboxlab.engine.diag.bundle import export_bundle
from inboxlab.engine.diag.classify import Diagnosis, diagnose, diagnose_fact
from inboxlab.engine.diag.timeline import Timeline, TimelineEntry, TimelineRecorder
from inboxlab.engine.diag.tracering import DEFAULT_CAPACITY, TraceRing
from inboxlab.engine.states import StateChanged

if TYPE_CHECKING:
    from inboxlab.engine.account import Account


class AccountDiagnostics:
    """Subscribes to one ``Account``; owns a connection to its database file."""

    def __init__(self, account: Account, *, capacity: int = DEFAULT_CAPACITY,
                 bodies: bool = False, db_path: str | os.PathLike[str] | None = None) -> None:
        self.account = account
        self.ring = TraceRing(capacity, bodies=bodies)
        self._db_path = Path(db_path if db_path is not None else account.db_path)
        self._db: Database | None = None
        self._recorder: TimelineRecorder | None = None
        self._causes: list[Diagnosis] = []
        self._undo: list[Any] = []

    async def start(self) -> None:
        self._db = await Database.open(self._db_path)
        self._recorder = TimelineRecorder(Timeline(self._db), self.account,
                                          clock=self.account.clock)
        await self._recorder.start()
        self._undo = [self.account.hub.subscribe(self.ring.record),
                      self.account.subscribe(self._on_event)]

    def _on_event(self, event: object) -> None:
        if isinstance(event, StateChanged):
            if event.error is not None:
                self._causes.append(diagnose(event.error))
            return
        found = diagnose_fact(event)
        if found is not None:
            self._causes.append(found)

    async def stop(self) -> None:
        for undo in self._undo:
            undo()
        self._undo = []
        if self._recorder is not None:
            await self._recorder.stop()
            self._recorder = None
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def timeline(self, *, since: datetime | None = None, until: datetime | None = None,
                       kinds: Iterable[str] | None = None) -> list[TimelineEntry]:
        if self._db is None:
            raise RuntimeError("call start() first")
        if self._recorder is not None:
            await self._recorder.flush()
        return await Timeline(self._db).query(self.account.name, since=since, until=until,
                                              kinds=kinds)

    def causes(self) -> list[Diagnosis]:
        """Every failure the supervisor acted on and every fact (folder gone, UIDVALIDITY
        reset), in the order they happened, since ``start()``."""
        return list(self._causes)

    def last(self) -> Diagnosis | None:
        """The cause of the last failure (what the badge explains), if any."""
        failures = [d for d in self._causes if d.error_code is not None]
        return failures[-1] if failures else None

    async def export(self, path: str | os.PathLike[str]) -> Path:
        if self._recorder is not None:
            await self._recorder.flush()
        return await export_bundle(path, account=self.account, ring=self.ring, db=self._db)


__all__ = ["AccountDiagnostics"]
