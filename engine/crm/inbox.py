"""Incoming mail to CRM records: the account's scan sink, then body fetches for tracked mail.

Two phases, so untracked mail is never read:

1. ``sink(message)`` gets the header fields the scan already fetched. It matches them
   to tracked threads (``tracking``) and applies the logging rules (``rules``) - no
   body is read, nothing is stored for a message that names no tracked thread.
   Messages to log are queued durably (``crm_pending``, committed before the scan
   commits its checkpoint past them, so a kill in between loses nothing); refusals of
   messages that *did* name a tracked thread are recorded (ids and reason only) for the
   thread view.
2. ``fetch_and_log(client)`` reads the queued messages' bodies on an IMAP connection
   the caller owns and logs them. Over the attachment limit (decided from
   RFC822.SIZE in phase 1) only the text parts are fetched (BODYSTRUCTURE first), so a
   60 MB email costs a few kB. A message that cannot be parsed is recorded as
   malformed with its reason, and the rest of the queue goes on. A message that left
   its folder in between (another client's rule, a phone) is not malformed: it is
   looked up in the other selectable folders, All Mail and Archive first (by
   Message-ID, or for mail without one by sender and subject, keeping the message whose
   ``identity_of`` is the queued one's), and logged from where it is found; if it is
   nowhere, its row stays queued and later passes look again, for ``VANISHED_GIVE_UP``
   after it was queued; then it is recorded as vanished on its thread and unqueued. A
   row whose message was logged meanwhile (scanned in the folder it moved to) goes.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Protocol

from inboxlab.engine.crm.errors import CrmError, MalformedMessage, MessageVanished
from inboxlab.engine.crm.ingest import (
    Headers,
    LoggedEmail,
    identity_of,
    parse_headers,
    parse_message_off_loop,
)
from inboxlab.engine.crm.records import CrmStore, ThreadRef
from inboxlab.engine.crm.rules import Decision, LoggingRules
from inboxlab.engine.crm.tracking import Match, match
from inboxlab.engine.errors import ServerRefused
from inboxlab.engine.imap.commands import Atom
from inboxlab.engine.imap.model import Fetch, ListItem
from inboxlab.engine.roles import ListMethod, Role, detect_roles, folders_from_list
from inboxlab.engine.sync import ScannedMessage
from inboxlab.engine.trace import TraceFn

log = logging.getLogger(__name__)
TEXT_PART_LIMIT = 2 * 1024 * 1024
# How long a tracked message that left its folder, and is in no other, stays queued (and
# looked for on every pass) before it is recorded as vanished: deleted on a phone, or
# held by another client for a while.
VANISHED_GIVE_UP = timedelta(days=7)
LOOKUP_CANDIDATES = 20  # messages by the same sender with the same subject, newest first


class BodyClient(Protocol):
    selected: Any

    async def select(self, mailbox: str, *, readonly: bool = False,
                     condstore: bool = False) -> Any: ...
    def uid_fetch(self, uids: Any, items: Any = ...) -> AsyncIterator[Fetch]: ...
    async def list(self, reference: str = "", pattern: str = "*"
                   ) -> builtins.list[ListItem]: ...
    async def uid_search(self, *criteria: Any, charset: str | None = None
                         ) -> builtins.list[int]: ...


def lookup_order(items: Sequence[ListItem], caps: frozenset[str], gone_from: str) -> list[str]:
    """Where a message that left ``gone_from`` may be: All Mail, Archive, then every other
    selectable folder, Trash and Junk last (sans-I/O)."""
    listed = [f for f in folders_from_list(list(items)) if f.selectable]
    method = ListMethod.SPECIAL_USE if "SPECIAL-USE" in caps else ListMethod.LIST
    roles = detect_roles(listed, method)
    first = [roles[r].folder for r in (Role.ALL, Role.ARCHIVE) if roles[r].folder]
    last = [roles[r].folder for r in (Role.TRASH, Role.JUNK) if roles[r].folder]
    middle = [f.name for f in listed if f.name not in first and f.name not in last]
    return [name for name in dict.fromkeys([*first, *middle, *last])
            if name is not None and name != gone_from]


@dataclass(frozen=True)
class Pending:
    message: ScannedMessage
    headers: Headers
    verdict: Match
    decision: Decision


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").lower()
    return str(value or "").lower()


def text_sections(structure: object, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(section, subtype, charset, transfer-encoding) of the text/plain and text/html leaves."""
    if not isinstance(structure, tuple) or not structure:
        return []
    if isinstance(structure[0], tuple):  # multipart: children first, then the subtype
        found = []
        for n, child in enumerate(structure, start=1):
            if not isinstance(child, tuple):
                break  # the subtype: extension data (params, disposition) follows
            found += text_sections(child, f"{prefix}{n}.")
        return found
    if len(structure) < 7 or _text(structure[0]) != "text":
        return []
    subtype = _text(structure[1])
    size = structure[6] if isinstance(structure[6], int) else 0
    if subtype not in ("plain", "html") or size > TEXT_PART_LIMIT:
        return []
    params = structure[2] if isinstance(structure[2], tuple) else ()
    charset = "utf-8"
    for k in range(0, len(params) - 1, 2):
        if _text(params[k]) == "charset":
            charset = _text(params[k + 1])
    return [((prefix or "1.").rstrip("."), subtype, charset, _text(structure[5]) or "7bit")]


def _rebuild(header: bytes, parts: Sequence[tuple[str, str, str, bytes]]) -> bytes:
    """The message's own header plus only its text parts, as one parseable message."""
    keep: list[bytes] = []
    dropping = False
    for line in header.replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] in (b" ", b"\t"):  # a folded continuation belongs to the field above
            if not dropping:
                keep.append(line)
            continue
        dropping = line.lower().startswith(
            (b"content-type:", b"content-transfer-encoding:", b"mime-version:"))
        if line and not dropping:
            keep.append(line)
    head = b"\r\n".join(keep)
    boundary = b"inboxlab-text-only"
    body = [head + b"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="
            + boundary + b"\r\n\r\n"]
    for subtype, charset, encoding, data in parts:
        body.append(b"--" + boundary + f"\r\nContent-Type: text/{subtype}; charset={charset}"
                    f"\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n".encode() + data
                    + b"\r\n")
    body.append(b"--" + boundary + b"--\r\n")
    return b"".join(body)


class InboxLogger:
    """Plug ``sink`` into the account's scan and ``tracked_ids`` into its tracked set."""

    def __init__(self, store: CrmStore, rules: LoggingRules, own: Iterable[str], *,
                 trace: TraceFn | None = None) -> None:
        self.store = store
        self._trace = trace
        self.rules = rules
        self.own = frozenset(a.lower() for a in own)
        self.pending: list[Pending] = []
        self._index: dict[str, ThreadRef] = {}
        self._contacts: frozenset[str] = frozenset()
        self._generation = -1  # the store's generation the index was read at
        self.logged = 0
        self.malformed = 0

    async def refresh(self) -> None:
        """Reload the tracked set, contacts and never-log list (after sends, BCC, edits)."""
        self._generation = self.store.generation
        self._index = await self.store.tracked_index()
        self._contacts = await self.store.contact_emails()
        extra = await self.store.never_log()
        if extra - self.rules.never_log:
            self.rules = LoggingRules(self.rules.mode, self.rules.never_log | extra,
                                      self.rules.log_attachments, self.rules.attachment_limit,
                                      self.rules.inbox_connected)

    def tracked_ids(self) -> list[str]:
        """The Account's ``tracked`` provider (server-side reply search)."""
        return list(self._index)

    def _decide(self, message: ScannedMessage) -> Pending | None:
        """Match and apply the rules (no I/O); None when it cannot name a tracked thread."""
        try:
            headers = parse_headers(message.headers)
        except MalformedMessage:
            return None  # not even headers: it cannot name a tracked thread
        verdict = match(headers, self._index, self.own)
        if verdict.verdict == "known":
            return None
        decision = self.rules.decide(headers, verdict, message.size, contacts=self._contacts,
                                     own=self.own)
        return Pending(message, headers, verdict, decision)

    async def sink(self, message: ScannedMessage) -> None:
        """The scan's sink: decide from headers; queue durably what is to be logged.

        The queue row is committed before this returns, i.e. before the scan commits its
        checkpoint past the message, so a kill in between cannot lose a tracked reply.
        Anything written to the store since the last refresh (a BCC ingest, a send, an
        edit) is reloaded first, so a reply to a thread created a moment ago is matched.
        """
        if self.store.generation != self._generation:
            await self.refresh()
        item = self._decide(message)
        if item is None:
            return
        verdict, decision, headers = item.verdict, item.decision, item.headers
        if decision.log:
            await self.store.queue_pending(message.folder, message.uidvalidity, message.uid,
                                           message.size, message.headers)
            if all(p.message.uid != message.uid or p.message.folder != message.folder
                   for p in self.pending):
                self.pending.append(item)
        elif verdict.thread is not None:
            kind = verdict.verdict if verdict.verdict in ("flag", "refuse") else "refuse"
            reason = decision.reason if decision.reason != verdict.reason else verdict.reason
            if verdict.chain:
                reason += " | chain: " + " ; ".join(verdict.chain)
            await self.store.record_refusal(
                thread_id=verdict.thread.id, message_id=headers.message_id,
                folder=message.folder, uid=message.uid, kind=kind, reason=reason)
            self._emit(f"crm.inbox.{kind}", message, headers.message_id, reason)

    def _emit(self, name: str, message: ScannedMessage, message_id: str | None,
              reason: str) -> None:
        # Only messages that named a tracked thread get here; ids and reasons, no bodies.
        if self._trace is not None:
            self._trace(name, {"folder": message.folder, "uid": message.uid,
                               "message_id": message_id, "reason": reason})

    async def fetch_and_log(self, client: BodyClient) -> int:
        """Read and log every queued message (this run's and any a crash left behind);
        returns how many were logged. Each queue row goes only after its outcome is
        committed (logged, or recorded as malformed)."""
        rows = await self.store.pending()
        self.pending = []
        if not rows:
            return 0
        await self.refresh()  # a new process: what is already logged is "known"
        done = 0
        for folder in dict.fromkeys(r[0] for r in rows):
            for _, uidvalidity, uid, size, head in (r for r in rows if r[0] == folder):
                box = getattr(client, "selected", None)
                if getattr(box, "mailbox", None) != folder:  # a lookup may have moved us
                    box = await client.select(folder, readonly=True)
                current = getattr(box, "uidvalidity", None)
                message = ScannedMessage(folder, uidvalidity, uid, size, None, head)
                item = None if current not in (None, uidvalidity) else self._decide(message)
                if (item is not None and item.decision.log
                        and not await self.store.is_logged(identity_of(item.headers, size))):
                    logged = await self._read_and_log(client, item)
                    if logged is None and not await self._give_up(item):
                        continue  # vanished and not found elsewhere: stays queued
                    done += logged or 0
                await self.store.drop_pending(folder, uidvalidity, uid)
        self.logged += done
        if done:
            await self.refresh()
        return done

    async def _read_and_log(self, client: BodyClient, item: Pending) -> int | None:
        """1 logged, 0 not (already logged, or recorded as malformed), None: the message
        is gone from its folder and was found nowhere else (keep it queued)."""
        try:
            try:
                email = await self._read(client, item)
            except MessageVanished:
                found = await self._find_elsewhere(client, item)
                if found is None:
                    return None
                item, email = found
            if await self._log(item, email):
                self._emit("crm.inbox.logged", item.message, item.headers.message_id,
                           item.decision.reason)
                return 1
        except MalformedMessage as exc:
            self.malformed += 1
            await self.store.record_refusal(
                thread_id=item.verdict.thread.id if item.verdict.thread else None,
                message_id=item.headers.message_id, folder=item.message.folder,
                uid=item.message.uid, kind="malformed", reason=exc.message)
            self._emit("crm.inbox.malformed", item.message, item.headers.message_id,
                       exc.message)
        return 0

    async def _find_elsewhere(self, client: BodyClient, item: Pending
                              ) -> tuple[Pending, LoggedEmail] | None:
        """The vanished message by its Message-ID in another folder, read from there."""
        mid = item.headers.message_id
        gone = item.message
        caps = frozenset(getattr(client, "caps", ()) or ())
        for folder in lookup_order(await client.list(), caps, gone.folder):
            try:
                box = await client.select(folder, readonly=True)
                uids = await self._search(client, item)
            except ServerRefused:
                continue  # gone or off limits too: look in the next one
            if not uids or getattr(box, "uidvalidity", None) is None:
                continue
            moved = gone._replace(folder=folder, uidvalidity=box.uidvalidity, uid=min(uids))
            found = replace(item, message=moved)
            try:
                email = await self._read(client, found)
            except MessageVanished:
                continue  # moved on again while we looked
            note = f"found in {folder!r}: it left {gone.folder!r} before its body was read"
            self._emit("crm.inbox.found_elsewhere", moved, mid, note)
            return found, replace(email, notes=(*email.notes, note))
        self._emit("crm.inbox.vanished", gone, mid,
                   f"no longer in {gone.folder!r} and not found in any other folder")
        return None

    async def _search(self, client: BodyClient, item: Pending) -> builtins.list[int]:
        """UIDs of ``item``'s message in the selected folder: by Message-ID; without one,
        by sender and subject, keeping those whose identity (Date, From, To, Subject,
        size) is the queued message's."""
        h = item.headers
        if h.message_id is not None:
            return await client.uid_search(Atom("HEADER"), "Message-ID", h.message_id)
        criteria: builtins.list[Any] = []
        if h.from_ is not None:
            criteria += [Atom("FROM"), h.from_.email]
        if h.subject:
            criteria += [Atom("SUBJECT"), h.subject]
        if not criteria:
            return []  # nothing to narrow by: not worth reading every header of a folder
        utf8 = not all(str(c).isascii() for c in criteria)
        uids = await client.uid_search(*criteria, charset="UTF-8" if utf8 else None)
        want = identity_of(h, item.message.size)
        same = []
        candidates = sorted(uids)[-LOOKUP_CANDIDATES:]
        if candidates:
            async for f in client.uid_fetch(candidates, ["UID", "RFC822.SIZE",
                                                         "BODY.PEEK[HEADER]"]):
                head = f.items.get("BODY[HEADER]")
                if f.uid in candidates and isinstance(head, bytes):
                    try:
                        if identity_of(parse_headers(head), f.items.get("RFC822.SIZE")) == want:
                            same.append(f.uid)
                    except MalformedMessage:
                        continue
        return same

    async def _give_up(self, item: Pending) -> bool:
        """True once a vanished message has been queued for ``VANISHED_GIVE_UP``: it is
        recorded as vanished on its thread (ids and reason) and may be unqueued."""
        gone = item.message
        queued = await self.store.queued_at(gone.folder, gone.uidvalidity, gone.uid)
        if queued is not None and self.store.clock.wall() - queued < VANISHED_GIVE_UP:
            return False
        reason = (f"left {gone.folder!r} before its body was read and was not found in any "
                  f"folder for {VANISHED_GIVE_UP.days} days")
        await self.store.record_refusal(
            thread_id=item.verdict.thread.id if item.verdict.thread else None,
            message_id=item.headers.message_id, folder=gone.folder, uid=gone.uid,
            kind="vanished", reason=reason)
        self._emit("crm.inbox.gave_up", gone, item.headers.message_id, reason)
        return True

    async def _read(self, client: BodyClient, item: Pending) -> LoggedEmail:
        uid = item.message.uid
        if item.decision.with_attachments:
            raw = None
            seen = False
            async for f in client.uid_fetch([uid], ["UID", "BODY.PEEK[]"]):
                if f.uid == uid:
                    seen = True
                    raw = f.items.get("BODY[]")
            if not seen or raw is None:
                # NIL: expunged by another client and not yet reported to this one; Dovecot
                # answers so, with OK [EXPUNGEISSUED] (RFC 2180 4.1.1)
                raise self._vanished(item)
            if not isinstance(raw, bytes):
                raise MalformedMessage("the server returned no body", code="no_body")
            return await parse_message_off_loop(raw)
        structure: object = None
        seen = False
        async for f in client.uid_fetch([uid], ["UID", "BODYSTRUCTURE"]):
            if f.uid == uid:
                seen = True
                structure = f.items.get("BODYSTRUCTURE")
        if not seen:
            raise self._vanished(item)
        sections = text_sections(structure)[:4]
        items = ["UID", "BODY.PEEK[HEADER]", *(f"BODY.PEEK[{s[0]}]" for s in sections)]
        got: dict[str, Any] = {}
        async for f in client.uid_fetch([uid], items):
            if f.uid == uid:
                got = f.items
        header = got.get("BODY[HEADER]")
        if header is None and got:  # NIL: expunged elsewhere meanwhile (see above)
            raise self._vanished(item)
        if not isinstance(header, bytes):
            raise MalformedMessage("the server returned no header", code="no_body")
        parts = [(sub, cs, enc, got.get(f"BODY[{sec}]") or b"") for sec, sub, cs, enc in
                 sections]
        email = await parse_message_off_loop(_rebuild(header, parts), with_attachments=False)
        return LoggedEmail(email.headers, email.text, email.html, (), email.defects,
                           email.notes)

    @staticmethod
    def _vanished(item: Pending) -> MessageVanished:
        return MessageVanished(f"UID {item.message.uid} is no longer in "
                               f"{item.message.folder!r}", code="message_vanished")

    async def _log(self, item: Pending, email: LoggedEmail) -> bool:
        headers = email.headers
        direction = "outgoing" if headers.from_ and headers.from_.email in self.own \
            else "incoming"
        notes = [item.decision.note] if item.decision.note else []
        thread = item.verdict.thread
        if thread is not None and item.verdict.joined:
            # A reply from another address still belongs to the thread's contact.
            contact_id = thread.contact_id
            thread_id = thread.id
        else:
            who = item.decision.contact_email or (headers.from_.email if headers.from_ else "")
            try:
                contact_id = await self.store.upsert_contact(who)
            except CrmError:
                contact_id = None
            thread_id = await self.store.new_thread(
                headers.subject, contact_id, "contact", headers.participants - self.own, ())
        also = []  # every contact on the mail sees it on their record, not just the thread's
        for address in sorted((headers.participants - self.own) & self._contacts):
            known = await self.store.contact(address)
            if known is not None:
                also.append(known.id)
        email_id = await self.store.log_email(
            email, thread_id=thread_id, contact_id=contact_id, direction=direction,
            join_reason=item.decision.reason, source="imap", notes=notes,
            size=item.message.size, also=also)
        if email_id is not None:
            await self.store.track(thread_id, (), headers.participants - self.own)
        return email_id is not None


__all__ = ["InboxLogger", "Pending", "text_sections"]
