"""The Sent copy: exactly one copy of each submitted message in the user's Sent folder.

The rule (seed + provider docs):

- Providers that file submitted mail themselves (Gmail, Office 365) must not get an
  APPEND: that is the classic duplicate. ``autosave=True`` (from the profile) skips the
  APPEND outright; ``autosave=None`` ("don't know") watches Sent for the Message-ID for
  ``detect_window`` seconds after submission and remembers the answer: seen means
  this account auto-saves (keep watching, never APPEND); not seen means it does not
  (later sends search once and APPEND without waiting).
- Otherwise APPEND with ``\\Seen`` to the folder with the ``\\Sent`` attribute, or the
  folder role detection chose (the caller passes it).
- Before any APPEND, ``UID SEARCH UID <uidnext_before>:* HEADER Message-ID <id>``:
  the copy is idempotent (a restart, a retry after a disconnect) and the search is
  bounded to UIDs that arrived since submission, so a 100k-message Sent folder costs
  what its newest few messages cost, not a full header scan (~137 ms on Dovecot).
- ``[TRYCREATE]`` creates the folder and retries; ``[OVERQUOTA]`` and other refusals
  raise ``SentCopyFailed`` (the outbox keeps the record at 'submitted', with the
  reason, and a later run retries); a disconnect during APPEND reconnects, searches
  again (the APPEND may have landed before the cut) and only then re-APPENDs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from inboxlab.engine.clock import SYSTEM_CLOCK, Clock
from inboxlab.engine.crm.errors import SentCopyFailed
from inboxlab.engine.errors import Disconnected, EngineError, ServerRefused, TimedOut
from inboxlab.engine.imap.commands import Atom


class CopyClient(Protocol):
    selected: Any

    async def status(self, mailbox: str, items: Any = None) -> Any: ...
    async def select(self, mailbox: str, *, readonly: bool = False,
                     condstore: bool = False) -> Any: ...
    async def uid_search(self, *criteria: Any, charset: str | None = None) -> list[int]: ...
    async def append(self, mailbox: str, message: bytes, *, flags: Any = (),
                     date: Any = None) -> Any: ...
    async def create(self, mailbox: str) -> None: ...
    async def close(self) -> None: ...


Connect = Callable[[], Awaitable[CopyClient]]


@dataclass(frozen=True)
class CopyPolicy:
    autosave: bool | None = None  # True: provider files it; False: we APPEND; None: detect
    detect_window: float = 3.0
    poll_interval: float = 0.05
    reconnects: int = 3


@dataclass(frozen=True)
class Mark:
    """Where Sent stood before submission (stored in the outbox row)."""

    uidvalidity: int | None
    uidnext: int | None


class SentCopier:
    def __init__(self, connect: Connect, folder: str, policy: CopyPolicy | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._connect = connect
        self.folder = folder
        self.policy = policy or CopyPolicy()
        self.clock = clock
        self.learned_autosave: bool | None = None
        self._client: CopyClient | None = None
        self._floor = 1  # every UID below this in the selected Sent is already known
        self.appends = 0
        self.searches = 0

    @property
    def autosave(self) -> bool | None:
        return self.policy.autosave if self.policy.autosave is not None \
            else self.learned_autosave

    async def _get(self) -> CopyClient:
        if self._client is None:
            self._client = await self._connect()
        return self._client

    async def _drop(self) -> None:
        client, self._client = self._client, None
        self._floor = 1
        if client is not None:
            try:
                await client.close()
            except (EngineError, OSError):
                pass

    async def close(self) -> None:
        await self._drop()

    async def mark(self) -> Mark:
        """UIDVALIDITY/UIDNEXT of Sent now (before submitting)."""
        client = await self._get()
        selected = client.selected
        try:
            if selected is not None and selected.mailbox == self.folder:
                # Sent is selected (we searched it): STATUS is not for the selected mailbox,
                # and a fresh EXAMINE costs a round trip. A UID we saw (APPENDUID, search
                # hits) + 1 is a safe lower bound: the next message gets a higher UID.
                return Mark(selected.uidvalidity, max(selected.uidnext or 1, self._floor))
            status = await client.status(self.folder, ("UIDVALIDITY", "UIDNEXT"))
        except ServerRefused as exc:
            if exc.status != "NO":
                raise
            return Mark(None, None)  # Sent is gone: APPEND will meet TRYCREATE and create it
        return Mark(status.items.get("UIDVALIDITY"), status.items.get("UIDNEXT"))

    async def find(self, message_id: str, mark: Mark) -> bool:
        """Whether Sent holds ``message_id`` among the UIDs since ``mark``."""
        client = await self._get()
        box = client.selected
        if box is None or box.mailbox != self.folder:
            try:
                box = await client.select(self.folder, readonly=True)
                self._floor = 1
            except ServerRefused as exc:
                if exc.status != "NO":
                    raise
                return False  # no such folder (yet): nothing can be in it
        low = mark.uidnext if mark.uidnext and box.uidvalidity == mark.uidvalidity else 1
        self.searches += 1
        found = await client.uid_search(Atom("UID"), Atom(f"{low}:*"), Atom("HEADER"),
                                        "Message-ID", message_id)
        if found:
            self._floor = max(self._floor, max(found) + 1)
        return bool(found)

    async def _watch(self, message_id: str, mark: Mark) -> bool:
        deadline = self.clock.monotonic() + self.policy.detect_window
        while True:
            if await self.find(message_id, mark):
                return True
            if self.clock.monotonic() >= deadline:
                return False
            await asyncio.sleep(self.policy.poll_interval)  # the provider files it async

    async def ensure(self, raw: bytes, message_id: str, mark: Mark) -> str:
        """Make sure exactly one copy exists; returns how ('autosave-profile', ...)."""
        if self.policy.autosave is True:
            return "autosave-profile"
        for attempt in range(self.policy.reconnects + 1):
            try:
                return await self._ensure_once(raw, message_id, mark)
            except (Disconnected, TimedOut, OSError) as exc:
                await self._drop()
                if attempt == self.policy.reconnects:
                    raise SentCopyFailed(f"the connection kept dropping during the Sent copy "
                                         f"({exc})", code="copy_disconnected") from exc
        raise AssertionError("unreachable")

    async def _ensure_once(self, raw: bytes, message_id: str, mark: Mark) -> str:
        if self.autosave is not False:  # unknown, or learned/known to auto-save: watch
            if await self._watch(message_id, mark):
                self.learned_autosave = True
                return "autosave-detected"
            if self.policy.autosave is None:
                # Not filed within the window: this provider does not auto-save. Later
                # sends skip the wait (one bounded search, then APPEND).
                self.learned_autosave = False
        elif await self.find(message_id, mark):
            return "found"
        client = await self._get()
        try:
            await self._append(client, raw)
        except ServerRefused as exc:
            if exc.response_code != "TRYCREATE":
                raise self._refused(exc) from exc
            try:
                await client.create(self.folder)
                await self._append(client, raw)
            except ServerRefused as again:
                raise self._refused(again) from again
        return "appended"

    async def _append(self, client: CopyClient, raw: bytes) -> None:
        self.appends += 1
        result = await client.append(self.folder, raw, flags=("\\Seen",))
        selected = client.selected
        if result.uid is not None and selected is not None and \
                selected.mailbox == self.folder and result.uidvalidity == selected.uidvalidity:
            self._floor = max(self._floor, result.uid + 1)

    def _refused(self, exc: ServerRefused) -> SentCopyFailed:
        code = (exc.response_code or "refused").lower()
        fix = "free space in the mailbox, then retry" if code == "overquota" else None
        return SentCopyFailed(f"APPEND to {self.folder!r} was refused ({code})",
                              code=f"copy_{code}", permanent=code == "overquota",
                              server_text=exc.server_text, remediation=fix)


__all__ = ["CopyClient", "CopyPolicy", "Mark", "SentCopier"]
