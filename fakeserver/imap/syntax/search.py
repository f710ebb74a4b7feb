"""SEARCH arguments: RFC 4731 RETURN options, CHARSET, and the search-key tree.

Keys are folded into the few node types of ``search_keys`` so the evaluator stays
small.  Nesting is parsed without recursion and bounded: ``NOT NOT NOT ...`` from a
fuzzer or a hostile client costs a BAD, never a RecursionError.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable

from inboxlab.fakeserver.imap.syntax import search_keys as sk
from inboxlab.fakeserver.imap.syntax.lexer import Cursor
from inboxlab.fakeserver.imap.syntax.mailbox import parse_date

__all__ = ["FLAG_KEYS", "RETURN_OPTIONS", "parse_search", "search_keys"]

MAX_DEPTH = 1000  # a 1000-key flat OR chain (Dovecot 2.3 accepts it)
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


def parse_search(cursor: Cursor, uid: bool) -> sk.SearchArgs:
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
    return search_keys(cursor, charset, returns)


def search_keys(cursor: Cursor, charset: str | None,
                returns: tuple[str, ...] | None = None) -> sk.SearchArgs:
    """The search keys to the end of the command, strings read in ``charset`` (SEARCH,
    and SORT/THREAD after their own arguments)."""
    if charset is not None:
        try:
            cursor.encoding = codecs.lookup(charset).name
        except LookupError:  # the session answers NO [BADCHARSET]; strings are moot
            cursor.encoding = "latin-1"
    keys = [_key(cursor, 0)]
    while cursor.accept(b" "):
        keys.append(_key(cursor, 0))
    return sk.SearchArgs(keys[0] if len(keys) == 1 else sk.And(tuple(keys)), charset, returns)


def _return_option(cursor: Cursor) -> str:
    word = cursor.atom("return option").upper()
    if word == "SAVE":
        cursor.fail("SEARCHRES (RETURN SAVE) is not supported")
    if word not in RETURN_OPTIONS:
        cursor.fail(f"unknown return option {word!r}")
    return word


def _key(cursor: Cursor, depth: int) -> sk.SearchKey:
    """One search key. Nesting (parentheses, NOT, OR) is kept on an explicit stack, not
    in Python recursion: a client's flat OR chain of hundreds of keys is valid (Dovecot
    takes 1000), and a hostile ``NOT NOT ...`` must cost a BAD at ``MAX_DEPTH``."""
    stack: list[_Open] = []
    while True:
        if depth + len(stack) > MAX_DEPTH:
            cursor.fail("search criteria nested too deeply")
        head = cursor.peek()
        if head == b"(":
            cursor.expect(b"(", "'(' before search keys")
            if cursor.accept(b")"):
                cursor.fail("empty parenthesized search key")
            if cursor.at_end():
                cursor.fail("unbalanced parentheses: missing ')' after search keys")
            stack.append(_Open("("))
            continue
        if head and head in b"0123456789*$":
            key: sk.SearchKey = sk.SeqSet(cursor.sequence_set())
        else:
            word = cursor.atom("search key").upper()
            if word in ("NOT", "OR"):
                _arg(cursor, word)
                stack.append(_Open(word))
                continue
            parser = _KEYS.get(word)
            if parser is None:
                cursor.fail(f"unknown search key {word!r}")
            key = parser(cursor, word, depth + len(stack))
        while stack:  # close every construct this key completes
            top = stack[-1]
            if top.kind == "NOT":
                stack.pop()
                key = sk.Not(key)
            elif top.kind == "OR":
                if not top.keys:
                    top.keys.append(key)
                    cursor.expect(b" ", "a space and a second search key after OR")
                    break
                stack.pop()
                key = sk.Or(top.keys[0], key)
            else:
                top.keys.append(key)
                if not cursor.accept(b")"):
                    if cursor.at_end():
                        cursor.fail("unbalanced parentheses: missing ')' after search keys")
                    cursor.expect(b" ", "a space or ')' after search key")
                    if cursor.at_end():
                        cursor.fail("unbalanced parentheses: missing ')' after search keys")
                    break
                stack.pop()
                key = top.keys[0] if len(top.keys) == 1 else sk.And(tuple(top.keys))
        else:
            return key


class _Open:
    """A construct still waiting for keys: ``(`` (until ``)``), ``NOT`` (one), ``OR`` (two)."""

    __slots__ = ("keys", "kind")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.keys: list[sk.SearchKey] = []


def _arg(cursor: Cursor, word: str) -> None:
    cursor.expect(b" ", f"a space and an argument after {word}")


def _flag_key(cursor: Cursor, word: str, depth: int) -> sk.SearchKey:
    flag, present = FLAG_KEYS[word]
    return sk.Flag(flag, present)


def _keyword(cursor: Cursor, word: str, depth: int) -> sk.SearchKey:
    _arg(cursor, word)
    return sk.Flag(cursor.atom("keyword"), word == "KEYWORD")


def _header_key(cursor: Cursor, word: str, depth: int) -> sk.SearchKey:
    _arg(cursor, word)
    return sk.Header(word, cursor.astring(f"{word} value"), address=word != "SUBJECT")


def _header(cursor: Cursor, word: str, depth: int) -> sk.SearchKey:
    _arg(cursor, word)
    name = cursor.astring("header field name").upper()
    cursor.expect(b" ", "a space and a value after the HEADER field name")
    return sk.Header(name, cursor.astring("HEADER value"))


def _text(cursor: Cursor, word: str, depth: int) -> sk.SearchKey:
    _arg(cursor, word)
    return sk.Text("BODY" if word == "BODY" else "TEXT", cursor.astring(f"{word} value"))


def _date(cursor: Cursor, word: str, depth: int) -> sk.SearchKey:
    _arg(cursor, word)
    sent = word.startswith("SENT")
    op = word[4:] if sent else word
    assert op in _DATE_KEYS
    return sk.Date(op, parse_date(cursor, f"{word} date"), sent)  # type: ignore[arg-type]


def _size(cursor: Cursor, word: str, depth: int) -> sk.SearchKey:
    _arg(cursor, word)
    return sk.Size("LARGER" if word == "LARGER" else "SMALLER", cursor.number("size", bits=63))


def _uid(cursor: Cursor, word: str, depth: int) -> sk.SearchKey:
    _arg(cursor, word)
    return sk.UidSet(cursor.sequence_set("UID set"))


def _modseq(cursor: Cursor, word: str, depth: int) -> sk.SearchKey:
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
    return sk.ModSeq(cursor.number("mod-sequence", bits=63), entry, entry_type)


def _fixed(key: sk.SearchKey) -> Callable[[Cursor, str, int], sk.SearchKey]:
    return lambda cursor, word, depth: key


_KEYS: dict[str, Callable[[Cursor, str, int], sk.SearchKey]] = {
    "ALL": _fixed(sk.All()),
    "NEW": _fixed(sk.And((sk.Flag("\\Recent"), sk.Flag("\\Seen", False)))),
    "OLD": _fixed(sk.Not(sk.Flag("\\Recent"))),
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
    "MODSEQ": _modseq,
}
