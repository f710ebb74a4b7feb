"""Typed arguments of IMAP commands (everything except SEARCH keys, see search_keys).

One frozen dataclass per argument shape; the grammar builds them, the session reads
them.  Credential-bearing values hide their secrets in ``repr`` (redact at the source),
and APPEND hides its message body so a 50 MB literal never lands in a log line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum

from inboxlab.fakeserver.imap.syntax.seqset import SequenceSet

__all__ = [
    "AppendArgs",
    "AuthenticateArgs",
    "CopyArgs",
    "Credentials",
    "EnableArgs",
    "ExpungeArgs",
    "FetchArgs",
    "FetchAttr",
    "IdArgs",
    "ListArgs",
    "MailboxArgs",
    "NoArgs",
    "QResync",
    "RenameArgs",
    "Section",
    "SelectArgs",
    "StatusArgs",
    "StoreArgs",
    "StoreMode",
]

_HIDDEN = "[secure]"


@dataclass(frozen=True)
class NoArgs:
    """CAPABILITY, NOOP, LOGOUT, STARTTLS, CHECK, CLOSE, UNSELECT, IDLE, NAMESPACE."""


@dataclass(frozen=True)
class Credentials:
    """LOGIN's user and password; ``repr`` never shows the password."""

    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password={_HIDDEN!r})"


@dataclass(frozen=True)
class AuthenticateArgs:
    """AUTHENTICATE mechanism [initial-response] (RFC 4959 SASL-IR).

    ``initial_response`` is the base64 text as sent (``""`` for the ``=`` empty
    response, ``None`` when absent); it may carry a password, so ``repr`` hides it.
    """

    mechanism: str
    initial_response: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        shown = None if self.initial_response is None else _HIDDEN
        return f"AuthenticateArgs(mechanism={self.mechanism!r}, initial_response={shown!r})"


@dataclass(frozen=True)
class EnableArgs:
    capabilities: tuple[str, ...]  # upper-cased, in client order


@dataclass(frozen=True)
class IdArgs:
    """RFC 2971 ID: ``None`` for ``ID NIL``, else ordered (field, value-or-None) pairs."""

    params: tuple[tuple[str, str | None], ...] | None


@dataclass(frozen=True)
class MailboxArgs:
    """CREATE, DELETE, SUBSCRIBE, UNSUBSCRIBE; ``INBOX`` in any case becomes ``"INBOX"``."""

    mailbox: str


@dataclass(frozen=True)
class RenameArgs:
    old: str
    new: str


@dataclass(frozen=True)
class QResync:
    """RFC 7162 QRESYNC select parameters."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    seq_match: tuple[SequenceSet, SequenceSet] | None = None  # (seq numbers, their UIDs)


@dataclass(frozen=True)
class SelectArgs:
    """SELECT / EXAMINE mailbox [(CONDSTORE) | (QRESYNC (...))]."""

    mailbox: str
    condstore: bool = False
    qresync: QResync | None = None


@dataclass(frozen=True)
class ListArgs:
    """LIST / LSUB / XLIST with RFC 5258 LIST-EXTENDED options.

    ``patterns`` has one entry for the plain form; ``selection`` and ``returns`` are
    upper-cased option names; ``status_items`` is set by ``RETURN (STATUS (...))``.
    """

    reference: str
    patterns: tuple[str, ...]
    selection: frozenset[str] = frozenset()
    returns: frozenset[str] = frozenset()
    status_items: tuple[str, ...] = ()
    # the RFC 5258 form: selection options, RETURN or a pattern list, even if empty
    extended: bool = False

    @property
    def pattern(self) -> str:
        return self.patterns[0]


@dataclass(frozen=True)
class StatusArgs:
    mailbox: str
    items: tuple[str, ...]  # upper-cased, in client order


@dataclass(frozen=True)
class AppendArgs:
    """APPEND mailbox [(flags)] [date-time] literal; ``message`` is the literal's bytes."""

    mailbox: str
    flags: tuple[str, ...]
    internal_date: dt.datetime | None
    message: bytes = field(repr=False)

    def __repr__(self) -> str:
        return (
            f"AppendArgs(mailbox={self.mailbox!r}, flags={self.flags!r}, "
            f"internal_date={self.internal_date!r}, message=<{len(self.message)} bytes>)"
        )


@dataclass(frozen=True)
class CopyArgs:
    """COPY / MOVE (and their UID forms) set mailbox."""

    sequence: SequenceSet
    mailbox: str


@dataclass(frozen=True)
class ExpungeArgs:
    """EXPUNGE (``uids`` is None) or RFC 4315 UID EXPUNGE set."""

    uids: SequenceSet | None = None


@dataclass(frozen=True)
class Section:
    """A body section: ``part`` numbers (1.2.3) then an optional ``text`` specifier.

    ``text`` is one of HEADER, TEXT, MIME, HEADER.FIELDS, HEADER.FIELDS.NOT; ``fields``
    are the header names of the two HEADER.FIELDS forms, upper-cased, in client order.
    """

    part: tuple[int, ...] = ()
    text: str | None = None
    fields: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        spec = ".".join(str(n) for n in self.part)
        if self.text:
            spec = f"{spec}.{self.text}" if spec else self.text
        if self.fields:
            spec += " (" + " ".join(self.fields) + ")"
        return spec


@dataclass(frozen=True)
class FetchAttr:
    """One FETCH data item.

    ``name`` is the item with any ``.PEEK`` removed (``BODY``, ``BINARY``, ``FLAGS``...);
    ``section`` is set for the bracketed forms; ``partial`` is ``(origin, count)``.
    """

    name: str
    section: Section | None = None
    partial: tuple[int, int] | None = None
    peek: bool = False

    @property
    def label(self) -> str:
        """What the response echoes: ``BODY[...]`` even for BODY.PEEK, ``<origin>`` only."""
        if self.section is None:
            return self.name
        label = f"{self.name}[{self.section.label}]"
        if self.partial is not None:
            label += f"<{self.partial[0]}>"
        return label

    @property
    def sets_seen(self) -> bool:
        """RFC 3501: BODY[...] / RFC822 / RFC822.TEXT / BINARY[...] imply \\Seen, PEEK not."""
        if self.peek:
            return False
        if self.name in ("RFC822", "RFC822.TEXT"):
            return True
        return self.section is not None and self.name in ("BODY", "BINARY")


@dataclass(frozen=True)
class FetchArgs:
    """FETCH set items [(CHANGEDSINCE n [VANISHED])]."""

    sequence: SequenceSet
    attrs: tuple[FetchAttr, ...]
    changed_since: int | None = None
    vanished: bool = False


class StoreMode(Enum):
    REPLACE = ""
    ADD = "+"
    REMOVE = "-"


@dataclass(frozen=True)
class StoreArgs:
    """STORE set [(UNCHANGEDSINCE n)] (+|-)FLAGS[.SILENT] flags."""

    sequence: SequenceSet
    mode: StoreMode
    flags: tuple[str, ...]
    silent: bool = False
    unchanged_since: int | None = None
