"""How many bytes a server may send, by what the client asked for (sans-I/O).

One cap for everything (a 1 GiB literal, before the greeting even) lets any server, or
anyone on the path before TLS, make the client buffer a gigabyte per connection. The
limits here follow the context instead:

- ``PRE_AUTH``: the greeting, CAPABILITY, STARTTLS and the answer to LOGIN. Real
  servers send a few hundred bytes here; anything past a few KiB is not an IMAP server
  we want to talk to.
- ``COMMAND``: after login, any command that fetches no message content (LIST, STATUS,
  SEARCH, SELECT, FLAGS and UID fetches, IDLE...). Lines as before (1 MiB).
- ``HEADERS``: a FETCH that asked only for header sections (the scan's
  ``BODY.PEEK[HEADER.FIELDS (...)]``, ``BODY.PEEK[HEADER]``).
- ``BODY``: a FETCH that asked for a body (``BODY.PEEK[]``, a text section): the
  product's 50 MB rule (``engine.crm.rules.ATTACHMENT_LIMIT``, decimal, compared with
  RFC822.SIZE) plus slack for a server whose size was off, as one literal.

While commands are in flight the parser applies the widest limits among them
(``widest``), so a pipelined header fetch never narrows a body fetch's answer. Breaking
a limit raises ``LimitExceeded`` naming it (``limit``: ``pre_auth_literal``,
``header_fetch_line``...); the connection is closed at once, before the announced bytes
are read, so memory never grows past the limit (plus one socket read).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from inboxlab.engine.imap.commands import Arg

KIB = 1024
MIB = 1024 * KIB
BODY_RULE = 50_000_000  # the product's 50 MB rule (engine.crm.rules.ATTACHMENT_LIMIT)


@dataclass(frozen=True)
class Limits:
    """Caps for one context: ``line`` (one response's text outside literals),
    ``literal`` (one ``{n}``), ``response`` (a whole response, literals included)."""

    name: str
    line: int
    literal: int
    response: int

    def covers(self, other: Limits) -> bool:
        return (self.line >= other.line and self.literal >= other.literal
                and self.response >= other.response)


PRE_AUTH = Limits("pre_auth", line=16 * KIB, literal=4 * KIB, response=64 * KIB)
COMMAND = Limits("command", line=1 * MIB, literal=1 * MIB, response=16 * MIB)
HEADERS = Limits("header_fetch", line=1 * MIB, literal=4 * MIB, response=16 * MIB)
BODY = Limits("body_fetch", line=1 * MIB, literal=BODY_RULE + 16 * MIB,
              response=BODY_RULE + 32 * MIB)

_SECTION = re.compile(r"(?:BODY(?:\.PEEK)?|BINARY(?:\.PEEK)?)\[([^\]]*)\]|(RFC822(?:\.\w+)?)",
                      re.IGNORECASE)
_HEADER_ONLY = re.compile(r"^(?:[\d.]*\.)?(?:HEADER(?:\.FIELDS(?:\.NOT)?\b.*)?|MIME)$",
                          re.IGNORECASE | re.DOTALL)


def _text(args: Iterable[Arg]) -> str:
    out: list[str] = []
    for a in args:
        if isinstance(a, tuple | list):
            out.append(_text(a))
        elif isinstance(a, str):
            out.append(a)
    return " ".join(out)


def for_command(name: str, args: Iterable[Arg]) -> Limits | None:
    """The limits a command's answer needs beyond the session's (None: no content).

    Only FETCH asks for message content; it is ``BODY`` when any section it names is not
    a header (``BODY.PEEK[]``, ``BODY[1.2]``, ``RFC822``, ``BINARY[2]``), ``HEADERS``
    when every section is one (``HEADER``, ``HEADER.FIELDS (...)``, ``1.MIME``).
    """
    if name.upper() not in ("FETCH", "UID FETCH"):
        return None
    kind: Limits | None = None
    for m in _SECTION.finditer(_text(args)):
        section, rfc822 = m.group(1), m.group(2)
        if rfc822 is not None:
            if rfc822.upper() not in ("RFC822.HEADER", "RFC822.SIZE"):
                return BODY
            if rfc822.upper() == "RFC822.HEADER":
                kind = HEADERS
        elif not _HEADER_ONLY.match(section):
            return BODY
        else:
            kind = HEADERS
    return kind


def widest(base: Limits, others: Iterable[Limits | None]) -> Limits:
    """The first of ``base`` and ``others`` that covers all of them (contexts are
    nested: PRE_AUTH < COMMAND < HEADERS < BODY)."""
    best = base
    for lim in others:
        if lim is not None and not best.covers(lim):
            best = lim
    return best


__all__ = ["BODY", "COMMAND", "HEADERS", "PRE_AUTH", "Limits", "for_command", "widest"]
