"""The engine side of the folder browser and the on-demand header scan (no Textual).

``FolderBrowser`` keeps one IMAP connection with the folder EXAMINEd, the folder's UIDs
(newest first; ESEARCH sends 100k contiguous UIDs as a few bytes) and nothing else:
header rows are fetched per visible window and handed over, never kept. Searches run
on the server. ``full_scan`` reads every header of a folder in batches and reports
progress (done, total, rate) after each batch.

Connections come from an injected opener so they count against the account's
5-connection budget (the bridge holds a pool slot for each).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import parseaddr
from typing import Any

from inboxlab.engine.errors import EngineError
from inboxlab.engine.imap import ImapClient
from inboxlab.engine.imap.commands import Atom
from inboxlab.tui.views import HeaderRow, ProgressView

Opener = Callable[[str], Awaitable[ImapClient]]
Closer = Callable[[ImapClient, str], Awaitable[None]]

ROW_ITEMS = "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])"
SCAN_ITEMS = "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES)])"
MESSAGE_ITEMS = ("(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO "
                 "REFERENCES FROM TO CC SUBJECT DATE)])")
SCAN_BATCH = 500
_PARSER = BytesHeaderParser(policy=default_policy)  # decodes =?utf-8?q?...?= words


def header_row(uid: int, flags: tuple[str, ...], size: int | None, raw: bytes) -> HeaderRow:
    msg = _PARSER.parsebytes(raw or b"")
    try:
        name, addr = parseaddr(str(msg.get("From", "")))
        subject = str(msg.get("Subject", ""))
        date = str(msg.get("Date", ""))[:16]
    except (ValueError, TypeError, IndexError):  # a header the policy cannot read
        name, addr, subject, date = "", "(unreadable)", "(unreadable header)", ""
    return HeaderRow(uid=uid, date=date, sender=name or addr, subject=subject,
                     seen="\\Seen" in flags, size=size)


@dataclass(frozen=True)
class RawMessage:
    """One message as the message view needs it: where, flags, size, threading headers."""

    folder: str
    uid: int
    flags: tuple[str, ...]
    size: int | None
    headers: bytes


async def fetch_message(client: ImapClient, folder: str, uid: int) -> RawMessage | None:
    """The message view's fields of ``uid`` (``folder`` must be selected); None if gone."""
    async for fetch in client.uid_fetch(str(uid), MESSAGE_ITEMS):
        if fetch.uid != uid:
            continue
        raw = next((v for k, v in fetch.items.items() if k.startswith("BODY[")), b"")
        return RawMessage(folder, uid, tuple(str(f) for f in fetch.items.get("FLAGS", ())),
                          fetch.items.get("RFC822.SIZE"), bytes(raw or b""))
    return None


async def find_message(opener: Opener, closer: Closer, folders: list[str],
                       message_id: str) -> RawMessage | None:
    """A logged email's message in the mailbox, by Message-ID (SEARCH HEADER), on a
    connection of its own; None when no folder has it."""
    client = await opener("message")
    try:
        for folder in folders:
            await client.select(folder, readonly=True)
            uids = await client.uid_search(Atom("HEADER"), "Message-ID", message_id)
            if uids:
                return await fetch_message(client, folder, max(uids))
    finally:
        await closer(client, "message")
    return None


def compact(uids: list[int]) -> str:
    """A UID list as ranges: ``[9, 8, 7, 3]`` -> ``"3,7:9"`` (short commands for windows)."""
    ordered = sorted(uids)
    parts: list[str] = []
    lo = prev = ordered[0]
    for uid in ordered[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        parts.append(f"{lo}:{prev}" if lo != prev else str(lo))
        lo = prev = uid
    parts.append(f"{lo}:{prev}" if lo != prev else str(lo))
    return ",".join(parts)


class FolderBrowser:
    """One browsing connection; ``open`` a folder, then ask for windows of rows."""

    def __init__(self, opener: Opener, closer: Closer) -> None:
        self._open_client = opener
        self._close_client = closer
        self._client: ImapClient | None = None
        self.folder = ""
        self.uids: list[int] = []

    async def _connected(self) -> ImapClient:
        if self._client is None:
            self._client = await self._open_client("browse")
        return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await self._close_client(client, "browse")

    async def _uids(self, folder: str, criteria: list[Any], *, reselect: bool) -> list[int]:
        client = await self._connected()
        if reselect or client.selected is None or client.selected.mailbox != folder:
            await client.select(folder, readonly=True)
        if "ESEARCH" in client.caps:
            criteria = [Atom("RETURN"), (Atom("ALL"),), *criteria]
        return await client.uid_search(*criteria)

    async def open(self, folder: str) -> int:
        """EXAMINE (read-only: browsing never changes flags) and learn the UIDs."""
        try:
            uids = await self._uids(folder, [Atom("ALL")], reselect=True)
        except EngineError:
            await self.close()
            raise
        uids.sort(reverse=True)  # newest first, like every mail client
        self.uids, self.folder = uids, folder
        return len(uids)

    async def rows(self, folder: str, start: int, count: int) -> tuple[HeaderRow, ...]:
        """Header rows for positions ``start .. start+count-1``; fetched now, not kept."""
        if folder != self.folder:
            return ()
        wanted = self.uids[start:start + count]
        if not wanted:
            return ()
        client = await self._connected()
        found: dict[int, HeaderRow] = {}
        try:
            if client.selected is None or client.selected.mailbox != folder:
                # A new connection after an outage closed the old one: EXAMINE again,
                # or every row asked for after the recovery stays "…".
                await client.select(folder, readonly=True)
            async for fetch in client.uid_fetch(compact(wanted), ROW_ITEMS):
                uid = fetch.uid
                if uid is None:
                    continue
                raw = next((v for k, v in fetch.items.items() if k.startswith("BODY[")), b"")
                found[uid] = header_row(uid, tuple(fetch.items.get("FLAGS", ())),
                                        fetch.items.get("RFC822.SIZE"), raw or b"")
        except EngineError:
            await self.close()
            raise
        return tuple(found.get(uid) or HeaderRow(uid, "", "", "(expunged)") for uid in wanted)

    async def message(self, folder: str, uid: int) -> RawMessage | None:
        """The message view's fields of one message of the open folder."""
        client = await self._connected()
        if client.selected is None or client.selected.mailbox != folder:
            await client.select(folder, readonly=True)
        try:
            return await fetch_message(client, folder, uid)
        except EngineError:
            await self.close()
            raise

    async def search(self, folder: str, query: str) -> tuple[int, ...]:
        """Server-side search of subject and sender; the hits as list positions."""
        criteria: list[Any] = [Atom("OR"), Atom("SUBJECT"), query, Atom("FROM"), query]
        hits = set(await self._uids(folder, criteria, reselect=False))
        return tuple(i for i, uid in enumerate(self.uids) if uid in hits)


async def full_scan(opener: Opener, closer: Closer, folder: str,
                    report: Callable[[ProgressView], None]) -> int:
    """Read every header of ``folder`` in batches on a connection of its own."""
    client = await opener("scan-all")
    done = 0
    try:
        box = await client.select(folder, readonly=True)
        total, top = box.exists, (box.uidnext or 1) - 1
        started = time.perf_counter()
        report(ProgressView(folder, 0, total))
        for low in range(1, top + 1, SCAN_BATCH):
            high = min(top, low + SCAN_BATCH - 1)
            async for _ in client.uid_fetch(f"{low}:{high}", SCAN_ITEMS):
                done += 1
            rate = done / max(1e-6, time.perf_counter() - started)
            report(ProgressView(folder, min(done, total), total, rate))
        report(ProgressView(folder, total, total, 0.0))
    finally:
        await closer(client, "scan-all")
    return done
