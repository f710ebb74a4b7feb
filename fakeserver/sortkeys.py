"""What SORT (RFC 5256, RFC 5957 DISPLAYFROM/DISPLAYTO) and THREAD compare, sans-I/O.

- the base subject (RFC 5256 2.1): RFC 2047 decoded, blanks collapsed, ``(fwd)``
  trailers, ``Re:``/``Fw:``/``Fwd:`` leaders, ``[blob]`` prefixes and a ``[fwd: ...]``
  wrapper removed; also whether any of that marked a reply or forward (THREAD=REFERENCES
  merges by it);
- the sent date: the Date: header as an instant, else the INTERNALDATE;
- the first address's mailbox (FROM/TO/CC) or display name (DISPLAYFROM/DISPLAYTO);
- strings compared under i;unicode-casemap, as Dovecot does it: decomposed, upper case,
  so ``_`` sorts after ``Z`` and ``É`` right after ``E...``.

Checked against Dovecot 2.3 by tests/interop/test_differential_sort.py.
"""

from __future__ import annotations

import email.utils
import re
import unicodedata
from datetime import datetime

from inboxlab.fakeserver.envelope import addresses
from inboxlab.fakeserver.search_address import decoded_words

__all__ = ["base_subject", "casemap", "display_name", "first_mailbox", "sent_date"]

_BLANKS = re.compile(r"[ \t\r\n]+")
_TRAILER = re.compile(r"(?:\(fwd\)|[ \t])\Z", re.IGNORECASE)
_BLOB = r"\[[^\[\]]*\][ \t]*"
_LEADER = re.compile(rf"(?:(?:{_BLOB})*(?:re|fwd?)[ \t]*(?:{_BLOB})?:|[ \t])", re.IGNORECASE)
_BLOB_ONLY = re.compile(_BLOB)


def casemap(text: str) -> str:
    """i;unicode-casemap's key: decomposed, then upper case (Dovecot's titlecase)."""
    return unicodedata.normalize("NFKD", text).upper()


def base_subject(subject: str | None) -> tuple[str, bool]:
    """(the casemapped base subject, whether it was a reply or forward)."""
    text = _BLANKS.sub(" ", decoded_words(subject or ""))
    reply = False
    while True:
        while True:  # (2) trailers
            cut = _TRAILER.search(text)
            if cut is None:
                break
            reply = reply or cut.group() not in (" ", "\t")
            text = text[:cut.start()]
        while True:  # (3)-(5) leaders and blobs
            lead = _LEADER.match(text)
            if lead is not None and lead.end():
                reply = reply or lead.group().strip() != ""
                text = text[lead.end():]
                continue
            blob = _BLOB_ONLY.match(text)
            if blob is not None and text[blob.end():]:
                text = text[blob.end():]
                continue
            break
        if text[:5].lower() == "[fwd:" and text.endswith("]"):  # (6)
            text, reply = text[5:-1], True
            continue
        return casemap(text), reply


def sent_date(date_field: str | None, internaldate: datetime) -> float:
    """The Date: header's instant (seconds), or the INTERNALDATE's when it has none."""
    if date_field:
        try:
            parsed = email.utils.parsedate_to_datetime(date_field.replace("\r\n", ""))
        except (TypeError, ValueError, IndexError):
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=internaldate.tzinfo).timestamp()
            return parsed.timestamp()
    return internaldate.timestamp()


def first_mailbox(field: str | None) -> str:
    """FROM/TO/CC: the first address's mailbox (its local part; a group's name)."""
    parsed = addresses(field.replace("\r\n", "")) if field else []
    return casemap(decoded_words(parsed[0][2] or "")) if parsed else ""


def display_name(field: str | None) -> str:
    """DISPLAYFROM/DISPLAYTO: the first address's name, else its mailbox@host."""
    parsed = addresses(field.replace("\r\n", "")) if field else []
    if not parsed:
        return ""
    name, _adl, mailbox, host = parsed[0]
    if name:
        return casemap(decoded_words(name))
    return casemap(f"{mailbox}@{host}" if host else mailbox or "")
