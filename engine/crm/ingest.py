"""MIME in, ``LoggedEmail`` out: the one place mail is parsed (stdlib ``email``, policy.default).

Two entry points: ``parse_headers`` for the header fields the scan delivers (enough to
match a message to a thread without reading it), and ``parse_message`` for a whole
message of a tracked thread. Mail in the wild is broken in every way a header can be
(bad charsets, unbalanced quotes, 8-bit junk); parsing is lenient and collects the
parser's defects, and only when nothing usable is left is ``MalformedMessage`` raised -
the caller records that with its reason and moves on, never crashing the sync.

Hostile mail is bounded before and while it is parsed (``engine.crm.mimelimits``: size,
lines, parts, depth, header lines) and its HTML before it is sanitized
(``engine.crm.sanitize.clean_html``: past a guard only the text is kept, with a note
saying why). On an event loop, ``parse_message_off_loop`` runs all of it in a thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass, field
from email import errors, policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.policy import EmailPolicy
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from inboxlab.engine.crm.errors import MalformedMessage
from inboxlab.engine.crm.mimelimits import parse_bounded
from inboxlab.engine.crm.sanitize import clean_html, html_to_text, safe_filename

_MSGID = re.compile(r"<[^<>\s]+>")
MAX_TEXT = 2 * 1024 * 1024  # characters of body text kept per part
MAX_ADDRESSES = 1000  # recipients read from one To/Cc field
# Characters of one header field kept. RFC 5322 caps a line at 998; real References in long
# threads stay under a few kB. The cut matters: policy.default's header parser is
# superlinear in the number of words (64 kB of "x x x ..." takes a second, 10 MB hangs
# the scan), so no field longer than this ever reaches it.
MAX_FIELD = 8 * 1024
MAX_MIME_FIELD = 512  # Content-* fields: the parameter parser is slower still


class FieldTooLong(errors.HeaderDefect):
    """A header field was cut to ``MAX_FIELD`` characters before parsing."""


def _limit(name: str) -> int:
    return MAX_MIME_FIELD if name.lower().startswith("content-") else MAX_FIELD


def _cut(name: str, value: str) -> str:
    if name.lower() in ("references", "in-reply-to"):
        tail = value[-MAX_FIELD:]  # the parent's ID is at the end: keep the newest
        return tail[tail.find(" ") + 1:] if " " in tail else tail
    return value[:_limit(name)]


class _BoundedPolicy(EmailPolicy):
    """policy.default whose header parser never sees more than ``_limit`` characters.

    The cut has to sit here, in the policy: the feed parser itself reads every part's
    Content-Type while it splits the message, before any caller could clean the fields.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if len(value) > _limit(name):
            value = _cut(name, value)
        return super().header_fetch_parse(name, value)


BOUNDED = _BoundedPolicy()


def _cut_long_fields(msg: Message) -> None:
    """Cut every over-long raw header field, in every part (the raw readers, ids and
    addresses, see only the cut value too)."""
    for part in msg.walk():
        items = list(part.raw_items())
        if all(len(v) <= _limit(k) for k, v in items):
            continue
        for name in {k for k, _v in items}:
            del part[name]
        for name, value in items:
            if len(value) > _limit(name):
                part.defects.append(FieldTooLong(f"{name} cut from {len(value)} characters"))
                value = _cut(name, value)
            part.set_raw(name, value)


@dataclass(frozen=True)
class Address:
    email: str
    name: str = ""

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


@dataclass(frozen=True)
class Headers:
    """What matching needs: ids, participants, subject (all decoded)."""

    message_id: str | None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    from_: Address | None = None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    subject: str = ""
    date: str | None = None

    @property
    def participants(self) -> frozenset[str]:
        people = [*self.to, *self.cc]
        if self.from_ is not None:
            people.append(self.from_)
        return frozenset(a.email for a in people)


@dataclass(frozen=True)
class AttachmentPart:
    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class LoggedEmail:
    """A parsed message ready to be logged: sanitized, attachments separated."""

    headers: Headers
    text: str
    html: str
    attachments: tuple[AttachmentPart, ...] = ()
    defects: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    message: EmailMessage | None = field(default=None, repr=False, compare=False)


def message_ids(value: object) -> tuple[str, ...]:
    """Every ``<id>`` in a header value, in order, without duplicates."""
    out: list[str] = []
    for mid in _MSGID.findall(str(value or "")):
        if mid not in out:
            out.append(mid)
    return tuple(out)


def _raw(msg: Message, name: str) -> str:
    """The first raw value of a field, unparsed (ids, addresses and dates are read from
    this with linear-time tools; policy.default's header parser is superlinear)."""
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return " ".join(str(value).split())
    return ""


def _header(msg: Message, name: str) -> str:
    """A decoded (RFC 2047) value through policy.default, for display fields (Subject)."""
    try:
        value = msg.get(name)
        return "" if value is None else str(value)
    except Exception:  # a header policy.default cannot decode: fall back to the raw text
        return _raw(msg, name)


def _display_name(text: str) -> str:
    try:
        name = str(make_header(decode_header(text))).strip()
    except Exception:  # bogus charset or encoded word: show it as it came
        name = text.strip()
    # Raw 8-bit bytes arrive as surrogate escapes, which SQLite cannot store.
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _addresses(msg: Message, name: str) -> tuple[Address, ...]:
    value = _raw(msg, name)
    out: list[Address] = []
    for display, addr in getaddresses([value])[:MAX_ADDRESSES] if value else []:
        addr = addr.strip().lower()
        if "@" in addr and not any(c.isspace() or ord(c) < 32 for c in addr):
            out.append(Address(addr, _display_name(display) if display else ""))
    return tuple(out)


def _date(msg: Message) -> str | None:
    text = _raw(msg, "Date")
    if not text:
        return None
    try:
        return parsedate_to_datetime(text).isoformat()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def headers_of(msg: Message) -> Headers:
    mid = message_ids(_raw(msg, "Message-ID"))
    froms = _addresses(msg, "From")
    subject = " ".join(_header(msg, "Subject").split())
    return Headers(
        message_id=mid[0] if mid else None,
        in_reply_to=message_ids(_raw(msg, "In-Reply-To")),
        references=message_ids(_raw(msg, "References")),
        from_=froms[0] if froms else None,
        to=_addresses(msg, "To"), cc=_addresses(msg, "Cc"),
        subject=subject, date=_date(msg),
    )


def identity_of(headers: Headers, size: int | None) -> str:
    """What makes a logged email "the same one again": its Message-ID, or for mail without
    one a digest of Date, From, To, Subject and size (RFC822.SIZE, stable for a message on
    a server across UIDVALIDITY resets). Display names are left out: clients re-encode
    them."""
    if headers.message_id is not None:
        return headers.message_id
    fields = (headers.date or "", headers.from_.email if headers.from_ else "",
              ",".join(sorted(a.email for a in headers.to)), headers.subject,
              "" if size is None else str(size))
    return "digest:" + hashlib.sha256("\0".join(fields).encode("utf-8", "replace")).hexdigest()


def _parse(raw: bytes, headersonly: bool = False) -> EmailMessage:
    if not isinstance(raw, bytes | bytearray) or not raw.strip():
        raise MalformedMessage("the message is empty", code="empty_message")
    msg = parse_bounded(bytes(raw), BOUNDED, headersonly=headersonly)
    _cut_long_fields(msg)
    return msg


def parse_headers(raw: bytes) -> Headers:
    """Headers from the scan's ``BODY.PEEK[HEADER.FIELDS (...)]`` bytes (or a whole message)."""
    msg = _parse(raw, headersonly=True)
    try:
        return headers_of(msg)
    except Exception as exc:  # hostile header syntax must not stop a scan
        raise MalformedMessage(f"cannot read the header fields ({type(exc).__name__})",
                               code="headers_unparseable") from exc


def _text_of(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content[:MAX_TEXT]
    except (LookupError, ValueError, AssertionError, UnicodeError):
        pass
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", "replace")[:MAX_TEXT] if isinstance(payload, bytes) else ""


def _attachment_bytes(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return bytes(inner[0].as_bytes(policy=policy.SMTP))
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def attachments_of(msg: EmailMessage) -> tuple[AttachmentPart, ...]:
    out: list[AttachmentPart] = []
    for n, part in enumerate(msg.iter_attachments(), start=1):
        ctype = part.get_content_type()
        name = part.get_filename()
        if name is None and ctype == "message/rfc822":
            name = "forwarded-message.eml"
        out.append(AttachmentPart(safe_filename(name, f"attachment-{n}"), ctype,
                                  _attachment_bytes(part)))
    return tuple(out)


def parse_message(raw: bytes, *, with_attachments: bool = True) -> LoggedEmail:
    """The whole message as a ``LoggedEmail``; raises ``MalformedMessage`` if unusable."""
    try:
        msg = _parse(raw)
        headers = headers_of(msg)
        plain = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        text = _text_of(plain) if plain is not None else ""
        notes: tuple[str, ...] = ()
        html_text = ""
        if html is not None:
            source = _text_of(html)
            cleaned = clean_html(source)
            html_text = cleaned.html
            if cleaned.refused is not None:
                notes = (f"HTML body not kept ({cleaned.refused}); stored as text only",)
                text = text or html_to_text(source, MAX_TEXT)
        parts = attachments_of(msg) if with_attachments else ()
    except MalformedMessage:
        raise
    except Exception as exc:  # the stdlib raises many types on hostile MIME
        raise MalformedMessage(f"cannot parse the message ({type(exc).__name__}: {exc})",
                               code="mime_unparseable") from exc
    if not msg.keys() or (headers.message_id is None and headers.from_ is None
                          and not text and not html_text):
        raise MalformedMessage("no header fields, Message-ID, sender or body could be read",
                               code="mime_empty")
    defects = tuple(sorted({type(d).__name__ for p in msg.walk() for d in p.defects}))
    return LoggedEmail(headers, text, html_text, parts, defects, notes, message=msg)


async def parse_message_off_loop(raw: bytes, *, with_attachments: bool = True) -> LoggedEmail:
    """``parse_message`` in a worker thread: a hostile message (MIME, HTML) costs that
    thread time, never the event loop's (other replies, IDLE, keepalives go on)."""
    return await asyncio.to_thread(parse_message, raw, with_attachments=with_attachments)


__all__ = ["Address", "AttachmentPart", "Headers", "LoggedEmail", "attachments_of",
           "headers_of", "identity_of", "message_ids", "parse_headers", "parse_message",
           "parse_message_off_loop"]
