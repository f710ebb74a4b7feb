"""The BCC/forward logging endpoint: an SMTP server (aiosmtpd) for the account's BCC address.

The user adds the BCC address when sending from any client (phone, webmail), or
forwards a received email to it. ``BccIngest.ingest`` (no sockets) decides and logs;
``BccEndpoint`` is the thin aiosmtpd shell on the caller's loop.

- A BCC'd email (the logging address is not among the visible recipients): logged as
  outgoing on the record of *every* external To/Cc recipient (each becomes a contact),
  and its thread becomes tracked (replies are then logged by the scan).
- A forward to the logging address (it is a visible recipient, or nobody else is): the
  *original* is logged, with its original sender as the contact. Forwards are found by
  structure (``forwards``: an attached ``message/rfc822``, or an inline block in the
  common clients' formats and languages), never by the subject's prefix.
- The logging address itself is never a contact or a thread participant.
- Only mail from the connected user's own addresses is accepted (550 otherwise).
- Limits, in decimal megabytes as the product states them (``rules.ATTACHMENT_LIMIT`` =
  50,000,000 bytes; ``BODY_LIMIT`` = 2,000,000 bytes per text part): an email over the
  attachment limit is logged without its attachments, answered 250 (it *was* logged; a
  5xx would make the sender's server bounce it) with the note on the record; a text part
  over the body limit is not logged, with a 552 that says why. Recipients on the
  never-log list get no contact and no email, and the attachment switch applies.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from inboxlab.engine.crm.errors import CrmError, IngestRefused
from inboxlab.engine.crm.forwards import Forwarded, find_forward
from inboxlab.engine.crm.ingest import Address, Headers, LoggedEmail, parse_message_off_loop
from inboxlab.engine.crm.records import CrmStore
from inboxlab.engine.crm.rules import LoggingRules
from inboxlab.engine.listener import LocalServer

BODY_LIMIT = 2_000_000  # bytes per text part (decimal MB, like the attachment limit)
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class IngestResult:
    logged: bool
    reply: str  # the SMTP answer: 250 or a 5xx that tells the sender why
    email_id: int | None = None
    thread_id: int | None = None
    contacts: tuple[str, ...] = ()


def largest_text_part(msg: EmailMessage) -> int:
    """Decoded bytes of the largest text part that is not an attachment (the limit is per
    part: a text and an HTML alternative of the same body are not added together)."""
    largest = 0
    for part in msg.walk():
        if part.get_content_maintype() == "text" and not part.is_attachment():
            payload = part.get_payload(decode=True)
            largest = max(largest, len(payload) if isinstance(payload, bytes) else 0)
    return largest


def _mb(limit: int) -> str:
    return f"{limit / 1_000_000:g} MB ({limit:,} bytes)"


class BccIngest:
    """``addresses``: the logging address(es); the endpoint adds each envelope's RCPT.
    ``on_logged``: awaited after every logged email (the running scan's logger refreshes
    its tracked set there, so a reply to a BCC-created thread is never passed over)."""

    def __init__(self, store: CrmStore, own: Iterable[str], *,
                 rules: LoggingRules | None = None, body_limit: int = BODY_LIMIT,
                 addresses: Iterable[str] = (),
                 on_logged: Callable[[IngestResult], Awaitable[None]] | None = None) -> None:
        self.store = store
        self.own = frozenset(a.lower() for a in own)
        self.rules = rules or LoggingRules()
        self.body_limit = body_limit
        self.addresses = frozenset(a.lower() for a in addresses)
        self.on_logged = on_logged

    async def ingest(self, mail_from: str, raw: bytes, rcpt: Iterable[str] = ()
                     ) -> IngestResult:
        try:
            result = await self._ingest(mail_from, raw,
                                        self.addresses | {r.lower() for r in rcpt})
        except IngestRefused as exc:
            return IngestResult(False, f"{'550' if exc.code == 'not_own' else '552'} "
                                f"5.7.1 not logged: {exc.message}")
        except CrmError as exc:
            return IngestResult(False, f"554 5.6.0 not logged: {exc.message}")
        if result.logged and self.on_logged is not None:
            await self.on_logged(result)
        return result

    async def _ingest(self, mail_from: str, raw: bytes, logging: frozenset[str]
                      ) -> IngestResult:
        with_files, note = self.rules.attachments(len(raw))
        email = await parse_message_off_loop(raw, with_attachments=with_files)
        h = email.headers
        sender = (h.from_.email if h.from_ else mail_from).lower()
        if sender not in self.own and mail_from.lower() not in self.own:
            raise IngestRefused(f"{sender} is not a connected user of this CRM", code="not_own")
        if email.message is not None and largest_text_part(email.message) > self.body_limit:
            raise IngestRefused(f"a body part is over {_mb(self.body_limit)} (attachments "
                                "not counted)", code="body_too_big")
        notes = [note] if note else []
        visible = {a.email for a in (*h.to, *h.cc)}
        external = visible - self.own - logging
        forwarded_to_us = bool(visible & logging) or not external
        text = email.text or _TAG.sub("\n", email.html)
        # Forwarded *to* the logging address: the original is what to log. A BCC of
        # outgoing mail stays outgoing mail, even when it quotes or forwards something.
        found = find_forward(email.message, text, quotes=True) if forwarded_to_us else None
        if found is not None:
            return await self._log_forward(email, found, notes, logging)
        return await self._log_bcc(email, notes, logging)

    async def _log_bcc(self, email: LoggedEmail, notes: list[str], logging: frozenset[str]
                       ) -> IngestResult:
        h = email.headers
        people = [a for a in dict((a.email, a) for a in (*h.to, *h.cc)).values()
                  if a.email not in self.own and a.email not in logging]
        if not people:
            raise IngestRefused("no recipient outside the user's own addresses",
                                code="no_contact")
        allowed = [a for a in people if self.rules.blocked([a.email]) is None]
        if not allowed:
            return IngestResult(False, "250 2.0.0 not logged: every recipient is on the "
                                "never-log list")
        ids = [await self.store.upsert_contact(a.email, a.name) for a in allowed]
        thread_id = await self.store.new_thread(h.subject, ids[0], "bcc",
                                                [a.email for a in allowed],
                                                [h.message_id] if h.message_id else [])
        email_id = await self.store.log_email(
            email, thread_id=thread_id, contact_id=ids[0], direction="outgoing",
            join_reason="logged through the BCC address", source="bcc", notes=notes,
            also=ids[1:])
        return self._result(email_id, thread_id, allowed, notes)

    async def _log_forward(self, email: LoggedEmail, found: Forwarded, notes: list[str],
                           logging: frozenset[str]) -> IngestResult:
        original = found.original
        sender = original.from_
        assert sender is not None
        if sender.email in logging or sender.email in self.own:
            raise IngestRefused(f"the forwarded original is from {sender.email}, not from "
                                "a contact", code="no_contact")
        hit = self.rules.blocked([sender.email])
        if hit is not None:
            return IngestResult(False, f"250 2.0.0 not logged: never-log list: {hit}")
        contact = await self.store.upsert_contact(sender.email, sender.name)
        headers = Headers(original.message_id or email.headers.message_id, (), (), sender,
                          original.to, original.cc, original.subject or email.headers.subject,
                          original.date)
        ids = [i for i in (original.message_id, email.headers.message_id) if i]
        thread_id = await self.store.new_thread(headers.subject, contact, "forward",
                                                [sender.email], ids)
        logged = LoggedEmail(headers, email.text, email.html, email.attachments, email.defects)
        email_id = await self.store.log_email(
            logged, thread_id=thread_id, contact_id=contact, direction="incoming",
            join_reason=f"forwarded to the BCC address ({found.how}); original sender "
                        f"{sender.email}", source="forward", notes=notes)
        return self._result(email_id, thread_id, [sender], notes)

    def _result(self, email_id: int | None, thread_id: int, people: list[Address],
                notes: list[str]) -> IngestResult:
        who = tuple(a.email for a in people)
        suffix = f" ({'; '.join(notes)})" if notes else ""
        return IngestResult(True, f"250 2.0.0 logged{suffix}", email_id, thread_id, who)


class _Handler:
    def __init__(self, ingest: BccIngest, address: str) -> None:
        self.ingest = ingest
        self.address = address.lower()
        self.results: list[IngestResult] = []

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address.lower() != self.address:
            return "550 5.1.1 this server only accepts the BCC logging address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session,
                          envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        result = await self.ingest.ingest(str(envelope.mail_from or ""), raw,
                                          envelope.rcpt_tos)
        self.results.append(result)
        return result.reply


class BccEndpoint(LocalServer):
    """``async with BccEndpoint(ingest, "log@bcc.crm.test") as ep:`` -> ``ep.port``."""

    def __init__(self, ingest: BccIngest, address: str, *, host: str = "127.0.0.1",
                 port: int = 0, data_size_limit: int = 80 * 1024 * 1024) -> None:
        self.handler = _Handler(ingest, address)
        self.host = host
        self.port = port
        self.data_size_limit = data_size_limit

    @property
    def results(self) -> list[IngestResult]:
        return self.handler.results

    async def _open(self) -> asyncio.Server:
        loop = asyncio.get_running_loop()

        def protocol() -> Any:
            return SMTP(self.handler, data_size_limit=self.data_size_limit,
                        hostname="bcc.inboxlab", loop=loop)

        return await loop.create_server(protocol, self.host, self.port)


__all__ = ["BODY_LIMIT", "BccEndpoint", "BccIngest", "IngestResult", "largest_text_part"]
