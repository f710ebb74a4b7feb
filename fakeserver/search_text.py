"""The text SEARCH BODY and TEXT look in, as Dovecot 2.3 decodes it (issue 14, item 8).

BODY: the decoded content of the text parts only (quoted-printable and base64 undone,
charset turned into Unicode); part headers, multipart framing and non-text parts (an
attachment's base64) are not searched. TEXT: the top-level header with RFC 2047 words
decoded, then BODY's text. Matching is case-insensitive by simple lowercasing (``ß`` does
not match ``SS``, as in Dovecot). A plain single-part message in ASCII or UTF-8 skips
the MIME parser; the rest goes through the standard library's ``email`` parser.
"""

from __future__ import annotations

import email
import email.header
import email.policy
from email.message import Message

__all__ = ["body_text", "full_text"]

_NEEDS_PARSER = (b"multipart", b"quoted-printable", b"base64", b"charset=")


def _split(raw: bytes) -> tuple[bytes, bytes]:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    return (head, body) if sep else (raw, b"")


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:  # an unknown charset: read it as UTF-8
        return payload.decode("utf-8", "replace")


def body_text(raw: bytes) -> str:
    """The lowercased text BODY searches."""
    head, body = _split(raw)
    if not any(word in head.lower() for word in _NEEDS_PARSER):
        return body.decode("utf-8", "replace").lower()
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    texts = [_decoded(part) for part in message.walk()
             if not part.is_multipart() and part.get_content_maintype() == "text"]
    return "\n".join(texts).lower()


def _header_text(head: bytes) -> str:
    lines: list[str] = []
    for line in head.decode("utf-8", "replace").replace("\r\n", "\n").split("\n"):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    out: list[str] = []
    for line in lines:
        try:
            words = email.header.decode_header(line)
            out.append("".join(w.decode(c or "utf-8", "replace") if isinstance(w, bytes) else w
                               for w, c in words))
        except (LookupError, ValueError):
            out.append(line)
    return "\n".join(out)


def full_text(raw: bytes) -> str:
    """The lowercased text TEXT searches: decoded header, then BODY's text."""
    head, _body = _split(raw)
    return (_header_text(head) + "\n").lower() + body_text(raw)
