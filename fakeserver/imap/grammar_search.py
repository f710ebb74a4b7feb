"""SEARCH arguments: RFC 4731 RETURN options, CHARSET, and the search-key tree.

Keys are folded into the few node types of ``commands_search`` so the evaluator stays
small.  Nesting is bounded: ``NOT NOT NOT ...`` from a fuzzer or a hostile client must
cost a BAD, not a RecursionError.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable

from fakeserver.imap.commands import (
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
    Text,
    UidSet,
)
from fakeserver.imap.grammar_lexer import Cursor
from fakeserver.imap.grammar_mailbox import parse_date

__all__ = ["FLAG_KEYS", "RETURN_OPTIONS", "parse_search"]

MAX_DEPTH = 64
RETURN_OPTIONS = frozenset({"MIN", "MAX", "ALL", "COUNT"})

# Keys that test one flag: name -> (flag, present).
FLAG_KEYS: dict[str, tuple[str, bool]] = {
    "ANSWERED": ("\\Answered", True),
    "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True),
    "RECENT": ("\\Recent", True),
    "SEEN": ("\\Seen", True),
    "UNANSWERED": ("\\Answered", False),
    "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
}
_HEADER_KEYS = frozenset({"BCC", "CC", "FROM", "SUBJECT", "TO"})
_DATE_KEYS = frozenset({"BEFORE", "ON", "SINCE"})
_ENTRY_TYPES = frozenset({"priv", "shared", "all"})


def parse_search(cursor: Cursor, uid: bool) -> SearchArgs:
    cursor.sp("search criteria")
    returns: tuple[str, ...] | None = None
    if cursor.accept_word("RETURN"):
        cursor.expect(b" ", "a space and return options after RETURN")
        returns = tuple(cursor.parenthesized("return option", lambda: _return_option(cursor)))
        cursor.sp("search criteria")
    charset: str | None = None
    if cursor.accept_word("CHARSET"):
        cursor.sp("charset name")
        charset = cursor.astring("charset name")
        cursor.sp("search criteria")
        try:
            cursor.encoding = codecs.lookup(charset).name
        except LookupError:  # the session answers NO [BADCHARSET]; strings are moot
            cursor.encoding = "latin-1"
    keys = [_key(cursor, 0)]
    while cursor.accept(b" "):
        keys.append(_key(cursor, 0))
    return SearchArgs(keys[0] if len(keys) == 1 else And(tuple(keys)), charset, returns)


def _return_option(cursor: Cursor) -> str:
    word = cursor.atom("return option").upper()
    if word == "SAVE":
        cursor.fail("SEARCHRES (RETURN SAVE) is not supported")
    if word not in RETURN_OPTIONS:
        cursor.fail(f"unknown return option {word!r}")
    return word


def _key(cursor: Cursor, depth: int) -> SearchKey:
    if depth > MAX_DEPTH:
        cursor.fail("search criteria nested too deeply")
    head = cursor.peek()
    if head == b"(":
        keys = cursor.parenthesized("search key", lambda: _key(cursor, depth + 1))
        if not keys:
            cursor.fail("empty parenthesized search key")
        return keys[0] if len(keys) == 1 else And(tuple(keys))
    if head and head in b"0123456789*$":
        return SeqSet(cursor.sequence_set())
    word = cursor.atom("search key").upper()
    parser = _KEYS.get(word)
    if parser is None:
        cursor.fail(f"unknown search key {word!r}")
    return parser(cursor, word, depth)


def _arg(cursor: Cursor, word: str) -> None:
    cursor.expect(b" ", f"a space and an argument after {word}")


def _flag_key(cursor: Cursor, word: str, depth: int) -> SearchKey:
    flag, present = FLAG_KEYS[word]
    return Flag(flag, present)


def _keyword(cursor: Cursor, word: str, depth: int) -> SearchKey:
    _arg(cursor, word)
    return Flag(cursor.atom("keyword"), word == "KEYWORD")


def _header_key(cursor: Cursor, word: str, depth: int) -> SearchKey:
    _arg(cursor, word)
    return Header(word, cursor.astring(f"{word} value"))


def _header(cursor: Cursor, word: str, depth: int) -> SearchKey:
    _arg(cursor, word)
    name = cursor.astring("header field name").upper()
    cursor.expect(b" ", "a space and a value after the HEADER field name")
    return Header(name, cursor.astring("HEADER value"))


def _text(cursor: Cursor, word: str, depth: int) -> SearchKey:
    _arg(cursor, word)
    return Text("BODY" if word == "BODY" else "TEXT", cursor.astring(f"{word} value"))


def _date(cursor: Cursor, word: str, depth: int) -> SearchKey:
    _arg(cursor, word)
    sent = word.startswith("SENT")
    op = word[4:] if sent else word
    assert op in _DATE_KEYS
    return Date(op, parse_date(cursor, f"{word} date"), sent)  # type: ignore[arg-type]


def _size(cursor: Cursor, word: str, depth: int) -> SearchKey:
    _arg(cursor, word)
    return Size("LARGER" if word == "LARGER" else "SMALLER", cursor.number("size", bits=63))


def _uid(cursor: Cursor, word: str, depth: int) -> SearchKey:
    _arg(cursor, word)
    return UidSet(cursor.sequence_set("UID set"))


def _not(cursor: Cursor, word: str, depth: int) -> SearchKey:
    _arg(cursor, word)
    return Not(_key(cursor, depth + 1))


def _or(cursor: Cursor, word: str, depth: int) -> SearchKey:
    _arg(cursor, word)
    left = _key(cursor, depth + 1)
    cursor.expect(b" ", "a space and a second search key after OR")
    return Or(left, _key(cursor, depth + 1))


def _modseq(cursor: Cursor, word: str, depth: int) -> SearchKey:
    _arg(cursor, word)
    entry = entry_type = None
    if cursor.peek() == b'"':
        entry = cursor.quoted("MODSEQ entry name")
        if not entry.lower().startswith("/flags/"):
            cursor.fail(f"invalid MODSEQ entry name {entry!r}")
        cursor.expect(b" ", "a space and an entry type after the MODSEQ entry name")
        entry_type = cursor.atom("MODSEQ entry type").lower()
        if entry_type not in _ENTRY_TYPES:
            cursor.fail(f"invalid MODSEQ entry type {entry_type!r}")
        cursor.expect(b" ", "a space and a mod-sequence")
    return ModSeq(cursor.number("mod-sequence", bits=63), entry, entry_type)


def _fixed(key: SearchKey) -> Callable[[Cursor, str, int], SearchKey]:
    return lambda cursor, word, depth: key


_KEYS: dict[str, Callable[[Cursor, str, int], SearchKey]] = {
    "ALL": _fixed(All()),
    "NEW": _fixed(And((Flag("\\Recent"), Flag("\\Seen", False)))),
    "OLD": _fixed(Not(Flag("\\Recent"))),
    **dict.fromkeys(FLAG_KEYS, _flag_key),
    "KEYWORD": _keyword,
    "UNKEYWORD": _keyword,
    **dict.fromkeys(_HEADER_KEYS, _header_key),
    "HEADER": _header,
    "BODY": _text,
    "TEXT": _text,
    **dict.fromkeys(
        ("SINCE", "BEFORE", "ON", "SENTSINCE", "SENTBEFORE", "SENTON"), _date
    ),
    "LARGER": _size,
    "SMALLER": _size,
    "UID": _uid,
    "NOT": _not,
    "OR": _or,
    "MODSEQ": _modseq,
}
