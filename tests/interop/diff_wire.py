"""A tiny IMAP wire client and response reader for the differential test (test_differential).

Deliberately independent of ``engine/`` and ``fakeserver/``: the differential test judges
the fake server against Dovecot, so the reader must share no parser with either side.
It understands just enough of RFC 3501's response grammar to turn a response into plain
Python values; meaning (which differences matter) lives in test_differential.

Values: an atom is ``str`` (``NIL`` is ``None``, digits are ``int``), a quoted string or
literal is ``bytes``, ``( ... )`` is a ``list`` and ``[ ... ]`` a ``tuple``.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

Value = str | int | bytes | None | list["Value"] | tuple["Value", ...]

_LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}\r\n$")
_ATOM_END = b' ()[]{"\r\n'
_STATUS_WORDS = {"OK", "NO", "BAD", "BYE", "PREAUTH"}


class WireError(AssertionError):
    """The response could not be read; names the bytes it choked on."""


@dataclass(frozen=True)
class Response:
    """One response. ``kind`` is ``untagged``, ``tagged`` or ``continuation``.

    For status responses (OK/NO/BAD/BYE/PREAUTH) ``status`` is the word, ``code`` the
    parsed response code (a tuple, or None) and ``text`` the human text, which stays raw:
    it is free text and need not follow the token grammar.
    """

    kind: str
    tag: str
    status: str | None
    code: tuple[Value, ...] | None
    text: bytes
    values: list[Value]
    raw: bytes


def tokens(data: bytes, pos: int = 0) -> tuple[list[Value], int]:
    """Parse a token sequence up to the end or a closing bracket; returns (values, end)."""
    out: list[Value] = []
    n = len(data)
    while pos < n:
        c = data[pos:pos + 1]
        if c == b" ":
            pos += 1
        elif c in (b")", b"]"):
            return out, pos
        elif c in (b"(", b"["):
            inner, end = tokens(data, pos + 1)
            want = b")" if c == b"(" else b"]"
            if data[end:end + 1] != want:
                raise WireError(f"unbalanced {c!r} at {pos} in {data[:200]!r}")
            out.append(inner if c == b"(" else tuple(inner))
            pos = end + 1
        elif c == b'"':
            buf = bytearray()
            pos += 1
            while pos < n and data[pos:pos + 1] != b'"':
                if data[pos:pos + 1] == b"\\":
                    pos += 1
                buf += data[pos:pos + 1]
                pos += 1
            if pos >= n:
                raise WireError(f"unterminated quoted string in {data[:200]!r}")
            out.append(bytes(buf))
            pos += 1
        elif c == b"{":
            close = data.index(b"}", pos)
            size = int(data[pos + 1:close].rstrip(b"+"))
            start = close + 3  # past "}\r\n"
            out.append(data[start:start + size])
            pos = start + size
        elif c in (b"\r", b"\n"):
            pos += 1
        else:
            end = pos
            while end < n and data[end:end + 1] not in _ATOM_END:
                end += 1
            # "[" ends an atom: BODY[...]<0> reads as "BODY", a tuple, then "<0>"
            word = data[pos:end].decode("ascii", "replace")
            if word == "":
                raise WireError(f"unexpected byte {c!r} at {pos} in {data[:200]!r}")
            out.append(None if word.upper() == "NIL" else int(word) if word.isdigit() else word)
            pos = end
    return out, pos


def parse(raw: bytes) -> Response:
    """One whole response (literals inline, as read by :class:`Wire`)."""
    body = raw[:-2] if raw.endswith(b"\r\n") else raw
    if body.startswith(b"+"):
        return Response("continuation", "+", None, None, body[1:].strip(), [], raw)
    tag, _, rest = body.partition(b" ")
    kind = "untagged" if tag == b"*" else "tagged"
    word = rest.split(b" ", 1)[0].upper().decode("ascii", "replace")
    if word in _STATUS_WORDS:
        after = rest[len(word):].lstrip(b" ")
        code: tuple[Value, ...] | None = None
        if after.startswith(b"["):
            inner, end = tokens(after, 1)
            code = tuple(inner)
            after = after[end + 1:].lstrip(b" ")
        return Response(kind, tag.decode(), word, code, after, [], raw)
    values, end = tokens(rest)
    if end != len(rest):
        raise WireError(f"stray closing bracket at {end} in {raw[:200]!r}")
    return Response(kind, tag.decode(), None, None, b"", values, raw)


class Wire:
    """Blocking socket client: send a command line, read every response to its tagged end."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.greeting = parse(self._response())
        self._tags = 0

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise WireError(f"server closed the connection (unread: {self.buf[:200]!r})")
        self.buf += chunk

    def _line(self) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            self._fill()
        line, self.buf = self.buf[:end + 2], self.buf[end + 2:]
        return line

    def _response(self) -> bytes:
        """A logical response: a line plus, for each ``{n}`` at a line end, n bytes and more."""
        out = self._line()
        while (m := _LITERAL_AT_END.search(out)) is not None:
            size = int(m.group(1))
            while len(self.buf) < size:
                self._fill()
            out += self.buf[:size]
            self.buf = self.buf[size:]
            out += self._line()
        return out

    def command(self, line: bytes) -> list[Response]:
        """Send ``T<n> line`` (LITERAL+ literals inline); every response through the tagged."""
        self._tags += 1
        tag = f"T{self._tags}"
        self.sock.sendall(tag.encode() + b" " + line + b"\r\n")
        got: list[Response] = []
        while True:
            resp = parse(self._response())
            got.append(resp)
            if resp.kind == "tagged" and resp.tag == tag:
                return got
            if resp.kind == "continuation":
                raise WireError(f"unexpected continuation for {line[:60]!r}")

    def close(self) -> None:
        try:
            self.command(b"LOGOUT")
        except (OSError, WireError):
            pass
        self.sock.close()
