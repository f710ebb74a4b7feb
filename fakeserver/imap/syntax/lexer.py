"""A cursor over one framed command: the RFC 3501 token rules, nothing command-specific.

The reader hands over the command text (its lines joined, CRLFs removed, literal
announcements left in place) plus each literal keyed by the text offset just after its
``{n}``.  A ``{n}`` anywhere else is not a literal and is rejected, so a client cannot
smuggle one in mid-line.  Every failure is a :class:`ProtocolError` prefixed with the
command name, so replies say which command and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

from inboxlab.fakeserver.errors import ProtocolError
from inboxlab.fakeserver.imap.syntax.seqset import SequenceSet

__all__ = ["SYSTEM_FLAGS", "Cursor"]

T = TypeVar("T")

# Canonical spelling of each storable system flag, keyed by its upper-case form.
SYSTEM_FLAGS = {f.upper(): f for f in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")}

# ATOM-CHAR is any CHAR but atom-specials: ( ) { SP CTL % * " \ ].  Bytes >= 0x80 are let
# through here and must then decode as UTF-8 (RFC 6855/9051 UTF-8 mailbox names).
_ATOM = re.compile(rb'[^\x00-\x20(){%*"\\\]\x7f]+')
_ASTRING_ATOM = re.compile(rb'[^\x00-\x20(){%*"\\\x7f]+')  # ASTRING-CHAR adds "]"
_LIST_ATOM = re.compile(rb'[^\x00-\x20(){"\\\x7f]+')  # list-char adds % * ]
_LITERAL = re.compile(rb"\{([0-9]{1,20})(\+?)\}")
_NUMBER = re.compile(rb"[0-9]+")
_QUOTED_BAD = frozenset(range(0x00, 0x20)) | {0x7F}


class Cursor:
    """Position in a command's text; each method consumes one grammar token or fails."""

    def __init__(self, text: bytes, literals: Sequence[tuple[int, bytes]] = ()) -> None:
        self.text = text
        self.pos = 0
        self.command = ""
        self.encoding = "utf-8"  # SEARCH CHARSET switches it for the search strings
        self._literals = dict(literals)

    # -- failing ---------------------------------------------------------------------

    def fail(self, message: str) -> NoReturn:
        raise ProtocolError(f"{self.command}: {message}" if self.command else message)

    def found(self) -> str:
        """A short description of what sits at the cursor, for error messages."""
        if self.at_end():
            return "end of line"
        snippet = self.text[self.pos : self.pos + 24].split(b" ")[0] or b" "
        return repr(snippet.decode("utf-8", "replace"))

    # -- peeking ---------------------------------------------------------------------

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> bytes:
        return self.text[self.pos : self.pos + 1]

    def peek_word(self) -> str:
        """The upper-cased atom at the cursor without consuming it ("" if none)."""
        match = _ATOM.match(self.text, self.pos)
        return match.group().decode("ascii", "replace").upper() if match else ""

    def accept(self, token: bytes) -> bool:
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def accept_word(self, word: str) -> bool:
        """Consume ``word`` (case-insensitive) if it is the whole next atom."""
        end = self.pos + len(word)
        if self.text[self.pos : end].upper() == word.encode() and not _ATOM.match(
            self.text, end
        ):
            self.pos = end
            return True
        return False

    def expect(self, token: bytes, what: str) -> None:
        if not self.accept(token):
            self.fail(f"expected {what}, found {self.found()}")

    def sp(self, what: str) -> None:
        """The single space before the next argument (``what`` names that argument)."""
        if self.at_end():
            self.fail(f"missing {what}")
        if not self.accept(b" "):
            self.fail(f"expected a space before {what}, found {self.found()}")
        if self.peek() == b" ":
            self.fail(f"extra space before {what}")
        if self.at_end():
            self.fail(f"missing {what}")

    def end(self) -> None:
        if not self.at_end():
            self.fail(f"unexpected {self.found()} after the arguments")

    # -- tokens ----------------------------------------------------------------------

    def decode(self, raw: bytes, what: str) -> str:
        try:
            return raw.decode(self.encoding)
        except UnicodeDecodeError:
            shown = "UTF-8" if self.encoding == "utf-8" else self.encoding
            self.fail(f"{what} is not valid {shown}")

    def _match(self, pattern: re.Pattern[bytes], what: str) -> bytes:
        match = pattern.match(self.text, self.pos)
        if match is None:
            self.fail(f"expected {what}, found {self.found()}")
        self.pos = match.end()
        return match.group()

    def atom(self, what: str) -> str:
        return self.decode(self._match(_ATOM, what), what)

    def list_atom(self, what: str) -> str:
        return self.decode(self._match(_LIST_ATOM, what), what)

    def number(self, what: str, *, nonzero: bool = False, bits: int = 32) -> int:
        """number (32-bit), nz-number, or RFC 7162 mod-sequence (``bits=63``)."""
        raw = self._match(_NUMBER, what)
        value = int(raw) if len(raw) <= 20 else 1 << 64
        if value >= 1 << bits or (nonzero and value == 0):
            self.fail(f"{what} {raw.decode()[:24]} is out of range")
        return value

    def quoted(self, what: str) -> str:
        """DQUOTE *QUOTED-CHAR DQUOTE, where only \\\\ and \\" may be escaped."""
        self.expect(b'"', what)
        out = bytearray()
        text = self.text
        while True:
            if self.pos >= len(text):
                self.fail(f"unterminated quoted string in {what}")
            byte = text[self.pos]
            self.pos += 1
            if byte == 0x22:
                return self.decode(bytes(out), what)
            if byte == 0x5C:
                if self.pos >= len(text) or text[self.pos] not in b'"\\':
                    self.fail(f"invalid escape in quoted {what}: only \\\\ and \\\" allowed")
                byte = text[self.pos]
                self.pos += 1
            elif byte in _QUOTED_BAD:
                self.fail(f"control character in quoted {what}")
            out.append(byte)

    def literal(self, what: str) -> bytes:
        """``{n}`` / ``{n+}`` whose bytes the reader collected right after the announcement."""
        match = _LITERAL.match(self.text, self.pos)
        if match is None:
            close = self.text.find(b"}", self.pos)
            shown = self.text[self.pos : close + 1 if 0 <= close < self.pos + 24 else self.pos + 24]
            self.fail(f"invalid literal announcement {shown.decode('utf-8', 'replace')!r}")
        if match.end() not in self._literals:
            self.fail(f"literal announcement {match.group().decode()!r} must end the line")
        self.pos = match.end()
        data = self._literals[match.end()]
        if len(data) != int(match.group(1)):  # the reader guarantees this; belt and braces
            self.fail(f"literal of {len(data)} bytes announced as {match.group(1).decode()}")
        return data

    def string(self, what: str) -> str:
        """string = quoted / literal, as text (literals must then be UTF-8)."""
        if self.peek() == b"{":
            return self.decode(self.literal(what), what)
        return self.quoted(what)

    def astring(self, what: str) -> str:
        head = self.peek()
        if head in (b'"', b"{"):
            return self.string(what)
        return self.decode(self._match(_ASTRING_ATOM, what), what)

    def nstring(self, what: str) -> str | None:
        if self.accept_word("NIL"):
            return None
        return self.string(what)

    def parenthesized(self, item: str, read: Callable[[], T]) -> list[T]:
        """``"(" item *(SP item) ")"`` with ``read()`` consuming one item; empty allowed."""
        self.expect(b"(", f"'(' before {item}s")
        items: list[T] = []
        while not self.accept(b")"):
            if items:
                if self.at_end():
                    self.fail(f"unbalanced parentheses: missing ')' after {item}s")
                self.expect(b" ", f"a space or ')' after {item}")
            if self.at_end():
                self.fail(f"unbalanced parentheses: missing ')' after {item}s")
            items.append(read())
        return items

    # -- shared composite tokens ---------------------------------------------------------

    def mailbox(self, what: str = "mailbox name") -> str:
        """mailbox = "INBOX" / astring; INBOX in any case is INBOX (RFC 3501 5.1)."""
        name = self.astring(what)
        return "INBOX" if name.upper() == "INBOX" else name

    def sequence_set(self, what: str = "sequence set") -> SequenceSet:
        raw = self.list_atom(what)  # any run of non-special chars: let the set parser judge
        try:
            return SequenceSet.parse(raw)
        except ProtocolError as error:
            self.fail(error.text)

    def flag(self, what: str = "flag") -> str:
        """A storable flag: a system flag (canonical case), a \\extension or a keyword."""
        if self.accept(b"\\"):
            name = "\\" + self.atom(what)
            upper = name.upper()
            if upper in ("\\RECENT", "\\*"):
                self.fail(f"{name} cannot be set by a client")
            if upper not in SYSTEM_FLAGS:  # RFC 3501 flag-extension: none defined (Dovecot)
                self.fail(f"Invalid system flag {name}")
            return SYSTEM_FLAGS[upper]
        return self.atom(what)

    def flag_list(self) -> tuple[str, ...]:
        return tuple(self.parenthesized("flag", self.flag))

    def count_args(self) -> int:
        """How many space-separated top-level arguments remain (for arity messages).

        Tolerant by design: it only counts, it never fails.
        """
        text, pos, count, depth = self.text, self.pos, 0, 0
        in_token = False
        while pos < len(text):
            byte = text[pos]
            if byte == 0x20 and depth == 0:
                in_token = False
                pos += 1
                continue
            if not in_token:
                in_token, count = True, count + 1
            if byte == 0x22:  # skip a quoted string
                pos += 1
                while pos < len(text) and text[pos] != 0x22:
                    pos += 2 if text[pos] == 0x5C else 1
            elif byte == 0x7B:
                match = _LITERAL.match(text, pos)
                if match is not None and match.end() in self._literals:
                    pos = match.end() - 1
            elif byte in b"([":
                depth += 1
            elif byte in b")]":
                depth = max(0, depth - 1)
            pos += 1
        return count
