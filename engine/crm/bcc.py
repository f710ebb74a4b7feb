"""The BCC/forward logging endpoint: an SMTP server (aiosmtpd) for the account's BCC address.

The user adds the BCC address when sending from any client (phone, webmail), or
forwards a received email to it. ``BccIngest.ingest`` (no sockets) decides and logs;
``BccEndpoint`` is the thin aiosmtpd shell on the caller's loop.

- A BCC'd email: logged as outgoing, a contact is created for every external To/Cc
  recipient, and its thread becomes tracked (replies are then logged by the scan).
- A forwarded email: the *original* is logged, with its original sender as the
  contact, read from an attached ``message/rfc822`` or else from the forwarded block
  ("---------- Forwarded message ----------" / "-----Original Message-----").
- Only mail from the connected user's own addresses is accepted (550 otherwise).
- Limits (HubSpot's): attachments over 50 MB are dropped - the email is logged without
  them and the SMTP answer is a 552, so the sender's server returns a delivery error
  saying so; a body over 2 MB (attachments not counted) is not logged, again with a
  552 that says why.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from engine.crm.errors import CrmError, IngestRefused
from engine.crm.ingest import Address, Headers, LoggedEmail, headers_of, parse_message
from engine.crm.records import CrmStore
from engine.crm.tracking import is_forwarded
from engine.served import LocalServer

ATTACHMENT_LIMIT = 50 * 1024 * 1024
BODY_LIMIT = 2 * 1024 * 1024
_FWD_MARK = re.compile(r"^[ >]*-{2,}\s*(?:forwarded message|original message)\s*-{2,}",
                       re.IGNORECASE | re.MULTILINE)
_FIELD = re.compile(r"^[ >*]*(from|von|de|sent|date|to|subject|betreff|cc)\s*:\s*(.+)$",
                    re.IGNORECASE)


@dataclass(frozen=True)
class IngestResult:
    logged: bool
    reply: str  # the SMTP answer: 250 or a 5xx that tells the sender why
    email_id: int | None = None
    thread_id: int | None = None
    contacts: tuple[str, ...] = ()


def forwarded_original(msg: EmailMessage, text: str) -> Headers | None:
    """The forwarded email's headers: an attached message/rfc822, else the quoted block."""
    for part in msg.iter_attachments():
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return headers_of(inner[0])
    found = _FWD_MARK.search(text)
    if found is None:
        return None
    fields: dict[str, str] = {}
    for line in text[found.end():].splitlines()[:15]:
        m = _FIELD.match(line)
        if m:
            fields.setdefault(m.group(1).lower(), m.group(2).strip())
    block = "".join(f"{k}: {v}\n" for k, v in (
        ("From", fields.get("from") or fields.get("von") or fields.get("de")),
        ("To", fields.get("to")), ("Subject", fields.get("subject") or fields.get("betreff")))
        if v)
    if "From:" not in block:
        return None
    parsed = BytesParser(policy=policy.default).parsebytes(block.encode(), headersonly=True)
    assert isinstance(parsed, EmailMessage)
    return headers_of(parsed)


def body_size(msg: EmailMessage) -> int:
    """Decoded bytes of the text parts that are not attachments."""
    total = 0
    for part in msg.walk():
        if part.get_content_maintype() == "text" and not part.is_attachment():
            payload = part.get_payload(decode=True)
            total += len(payload) if isinstance(payload, bytes) else 0
    return total


class BccIngest:
    def __init__(self, store: CrmStore, own: Iterable[str], *,
                 attachment_limit: int = ATTACHMENT_LIMIT, body_limit: int = BODY_LIMIT) -> None:
        self.store = store
        self.own = frozenset(a.lower() for a in own)
        self.attachment_limit = attachment_limit
        self.body_limit = body_limit

    async def ingest(self, mail_from: str, raw: bytes) -> IngestResult:
        try:
            return await self._ingest(mail_from, raw)
        except IngestRefused as exc:
            return IngestResult(False, f"{'550' if exc.code == 'not_own' else '552'} "
                                f"5.7.1 not logged: {exc.message}")
        except CrmError as exc:
            return IngestResult(False, f"554 5.6.0 not logged: {exc.message}")

    async def _ingest(self, mail_from: str, raw: bytes) -> IngestResult:
        too_big = len(raw) > self.attachment_limit
        email = parse_message(raw, with_attachments=not too_big)
        h = email.headers
        sender = (h.from_.email if h.from_ else mail_from).lower()
        if sender not in self.own and mail_from.lower() not in self.own:
            raise IngestRefused(f"{sender} is not a connected user of this CRM", code="not_own")
        if email.message is not None and body_size(email.message) > self.body_limit:
            raise IngestRefused(f"the body is over {self.body_limit // (1024 * 1024)} MB "
                                "(attachments not counted)", code="body_too_big")
        notes = [f"attachments over {self.attachment_limit // (1024 * 1024)} MB were dropped"] \
            if too_big else []
        original = forwarded_original(email.message, email.text) \
            if email.message is not None and is_forwarded(h.subject) else None
        if original is not None and original.from_ is not None:
            return await self._log_forward(email, original, notes)
        return await self._log_bcc(email, notes, too_big)

    async def _log_bcc(self, email: LoggedEmail, notes: list[str], too_big: bool
                       ) -> IngestResult:
        h = email.headers
        people = [a for a in (*h.to, *h.cc) if a.email not in self.own]
        if not people:
            raise IngestRefused("no recipient outside the user's own addresses",
                                code="no_contact")
        ids = [await self.store.upsert_contact(a.email, a.name) for a in people]
        thread_id = await self.store.new_thread(h.subject, ids[0], "bcc",
                                                [a.email for a in people],
                                                [h.message_id] if h.message_id else [])
        email_id = await self.store.log_email(
            email, thread_id=thread_id, contact_id=ids[0], direction="outgoing",
            join_reason="logged through the BCC address", source="bcc", notes=notes)
        return self._result(email_id, thread_id, people, too_big)

    async def _log_forward(self, email: LoggedEmail, original: Headers, notes: list[str]
                           ) -> IngestResult:
        sender = original.from_
        assert sender is not None
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
            join_reason=f"forwarded to the BCC address; original sender {sender.email}",
            source="forward", notes=notes)
        return self._result(email_id, thread_id, [sender], bool(notes))

    def _result(self, email_id: int | None, thread_id: int, people: list[Address],
                too_big: bool) -> IngestResult:
        who = tuple(a.email for a in people)
        if too_big:
            return IngestResult(True, f"552 5.3.4 logged, but attachments over "
                                f"{self.attachment_limit // (1024 * 1024)} MB were dropped",
                                email_id, thread_id, who)
        return IngestResult(True, "250 2.0.0 logged", email_id, thread_id, who)


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
        result = await self.ingest.ingest(str(envelope.mail_from or ""), raw)
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


__all__ = ["ATTACHMENT_LIMIT", "BODY_LIMIT", "BccEndpoint", "BccIngest", "IngestResult",
           "forwarded_original"]
