"""SEARCH criteria as a small tree of frozen dataclasses.

The grammar folds RFC 3501's many keys into few node types so the session's evaluator
is one ``match`` statement: SEEN is ``Flag("\\\\Seen", True)``, UNSEEN the same with
``False``, FROM is ``Header("FROM", ...)``, NEW is ``And(Flag(\\\\Recent), Flag(\\\\Seen, False))``.
A list of keys at top level or inside parentheses is an :class:`And`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from inboxlab.fakeserver.imap.syntax.seqset import SequenceSet

__all__ = [
    "SORT_KEYS",
    "THREAD_ALGORITHMS",
    "All",
    "And",
    "Date",
    "Flag",
    "Header",
    "ModSeq",
    "Not",
    "Or",
    "SearchArgs",
    "SearchKey",
    "SeqSet",
    "Size",
    "SortArgs",
    "Text",
    "ThreadArgs",
    "UidSet",
]


@dataclass(frozen=True)
class All:
    """Every message."""


@dataclass(frozen=True)
class Flag:
    """A system flag (``\\Seen``, ``\\Recent``...) or keyword present (or absent)."""

    flag: str
    present: bool = True


@dataclass(frozen=True)
class Header:
    """Substring match in a header field; ``field`` is upper-cased (FROM, SUBJECT, X-FOO).

    An empty ``value`` matches every message that has the field (RFC 3501 HEADER).
    """

    field: str
    value: str
    # FROM/TO/CC/BCC: matched on the parsed addresses (fakeserver/search_address.py);
    # HEADER FROM "x" on the field's text
    address: bool = False


@dataclass(frozen=True)
class Text:
    """BODY (``where="BODY"``) or TEXT (header and body) substring search."""

    where: Literal["BODY", "TEXT"]
    value: str


@dataclass(frozen=True)
class Date:
    """SINCE/BEFORE/ON on the internal date, or SENT* (``sent=True``) on the Date: header."""

    op: Literal["SINCE", "BEFORE", "ON"]
    date: dt.date
    sent: bool = False


@dataclass(frozen=True)
class Size:
    op: Literal["LARGER", "SMALLER"]
    size: int


@dataclass(frozen=True)
class UidSet:
    uids: SequenceSet


@dataclass(frozen=True)
class SeqSet:
    sequence: SequenceSet


@dataclass(frozen=True)
class ModSeq:
    """RFC 7162 MODSEQ [entry-name entry-type-req] mod-sequence-valzer."""

    modseq: int
    entry: str | None = None
    entry_type: str | None = None  # "priv", "shared" or "all"


@dataclass(frozen=True)
class And:
    keys: tuple[SearchKey, ...]


@dataclass(frozen=True)
class Or:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True)
class Not:
    key: SearchKey


SearchKey = All | Flag | Header | Text | Date | Size | UidSet | SeqSet | ModSeq | And | Or | Not


@dataclass(frozen=True)
class SearchArgs:
    """SEARCH [RETURN (opts)] [CHARSET c] keys.

    ``returns`` is ``None`` for a classic SEARCH (untagged ``* SEARCH``) and a tuple
    of upper-cased options (possibly empty = ALL) for RFC 4731 ESEARCH.
    """

    key: SearchKey
    charset: str | None = None
    returns: tuple[str, ...] | None = None


SORT_KEYS = frozenset({"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO",
                       "DISPLAYFROM", "DISPLAYTO"})
THREAD_ALGORITHMS = frozenset({"ORDEREDSUBJECT", "REFERENCES"})


@dataclass(frozen=True)
class SortArgs:
    """SORT (criteria) charset keys (RFC 5256): ``criteria`` as (key, reversed) pairs."""

    criteria: tuple[tuple[str, bool], ...]
    search: SearchArgs


@dataclass(frozen=True)
class ThreadArgs:
    """THREAD algorithm charset keys (RFC 5256); ``algorithm`` upper-cased."""

    algorithm: str
    search: SearchArgs
