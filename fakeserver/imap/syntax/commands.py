"""What the command reader emits: parsed commands and framing events (frozen dataclasses).

The reader (``reader.CommandReader``) turns client bytes into these events; the session
acts on them and never sees raw bytes.  This module also re-exports every typed argument
class so a session needs one import, and holds the RFC 3501 state table the session
uses to refuse commands in the wrong state (the check itself lives in the session).

Events::

    Command              a complete, parsed command -> run it
    ContinuationRequest  a synchronizing literal {n} is announced -> send "+ text"
    RawLine              a line asked for with expect_line() (AUTHENTICATE data, DONE)
    Malformed            a bad command -> tagged BAD (untagged "* BAD" when tag is None)
    Fatal                framing cannot recover (oversized LITERAL+) -> BYE and close
    CutMidLiteral        eof() inside a command's literal -> apply nothing
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inboxlab.fakeserver.errors import ProtocolError
from inboxlab.fakeserver.imap.syntax.args import (
    AppendArgs,
    AuthenticateArgs,
    CopyArgs,
    Credentials,
    EnableArgs,
    ExpungeArgs,
    FetchArgs,
    FetchAttr,
    IdArgs,
    ListArgs,
    MailboxArgs,
    NoArgs,
    QResync,
    RenameArgs,
    Section,
    SelectArgs,
    StatusArgs,
    StoreArgs,
    StoreMode,
)
from inboxlab.fakeserver.imap.syntax.search_keys import (
    All,
    And,
    Date,
    Flag,
    Header,
    ModSeq,
    Not,
    Or,
    SearchArgs,
    SearchKey,
    SeqSet,
    Size,
    SortArgs,
    Text,
    ThreadArgs,
    UidSet,
)
from inboxlab.fakeserver.imap.syntax.seqset import STAR, SequenceSet

__all__ = [
    "ANY",
    "AUTH",
    "NOT_AUTH",
    "SELECTED",
    "STAR",
    "All",
    "And",
    "AppendArgs",
    "AuthenticateArgs",
    "Command",
    "CommandArgs",
    "ContinuationRequest",
    "CopyArgs",
    "Credentials",
    "CutMidLiteral",
    "Date",
    "EnableArgs",
    "ExpungeArgs",
    "Fatal",
    "FetchArgs",
    "FetchAttr",
    "Flag",
    "Header",
    "IdArgs",
    "ListArgs",
    "MailboxArgs",
    "Malformed",
    "ModSeq",
    "NoArgs",
    "Not",
    "Or",
    "QResync",
    "RawLine",
    "ReaderEvent",
    "RenameArgs",
    "SearchArgs",
    "SearchKey",
    "Section",
    "SelectArgs",
    "SeqSet",
    "SequenceSet",
    "Size",
    "SortArgs",
    "StatusArgs",
    "StoreArgs",
    "StoreMode",
    "Text",
    "ThreadArgs",
    "UidSet",
]

CommandArgs = (
    NoArgs
    | Credentials
    | AuthenticateArgs
    | EnableArgs
    | IdArgs
    | MailboxArgs
    | RenameArgs
    | SelectArgs
    | ListArgs
    | StatusArgs
    | AppendArgs
    | CopyArgs
    | ExpungeArgs
    | FetchArgs
    | StoreArgs
    | SearchArgs
    | SortArgs
    | ThreadArgs
)


@dataclass(frozen=True)
class Command:
    """A parsed command.  ``name`` is upper-case; ``UID FETCH`` is ``FETCH`` with ``uid``.

    ``raw_size`` counts every byte the command took on the wire (lines and literals).
    """

    tag: str
    name: str
    args: CommandArgs = field(default_factory=NoArgs)
    uid: bool = False
    raw_size: int = 0


@dataclass(frozen=True)
class ContinuationRequest:
    """A synchronizing literal was announced and fits: the server sends ``+ {text}``."""

    text: str = "Ready for literal data"


@dataclass(frozen=True)
class RawLine:
    """One line (without CRLF) read verbatim after ``CommandReader.expect_line()``."""

    line: bytes


@dataclass(frozen=True)
class Malformed:
    """A command that cannot run; answer ``error.response(tag or "*")``."""

    tag: str | None
    error: ProtocolError


@dataclass(frozen=True)
class Fatal:
    """The byte stream can no longer be framed: send ``* BYE`` with the text and close."""

    error: ProtocolError


@dataclass(frozen=True)
class CutMidLiteral:
    """The client went away inside a command's literal; nothing of it may be applied."""

    tag: str | None


ReaderEvent = Command | ContinuationRequest | RawLine | Malformed | Fatal | CutMidLiteral

# RFC 3501 section 3 / RFC 9051: the states each command is valid in.  The session
# checks membership and answers BAD otherwise; "logout" allows nothing.
ANY = frozenset({"not_authenticated", "authenticated", "selected"})
NOT_AUTH = frozenset({"not_authenticated"})
AUTH = frozenset({"authenticated", "selected"})
SELECTED = frozenset({"selected"})
