"""Redaction of protocol lines at the moment they are recorded (IMAP and SMTP).

Sans-I/O and stateful: feed it each line with its direction, get back the line that may
be kept. The IMAP client already hides LOGIN's password at the source; this is the
second lock, and the only one for bytes that never went through our client (the
``record`` proxy sees a foreign client's raw session).

What it hides:

- IMAP ``LOGIN user pass``: the password (and anything after it).
- IMAP ``AUTHENTICATE MECH initial``: the SASL-IR initial response, and every client
  line sent while the exchange is open (continuations), until the tagged answer.
- SMTP ``AUTH MECH [initial]`` likewise, until the server's 235 or 4xx/5xx.
- Anything that looks like an XOAUTH2 / OAUTHBEARER token (``auth=Bearer``), plain or
  base64, wherever it appears.
- Any string in ``secrets`` (the password the engine knows), plain or base64.
- Optionally (``bodies=False``) IMAP literals from the server: ``{N}`` and N bytes
  become ``{N}[N bytes]``, so a trace holds no message content.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable

REDACTED = "[redacted]"

_LOGIN = re.compile(r'^(\S+\s+LOGIN\s+)("(?:[^"\\]|\\.)*"|\{\d+\+?\}|\S+)(\s+).*$', re.I)
_LOGIN_ANY = re.compile(r"^(\S+\s+LOGIN\s+).*$", re.I)
_AUTHENTICATE = re.compile(r"^(\S+)\s+AUTHENTICATE\s+(\S+)(\s+\S+)?\s*$", re.I)
_SMTP_AUTH = re.compile(r"^AUTH\s+(\S+)(\s+\S+)?\s*$", re.I)
_TAGGED_END = re.compile(r"^(\S+)\s+(OK|NO|BAD)\b", re.I)
_SMTP_END = re.compile(r"^(235|[45]\d\d)[ -]")
_B64_WORD = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_BEARER = re.compile(r"auth=bearer\s+\S+", re.I)
_LITERAL = re.compile(r"\{(\d+)\+?\}\r?\n", re.S)


def _decodes_to_token(word: str) -> bool:
    try:
        raw = base64.b64decode(word + "=" * (-len(word) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b"auth=bearer" in raw.lower() or b"\x00" in raw


class Redactor:
    """One connection's redaction state; ``client()``/``server()`` per line, in order."""

    def __init__(self, secrets: Iterable[str] = (), *, bodies: bool = True) -> None:
        self.bodies = bodies
        self._auth_tag: str | None = None  # IMAP: AUTHENTICATE in progress under this tag
        self._smtp_auth = False
        forms: set[str] = set()
        for s in secrets:
            if s:
                forms.add(s)
                forms.add(base64.b64encode(s.encode()).decode())
        self._secrets = sorted(forms, key=len, reverse=True)

    def _scrub(self, line: str) -> str:
        for s in self._secrets:
            line = line.replace(s, REDACTED)
        line = _BEARER.sub("auth=Bearer " + REDACTED, line)
        return _B64_WORD.sub(lambda m: REDACTED if _decodes_to_token(m.group(0))
                             else m.group(0), line)

    def client(self, line: str) -> str:
        """A line the client sent."""
        if self._auth_tag is not None or self._smtp_auth:
            if line.strip() == "*":  # the client cancels the exchange
                return line
            return REDACTED
        m = _LOGIN.match(line)
        if m:
            return f"{m.group(1)}{m.group(2)}{m.group(3)}{REDACTED}"
        m2 = _LOGIN_ANY.match(line)
        if m2:
            return m2.group(1) + REDACTED
        m3 = _AUTHENTICATE.match(line)
        if m3:
            self._auth_tag = m3.group(1)
            return f"{m3.group(1)} AUTHENTICATE {m3.group(2)}" + (
                f" {REDACTED}" if m3.group(3) else "")
        m4 = _SMTP_AUTH.match(line)
        if m4:
            self._smtp_auth = True
            return f"AUTH {m4.group(1)}" + (f" {REDACTED}" if m4.group(2) else "")
        return self._scrub(line)

    def server(self, line: str) -> str:
        """A line (or a whole response with its literals) the server sent."""
        if self._auth_tag is not None:
            m = _TAGGED_END.match(line)
            if m and m.group(1) == self._auth_tag:
                self._auth_tag = None
        if self._smtp_auth and _SMTP_END.match(line):
            self._smtp_auth = False
        if not self.bodies:
            line = omit_literals(line)
        return self._scrub(line)


def omit_literals(text: str) -> str:
    """``{N}`` + N bytes -> ``{N}[N bytes]`` (a truncated literal keeps its announced size)."""
    out: list[str] = []
    pos = 0
    for m in _LITERAL.finditer(text):
        if m.start() < pos:
            continue
        size = int(m.group(1))
        out.append(text[pos:m.start()] + f"{{{size}}}[{size} bytes]")
        pos = m.end() + size
    out.append(text[pos:])
    return "".join(out)


__all__ = ["REDACTED", "Redactor", "omit_literals"]
