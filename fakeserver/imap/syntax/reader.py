"""Sans-I/O framing of IMAP client commands: bytes in, events out.

``feed()`` client bytes, then call ``next_event()`` until it returns ``None`` (more bytes
needed).  The reader splits lines (CRLF, bare LF tolerated), collects ``{n}`` / ``{n+}``
literals, enforces the line and literal limits, and hands each complete command to the
grammar.  No sockets, no asyncio: the server shell owns the I/O, tests own everything.

Cost: a 50 MB APPEND literal is copied once out of the receive buffer (chunks are
sliced off the front of a bytearray, which CPython does without moving the rest) and
once when joined; lines are scanned for LF only over bytes not scanned before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum

from inboxlab.fakeserver.errors import LimitExceeded, ProtocolError
from inboxlab.fakeserver.imap.syntax.commands import (
    ContinuationRequest,
    CutMidLiteral,
    Fatal,
    Malformed,
    RawLine,
    ReaderEvent,
)
from inboxlab.fakeserver.imap.syntax.grammar import ParserEntry, parse_command

__all__ = ["CommandReader"]

_LITERAL_AT_END = re.compile(rb"\{([0-9]+)(\+?)\}\Z")
_BRACES_AT_END = re.compile(rb"\{[^{}]{0,40}\}\Z")  # "{abc}": a botched announcement
_TAG_FORBIDDEN = frozenset(b'(){%*"\\+')
LITERAL_MINUS_MAX = 4096
_MAX_DIGITS = 20  # beyond this a literal size is absurd; do not even convert it


class _State(Enum):
    LINE = "line"  # reading a command line (or a raw line after expect_line)
    LITERAL = "literal"  # collecting literal bytes
    SKIP = "skip"  # discarding the rest of an oversized line
    CLOSED = "closed"  # after Fatal or eof(): nothing more is framed


def _tag_of(line: bytes | bytearray) -> str | None:
    """The command's tag if the line starts with a valid one (for error replies)."""
    token = bytes(line[: line.find(b" ")] if b" " in line else line)
    if not token or any(b <= 0x20 or b >= 0x7F or b in _TAG_FORBIDDEN for b in token):
        return None
    return token.decode("ascii")


class CommandReader:
    """Frames client bytes into :mod:`fakeserver.imap.commands` events."""

    def __init__(
        self,
        *,
        commands: Mapping[str, ParserEntry],
        max_line: int = 64 * 1024,
        max_literal: int = 64 * 1024 * 1024,
        literal_plus: bool = True,
        literal_minus: bool = False,
    ) -> None:
        self.commands = commands  # the command table's parsers (``command_specs.COMMANDS``)
        self.max_line = max_line
        self.max_literal = max_literal
        self.literal_plus = literal_plus
        # RFC 7888 LITERAL-: non-synchronizing literals only up to 4096 octets (Gmail).
        self.literal_minus = literal_minus
        self._buf = bytearray()
        self._scan = 0  # bytes of _buf already searched for LF
        self._state = _State.LINE
        self._raw = False
        self._reset_command()

    def _reset_command(self) -> None:
        self._text = bytearray()
        self._literals: list[tuple[int, bytes]] = []
        self._chunks: list[bytes] = []
        self._remaining = 0
        self._literal_total = 0
        self._raw_size = 0
        self._tag: str | None = None
        self._deferred: ProtocolError | None = None  # reported once the command's bytes end

    # -- public API --------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Append received bytes; ignored once the reader is closed."""
        if self._state is not _State.CLOSED:
            self._buf += data

    def expect_line(self) -> None:
        """Make the next event a :class:`RawLine` (AUTHENTICATE responses, IDLE's DONE)."""
        self._raw = True

    def next_event(self) -> ReaderEvent | None:
        """The next event, or ``None`` when more bytes are needed."""
        while True:
            if self._state is _State.CLOSED:
                return None
            if self._state is _State.LITERAL:
                if not self._take_literal():
                    return None
                continue
            if self._state is _State.SKIP:
                end = self._buf.find(b"\n")
                if end < 0:
                    self._buf.clear()
                    return None
                del self._buf[: end + 1]
                self._state = _State.LINE
                continue
            event = self._next_line_event()
            if event is not _MORE:
                return event  # type: ignore[return-value]

    def eof(self) -> ReaderEvent | None:
        """The client closed: report a command cut inside its literals, then stop framing."""
        cut = self._state is _State.LITERAL or bool(self._text)
        tag = self._tag
        self._state = _State.CLOSED
        self._buf.clear()
        self._reset_command()
        return CutMidLiteral(tag) if cut else None

    # -- internals ---------------------------------------------------------------------

    def _take_literal(self) -> bool:
        """Move literal bytes out of the buffer; True once the literal is complete."""
        take = min(self._remaining, len(self._buf))
        if take:
            self._chunks.append(bytes(self._buf[:take]))
            del self._buf[:take]
            self._remaining -= take
            self._raw_size += take
        if self._remaining:
            return False
        literal = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._literals.append((len(self._text), literal))
        self._chunks = []
        self._state = _State.LINE
        return True

    def _next_line_event(self) -> ReaderEvent | object:
        """Handle one line; ``_MORE`` means "no event from this step, keep looping"."""
        end = self._buf.find(b"\n", self._scan)
        if end < 0:
            if len(self._buf) > self.max_line + 1:  # +1: a CR may precede the LF to come
                tag = None if self._raw else self._tag if self._text else _tag_of(self._buf[:256])
                self._buf.clear()
                self._scan = 0
                self._reset_command()
                self._raw = False
                self._state = _State.SKIP
                return Malformed(tag, LimitExceeded(self._line_limit_text(), tag=tag))
            self._scan = len(self._buf)
            self._state = _State.LINE
            return None
        line = bytes(self._buf[:end])
        del self._buf[: end + 1]
        self._scan = 0
        if line.endswith(b"\r"):
            line = line[:-1]
        if self._raw:
            self._raw = False
            if len(line) > self.max_line:
                return Malformed(None, LimitExceeded(self._line_limit_text()))
            return RawLine(line)
        return self._command_line(line, end + 1)

    def _line_limit_text(self) -> str:
        return f"command line longer than {self.max_line} bytes"

    def _command_line(self, line: bytes, consumed: int) -> ReaderEvent | object:
        if not self._text and not self._literals:
            self._tag = _tag_of(line)
        self._raw_size += consumed
        self._text += line
        announced = _LITERAL_AT_END.search(line)
        if len(line) > self.max_line or len(self._text) > self.max_line:
            error = LimitExceeded(self._line_limit_text(), tag=self._tag)
            if announced is not None and announced.group(2):  # LITERAL+ bytes already coming
                return self._fatal(error)
            return self._malformed(error)
        if announced is None:
            botched = _BRACES_AT_END.search(line)
            if botched is not None:  # no atom may hold "{": only a broken literal ends so
                shown = botched.group().decode("utf-8", "replace")
                return self._malformed(ProtocolError(f"invalid literal announcement {shown!r}"))
            return self._complete()
        digits, plus = announced.group(1), bool(announced.group(2))
        size = int(digits) if len(digits) <= _MAX_DIGITS else self.max_literal + 1
        if self._literal_total + size > self.max_literal:
            error = LimitExceeded(
                f"literal of {digits.decode()} bytes exceeds the limit of {self.max_literal}",
                tag=self._tag,
            )
            if plus:  # the bytes are already on their way: framing is lost
                return self._fatal(error)
            return self._malformed(error)
        if plus and not self.literal_plus and self._deferred is None:
            if not self.literal_minus:
                self._deferred = ProtocolError("LITERAL+ is not enabled on this server")
            elif size > LITERAL_MINUS_MAX:
                self._deferred = ProtocolError(
                    f"non-synchronizing literal of {size} bytes exceeds LITERAL-'s "
                    f"{LITERAL_MINUS_MAX} (RFC 7888): use a synchronizing literal")
        self._literal_total += size
        self._remaining = size
        self._state = _State.LITERAL
        if plus:
            return _MORE
        return ContinuationRequest()

    def _fatal(self, error: ProtocolError) -> Fatal:
        self._state = _State.CLOSED
        self._buf.clear()
        self._reset_command()
        return Fatal(error)

    def _malformed(self, error: ProtocolError) -> Malformed:
        tag = self._tag
        self._reset_command()
        self._state = _State.LINE
        return Malformed(tag, error.with_tag(tag))

    def _complete(self) -> ReaderEvent:
        if self._deferred is not None:
            return self._malformed(self._deferred)
        text, literals, raw_size = bytes(self._text), self._literals, self._raw_size
        try:
            command = parse_command(text, literals, raw_size=raw_size, commands=self.commands)
        except ProtocolError as error:
            return self._malformed(error)
        except Exception as bug:  # a grammar bug must cost one BAD, not the connection
            return self._malformed(ProtocolError(f"internal parser error ({type(bug).__name__})"))
        self._reset_command()
        return command


_MORE = object()
