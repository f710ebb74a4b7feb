"""Redaction of protocol lines at the moment they are recorded (IMAP and SMTP).

Sans-I/O and stateful: feed it each client command / server response with its
direction, get back the text that may be kept. The IMAP client already hides LOGIN's
password at the source; this is the second lock, and the only one for bytes that never
went through our client (the ``record`` proxy sees a foreign client's raw session).

It reads commands the way a server would, not with a line regex: a client command is
tokenized (quoted strings with escapes, atoms, and literals ``{N}``, ``{N+}``, ``{N-}``,
``~{N}`` whose N bytes may hold spaces, quotes or line breaks), so an argument is
hidden whatever form it was sent in.

What it hides:

- IMAP ``LOGIN user pass``: the password and anything after it. A LOGIN whose password
  has not arrived whole (a literal still outstanding) hides every client line until the
  tagged answer; a LOGIN with one argument hides that argument.
- IMAP ``AUTHENTICATE MECH ...``: everything after the mechanism name, whatever the
  mechanism (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER, ...), and every client line while the
  exchange is open (continuations), until the tagged answer; ``*`` (cancel) is kept.
- SMTP ``AUTH MECH ...`` likewise, until the server's 235 or 4xx/5xx.
- Anything that looks like an XOAUTH2 / OAUTHBEARER token (``auth=Bearer``), plain or
  base64, wherever it appears.
- A string in ``secrets`` (the password the engine knows), plain or base64, where it
  stands as a whole word; secrets shorter than ``MIN_SCRUB`` are left to the structural
  rules above (a password ``x`` must not turn ``text=`` into ``te[redacted]t=``).
- Optionally (``bodies=False``) IMAP literals from the server: ``{N}`` and N bytes
  become ``{N}[N bytes]``, so a trace holds no message content.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable

REDACTED = "[redacted]"
MIN_SCRUB = 6  # shorter secrets are not searched for in free text (too many false hits)

_TAGGED_END = re.compile(rb"^(\S+)\s+(OK|NO|BAD)\b", re.I)
_SMTP_END = re.compile(rb"^(235|[45]\d\d)[ -]")
_B64_WORD = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_BEARER = re.compile(r"auth=bearer\s+\S+", re.I)
_LITERAL = re.compile(r"\{(\d+)\+?\}\r?\n", re.S)
_LIT_HEAD = re.compile(rb"~?\{(\d{1,12})[+-]?\}\r?\n")
_SPACE = b" \t"
_ATOM_END = b" \t\r\n"


def _decodes_to_token(word: str) -> bool:
    try:
        raw = base64.b64decode(word + "=" * (-len(word) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b"auth=bearer" in raw.lower() or b"\x00" in raw


def _as_bytes(line: str | bytes) -> bytes:
    return line.encode("utf-8", "surrogateescape") if isinstance(line, str) else bytes(line)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def arguments(data: bytes, i: int) -> tuple[list[tuple[int, int]], bool]:
    """Top-level arguments of an IMAP command from offset ``i``: their (start, end)
    spans, and whether the last one is complete (a literal may still be outstanding).
    Parenthesised lists count as atoms up to the next space (LOGIN has none)."""
    spans: list[tuple[int, int]] = []
    n = len(data)
    while True:
        while i < n and data[i] in _SPACE:
            i += 1
        if i >= n or data[i] in b"\r\n":
            return spans, True
        start = i
        c = data[i]
        if c == 0x22:  # a quoted string, with backslash escapes
            i += 1
            while i < n and data[i] != 0x22:
                i += 2 if data[i] == 0x5C else 1
            if i >= n:
                spans.append((start, n))
                return spans, False
            i += 1
        elif (m := _LIT_HEAD.match(data, i)) is not None:
            end = m.end() + int(m.group(1))
            if end > n:
                spans.append((start, n))
                return spans, False
            i = end
        elif c in b"{~" and b"}" in data[i:i + 16] and data.rstrip(b"\r\n").endswith(b"}"):
            spans.append((start, n))  # a literal announced, its bytes not here yet
            return spans, False
        else:
            while i < n and data[i] not in _ATOM_END:
                i += 1
        spans.append((start, i))


class Redactor:
    """One connection's redaction state; ``client()``/``server()`` per command/response,
    in order. Both take ``str`` or the raw ``bytes`` (literal sizes count bytes)."""

    def __init__(self, secrets: Iterable[str] = (), *, bodies: bool = True) -> None:
        self.bodies = bodies
        self._open_tag: bytes | None = None  # IMAP: secrets may follow until this tag's answer
        self._smtp_auth = False
        forms: set[str] = set()
        for s in secrets:
            if s and len(s) >= MIN_SCRUB:
                forms.add(s)
                forms.add(base64.b64encode(s.encode()).decode())
        self._secrets = [re.compile(r"(?<![\w+/=])" + re.escape(f) + r"(?![\w+/=])")
                         for f in sorted(forms, key=len, reverse=True)]

    def _scrub(self, line: str) -> str:
        for pattern in self._secrets:
            line = pattern.sub(REDACTED, line)
        line = _BEARER.sub("auth=Bearer " + REDACTED, line)
        return _B64_WORD.sub(lambda m: REDACTED if _decodes_to_token(m.group(0))
                             else m.group(0), line)

    def client(self, line: str | bytes) -> str:
        """A command (literals inline) or continuation line the client sent."""
        data = _as_bytes(line)
        if self._open_tag is not None or self._smtp_auth:
            if data.strip() == b"*":  # the client cancels the exchange
                return _text(data)
            return REDACTED
        tag_end = _token_end(data, 0)
        tag = data[:tag_end]
        if tag.upper() == b"AUTH":  # SMTP AUTH mech [initial-response]
            mech = _token_end(data, tag_end + 1)
            self._smtp_auth = True
            return _hide_after(data, mech)
        verb_end = _token_end(data, tag_end + 1)
        verb = data[tag_end + 1:verb_end].upper()
        if verb == b"LOGIN":
            spans, complete = arguments(data, verb_end)
            if len(spans) >= 2 and (complete or len(spans) > 2):
                return _hide_after(data, spans[0][1])
            if len(spans) == 1 and complete:
                return _hide_after(data, verb_end)  # one argument: it may be the password
            self._open_tag = tag  # the password is still on its way
            return _hide_after(data, spans[0][1] if len(spans) >= 2 else verb_end)
        if verb == b"AUTHENTICATE":
            self._open_tag = tag
            return _hide_after(data, _token_end(data, verb_end + 1))
        return self._scrub(_text(data))

    def server(self, line: str | bytes) -> str:
        """A line (or a whole response with its literals) the server sent."""
        data = _as_bytes(line)
        if self._open_tag is not None:
            m = _TAGGED_END.match(data)
            if m and m.group(1) == self._open_tag:
                self._open_tag = None
        if self._smtp_auth and _SMTP_END.match(data):
            self._smtp_auth = False
        text = _text(data)
        if not self.bodies:
            text = omit_literals(text)
        return self._scrub(text)


def _token_end(data: bytes, i: int) -> int:
    while i < len(data) and data[i] in _SPACE:
        i += 1
    while i < len(data) and data[i] not in _ATOM_END:
        i += 1
    return i


def _hide_after(data: bytes, keep: int) -> str:
    """``data[:keep]`` and, if anything but a line end follows, `` [redacted]``."""
    rest = data[keep:].strip()
    return _text(data[:keep]) + (f" {REDACTED}" if rest else "")


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


__all__ = ["MIN_SCRUB", "REDACTED", "Redactor", "arguments", "omit_literals"]
