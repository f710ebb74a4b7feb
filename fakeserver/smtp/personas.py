"""Personas: scripted external contacts who answer the mail they receive.

Two halves. ``respond()`` is pure: a persona and the received message bytes in, the
answer (envelope and bytes, built with the stdlib ``EmailMessage``) out; its only
inputs besides those are the time and a sequence number, so its output is
reproducible. ``PersonaScheduler`` decides *when*: it schedules answers on an
injected timer (the running loop's ``call_later`` in the server, a manual timer in
tests) and hands each one to a ``send`` callback that routes it like any mail.

A persona only answers mail submitted by a local account (the server calls the
scheduler from its submission path only), so two personas forwarding to each other
cannot loop forever.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, formataddr, getaddresses
from typing import Any, Protocol

from inboxlab.fakeserver.smtp.config import PersonaAction, PersonaSpec

_PARSER = BytesParser(policy=policy.default)
_SMTP_POLICY = policy.SMTP.clone(max_line_length=78)


@dataclass(frozen=True)
class Outgoing:
    """A persona's answer, ready to route: envelope sender, recipients, the message."""

    persona: str
    action: PersonaAction
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes


def _first_address(value: str | None) -> str | None:
    if not value:
        return None
    for _name, addr in getaddresses([value]):
        if "@" in addr:
            return addr
    return None


def _prefixed(prefix: str, subject: str) -> str:
    """'Re: x' for 'x', but never 'Re: Re: x' (what mail clients do)."""
    if subject.lower().startswith(prefix.lower()):
        return subject
    return f"{prefix} {subject}".rstrip()


def _plain_text(msg: EmailMessage) -> str:
    """The original's text part for quoting; '' when there is none or it cannot be decoded."""
    try:
        part = msg.get_body(preferencelist=("plain",))
        if part is None:
            return ""
        content = part.get_content()
    except (LookupError, ValueError, KeyError, AttributeError):
        return ""
    return content if isinstance(content, str) else ""


def _quote(msg: EmailMessage) -> str:
    text = _plain_text(msg).rstrip("\n")
    if not text:
        return ""
    who = str(msg.get("From", "someone"))
    when = str(msg.get("Date", "")).strip()
    intro = f"On {when}, {who} wrote:" if when else f"{who} wrote:"
    quoted = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
    return f"\n\n{intro}\n{quoted}\n"


def _references(msg: EmailMessage) -> tuple[str | None, str]:
    """(the original's Message-ID, the References chain an answer must carry: RFC 5322 3.6.4)."""
    msgid = str(msg.get("Message-ID", "")).strip() or None
    chain = str(msg.get("References", "")).split()
    if not chain:
        chain = str(msg.get("In-Reply-To", "")).split()[:1]
    if msgid is not None and msgid not in chain:
        chain.append(msgid)
    return msgid, " ".join(chain)


def _message_id(persona: PersonaSpec, original_id: str | None, raw: bytes, seq: int) -> str:
    seed = (original_id or "").encode() + b"\0" + persona.address.encode() + b"\0"
    digest = hashlib.sha256(seed + (raw if original_id is None else b"")).hexdigest()[:20]
    domain = persona.sender.partition("@")[2]
    return f"<persona.{digest}.{seq}@{domain}>"


def _attach_original(out: EmailMessage, original: EmailMessage, raw: bytes) -> None:
    """Attach the forwarded message as message/rfc822, or as bytes when it cannot be.

    Mail with raw 8-bit bytes in its headers cannot be re-serialized by the stdlib
    as a message part; a real client would still forward it, so it goes as a file.
    """
    try:
        original.as_bytes(policy=_SMTP_POLICY)
    except (UnicodeError, ValueError, TypeError, LookupError):
        out.add_attachment(
            raw, maintype="application", subtype="octet-stream", filename="forwarded.eml"
        )
        return
    out.add_attachment(original)


def attachment_bytes(persona: PersonaSpec, subject: str) -> bytes:
    """A small, deterministic attachment: same persona and subject, same bytes."""
    tag = hashlib.sha256(f"{persona.address}\0{subject}".encode()).hexdigest()
    if persona.attachment_name.lower().endswith(".pdf"):
        return (
            b"%PDF-1.4\n% inboxlab persona attachment\n"
            + f"% {tag}\n".encode()
            + b"1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
        )
    return f"Attachment from {persona.address} about {subject!r}.\n{tag}\n".encode()


def respond(persona: PersonaSpec, raw: bytes, *, now: datetime, seq: int = 0) -> Outgoing | None:
    """The persona's answer to ``raw``, or ``None`` when there is nobody to answer.

    ``now`` must be timezone-aware (it becomes the Date header); ``seq`` keeps
    Message-IDs distinct when the same message is answered twice.
    """
    original = _PARSER.parsebytes(raw)
    assert isinstance(original, EmailMessage)
    subject = str(original.get("Subject", "")).strip()
    msgid, references = _references(original)

    out = EmailMessage(policy=_SMTP_POLICY)
    out["From"] = formataddr((persona.name, persona.sender)) if persona.name else persona.sender
    out["Date"] = format_datetime(now)
    out["Message-ID"] = _message_id(persona, msgid, raw, seq)

    if persona.action == "forward":
        assert persona.forward_to is not None
        rcpt = persona.forward_to
        out["To"] = rcpt
        out["Subject"] = _prefixed("Fwd:", subject)
        # Forwards keep the thread reference but are not answers: no In-Reply-To.
        if references:
            out["References"] = references
        out.set_content(f"{persona.body}\n\n---------- Forwarded message ----------\n")
        _attach_original(out, original, raw)
    else:
        sender = _first_address(str(original.get("Reply-To", ""))) or _first_address(
            str(original.get("From", ""))
        )
        if sender is None:
            return None
        rcpt = sender
        out["To"] = rcpt
        out["Subject"] = _prefixed("Re:", subject)
        if msgid is not None:
            out["In-Reply-To"] = msgid
        if references:
            out["References"] = references
        out.set_content(persona.body + _quote(original))

    if persona.attach:
        ctype = mimetypes.guess_type(persona.attachment_name)[0] or "application/octet-stream"
        maintype, _, subtype = ctype.partition("/")
        out.add_attachment(
            attachment_bytes(persona, subject),
            maintype=maintype,
            subtype=subtype,
            filename=persona.attachment_name,
        )
    if out.is_multipart():
        # The stdlib draws boundaries at random; derive ours so answers are reproducible.
        token = hashlib.sha256(str(out["Message-ID"]).encode()).hexdigest()[:24]
        out.set_boundary(f"=_inboxlab_{token}")
    return Outgoing(
        persona=persona.address,
        action=persona.action,
        mail_from=persona.sender,
        rcpt_tos=(rcpt,),
        raw=out.as_bytes(),
    )


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Timer(Protocol):
    """What the scheduler needs from a clock: ``asyncio`` loops fit as they are."""

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Cancellable:
        ...


class PersonaScheduler:
    """Turns "mail reached a persona" into an answer sent ``delay_s`` later.

    ``send`` must not raise for ordinary failures (the server's router records them);
    an exception from it is caught and kept in ``errors`` so one bad answer never
    stops the timer loop or the server.
    """

    def __init__(
        self,
        personas: tuple[PersonaSpec, ...],
        *,
        send: Callable[[Outgoing], None],
        timer: Timer,
        now: Callable[[], datetime],
    ) -> None:
        self._personas = {p.address.lower(): p for p in personas}
        self._send = send
        self._timer = timer
        self._now = now
        self._seq = 0
        self._handles: dict[int, Cancellable] = {}
        self.sent: list[Outgoing] = []
        self.errors: list[BaseException] = []

    def persona(self, address: str) -> PersonaSpec | None:
        return self._personas.get(address.lower())

    def add(self, persona: PersonaSpec) -> None:
        """Add or replace a persona while the server runs (scenario control endpoint)."""
        self._personas[persona.address.lower()] = persona

    @property
    def waiting(self) -> int:
        """Answers scheduled and not yet sent."""
        return len(self._handles)

    def received(self, rcpt: str, raw: bytes) -> bool:
        """Mail for ``rcpt`` arrived; schedule its persona's answer. False: no persona there."""
        persona = self.persona(rcpt)
        if persona is None:
            return False
        self._seq += 1
        seq = self._seq
        self._handles[seq] = self._timer.call_later(persona.delay_s, self._fire, persona, raw, seq)
        return True

    def _fire(self, persona: PersonaSpec, raw: bytes, seq: int) -> None:
        self._handles.pop(seq, None)
        try:
            answer = respond(persona, raw, now=self._now(), seq=seq)
            if answer is None:
                return
            self._send(answer)
            self.sent.append(answer)
        except Exception as exc:  # a broken answer must not kill the loop's callback
            self.errors.append(exc)

    def cancel_all(self) -> None:
        """Drop every answer not yet sent (server shutdown)."""
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
