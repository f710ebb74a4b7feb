"""Events the response parser emits: one frozen dataclass per kind of server response.

Values inside generic s-expressions (ENVELOPE, BODYSTRUCTURE, response-code arguments,
unknown responses) use one plain encoding, so callers never meet parser internals:
atoms are ``str``, quoted strings and literals are ``bytes``, ``NIL`` is ``None``,
parenthesised lists are ``tuple``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Value = Any  # str (atom) | bytes (string) | None (NIL) | tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Greeting:
    """The first line: OK (log in next), PREAUTH (already in) or BYE (go away)."""

    status: str
    code: str | None = None
    code_args: tuple[Value, ...] = ()
    text: str = ""


@dataclass(frozen=True, slots=True)
class Tagged:
    """The completion of the command whose tag this is."""

    tag: str
    status: str  # OK | NO | BAD
    code: str | None = None
    code_args: tuple[Value, ...] = ()
    text: str = ""


@dataclass(frozen=True, slots=True)
class UntaggedStatus:
    """``* OK/NO/BAD [CODE args] text``: mostly carriers of response codes (UIDVALIDITY...)."""

    status: str
    code: str | None = None
    code_args: tuple[Value, ...] = ()
    text: str = ""


@dataclass(frozen=True, slots=True)
class Bye:
    """The server is closing the connection, and says why."""

    code: str | None = None
    code_args: tuple[Value, ...] = ()
    text: str = ""


@dataclass(frozen=True, slots=True)
class Continuation:
    """``+ text``: the server is ready for a literal, AUTHENTICATE data, or in IDLE."""

    text: str = ""


@dataclass(frozen=True, slots=True)
class Capability:
    caps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Enabled:
    caps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ListItem:
    """One LIST/LSUB line; ``name`` is decoded from modified UTF-7, ``raw_name`` is as sent."""

    attrs: tuple[str, ...]
    delimiter: str | None
    name: str
    raw_name: bytes
    kind: str = "LIST"
    extended: tuple[Value, ...] = ()


@dataclass(frozen=True, slots=True)
class Status:
    """A STATUS answer: item names upper-cased, values as integers."""

    mailbox: str
    items: dict[str, int]
    raw_mailbox: bytes = b""


@dataclass(frozen=True, slots=True)
class Exists:
    n: int


@dataclass(frozen=True, slots=True)
class Recent:
    n: int


@dataclass(frozen=True, slots=True)
class Expunge:
    seq: int


@dataclass(frozen=True, slots=True)
class Vanished:
    """QRESYNC: UIDs gone; ``earlier`` marks the catch-up answer to a SELECT/FETCH."""

    uids: str
    earlier: bool = False

    def uid_list(self) -> list[int]:
        from inboxlab.engine.imap.commands import expand_uid_set

        return expand_uid_set(self.uids)


@dataclass(frozen=True, slots=True)
class Flags:
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Fetch:
    """One message's FETCH data; keys upper-cased: UID, FLAGS, RFC822.SIZE, BODY[...]...

    Types: UID/RFC822.SIZE/MODSEQ ``int``; FLAGS ``tuple[str, ...]``; INTERNALDATE
    ``str`` as sent (see ``commands.parse_internaldate``); BODY[...] ``bytes | None``;
    ENVELOPE/BODYSTRUCTURE generic values.
    """

    seq: int
    items: dict[str, Any] = field(default_factory=dict)

    @property
    def uid(self) -> int | None:
        return self.items.get("UID")


_new = object.__new__
_set_seq = vars(Fetch)["seq"].__set__  # the slots' own descriptors
_set_items = vars(Fetch)["items"].__set__


def new_fetch(seq: int, items: dict[str, Any]) -> Fetch:
    """``Fetch(seq, items)`` for the parser's fast path (one per message of a scan): the
    same frozen object, built through its slots in about a third of the time a frozen
    dataclass's ``__init__`` takes (it calls ``object.__setattr__`` per field)."""
    fetch: Fetch = _new(Fetch)
    _set_seq(fetch, seq)
    _set_items(fetch, items)
    return fetch


@dataclass(frozen=True, slots=True)
class Search:
    ids: tuple[int, ...]
    modseq: int | None = None


@dataclass(frozen=True, slots=True)
class ESearch:
    tag: str | None
    uid: bool
    items: dict[str, Value]


@dataclass(frozen=True, slots=True)
class Untagged:
    """Any other untagged response (NAMESPACE, ID, METADATA...), kept generically."""

    kind: str
    args: tuple[Value, ...] = ()


Event = (
    Greeting | Tagged | UntaggedStatus | Bye | Continuation | Capability | Enabled | ListItem
    | Status | Exists | Recent | Expunge | Vanished | Flags | Fetch | Search | ESearch | Untagged
)
