"""FETCH and STORE arguments: data items, body sections, partials, CONDSTORE modifiers.

FETCH items are parsed into :class:`FetchAttr` whose ``label`` is what the response must
echo (``BODY[...]`` even for ``BODY.PEEK``, ``<origin>`` without the count), so a session
can never get the echo subtly wrong.  Macros (ALL, FAST, FULL) are expanded here.
"""

from __future__ import annotations

import re

from inboxlab.fakeserver.imap.syntax.commands import (
    FetchArgs,
    FetchAttr,
    Section,
    StoreArgs,
    StoreMode,
)
from inboxlab.fakeserver.imap.syntax.lexer import Cursor

__all__ = ["MACROS", "SIMPLE_ITEMS", "parse_fetch", "parse_store"]

SIMPLE_ITEMS = frozenset(
    {
        "UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE", "BODY",
        "RFC822", "RFC822.HEADER", "RFC822.TEXT", "MODSEQ",
    }
)
_SECTIONED = frozenset({"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE"})
MACROS: dict[str, tuple[FetchAttr, ...]] = {
    "FAST": (FetchAttr("FLAGS"), FetchAttr("INTERNALDATE"), FetchAttr("RFC822.SIZE")),
    "ALL": (
        FetchAttr("FLAGS"), FetchAttr("INTERNALDATE"), FetchAttr("RFC822.SIZE"),
        FetchAttr("ENVELOPE"),
    ),
    "FULL": (
        FetchAttr("FLAGS"), FetchAttr("INTERNALDATE"), FetchAttr("RFC822.SIZE"),
        FetchAttr("ENVELOPE"), FetchAttr("BODY"),
    ),
}
_ITEM_NAME = re.compile(rb"[A-Za-z0-9.]+")
_SECTION_WORD = re.compile(rb"[A-Za-z][A-Za-z.]*")
_MSGTEXT = frozenset({"HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"})
_MAX_MODSEQ_BITS = 63


def _item_name(cursor: Cursor) -> str:
    match = _ITEM_NAME.match(cursor.text, cursor.pos)
    if match is None:
        cursor.fail(f"expected a fetch attribute, found {cursor.found()}")
    cursor.pos = match.end()
    return match.group().decode("ascii").upper()


def _section(cursor: Cursor, binary: bool) -> Section:
    """section = "[" [section-spec] "]"; BINARY sections hold part numbers only."""
    cursor.expect(b"[", "'['")
    parts: list[int] = []
    text: str | None = None
    fields: tuple[str, ...] = ()
    while cursor.peek().isdigit():
        parts.append(cursor.number("section part", nonzero=True))
        if not cursor.accept(b"."):
            break
        if not cursor.peek().isdigit():
            text = _section_text(cursor, binary, bool(parts))
            break
    else:
        if not parts and cursor.peek() != b"]":
            text = _section_text(cursor, binary, False)
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        cursor.expect(b" ", f"a space and a header list after {text}")

        def field() -> str:
            return cursor.astring("header field name").upper()

        fields = tuple(cursor.parenthesized("header field name", field))
        if not fields:
            cursor.fail(f"empty header list after {text}")
    if cursor.peek() != b"]":
        cursor.fail(f"invalid section: expected ']', found {cursor.found()}")
    cursor.pos += 1
    return Section(tuple(parts), text, fields)


def _section_text(cursor: Cursor, binary: bool, has_part: bool) -> str:
    match = _SECTION_WORD.match(cursor.text, cursor.pos)
    if binary or match is None:
        cursor.fail(f"invalid section {cursor.found()}")
    word = match.group().decode("ascii").upper()
    if word == "MIME" and not has_part:
        cursor.fail("MIME needs a part number (e.g. BODY[1.MIME])")
    if word not in _MSGTEXT and word != "MIME":
        cursor.fail(f"invalid section text {word!r}")
    cursor.pos = match.end()
    return word


def _partial(cursor: Cursor) -> tuple[int, int] | None:
    if not cursor.accept(b"<"):
        return None
    origin = cursor.number("partial origin")
    cursor.expect(b".", "'.' and an octet count in the partial")
    count = cursor.number("partial octet count", nonzero=True)
    cursor.expect(b">", "'>' closing the partial")
    return origin, count


def _fetch_attr(cursor: Cursor) -> FetchAttr:
    name = _item_name(cursor)
    if cursor.peek() == b"[":
        if name not in _SECTIONED:
            cursor.fail(f"{name} takes no section")
        binary = name.startswith("BINARY")
        section = _section(cursor, binary)
        base, peek, _ = name.partition(".PEEK")
        partial = None if name == "BINARY.SIZE" else _partial(cursor)
        return FetchAttr(base, section, partial, peek=bool(peek))
    if name in SIMPLE_ITEMS:
        return FetchAttr(name)
    if name in _SECTIONED:
        cursor.fail(f"{name} needs a section, e.g. {name}[]")
    if name in MACROS:
        cursor.fail(f"macro {name} cannot be used inside a list")
    cursor.fail(f"unknown attribute {name!r}")


def parse_fetch(cursor: Cursor, uid: bool) -> FetchArgs:
    cursor.sp("sequence set")
    sequence = cursor.sequence_set()
    cursor.sp("fetch attributes")
    attrs: tuple[FetchAttr, ...]
    if cursor.peek() == b"(":
        attrs = tuple(cursor.parenthesized("fetch attribute", lambda: _fetch_attr(cursor)))
        if not attrs:
            cursor.fail("empty fetch attribute list")
    else:
        word = cursor.peek_word()
        if word in MACROS and cursor.accept_word(word):
            attrs = MACROS[word]
        else:
            attrs = (_fetch_attr(cursor),)
    if uid and not any(a.name == "UID" for a in attrs):
        attrs = (*attrs, FetchAttr("UID"))  # RFC 3501 6.4.8: UID FETCH always returns UID
    changed_since: int | None = None
    vanished = False
    if cursor.accept(b" "):

        def modifier() -> None:
            nonlocal changed_since, vanished
            word = cursor.atom("fetch modifier").upper()
            if word == "CHANGEDSINCE":
                cursor.expect(b" ", "a space and a mod-sequence after CHANGEDSINCE")
                changed_since = cursor.number("mod-sequence", bits=_MAX_MODSEQ_BITS)
            elif word == "VANISHED":
                vanished = True
            else:
                cursor.fail(f"unknown fetch modifier {word!r}")

        cursor.parenthesized("fetch modifier", modifier)
        if vanished and not uid:
            cursor.fail("VANISHED is only allowed in UID FETCH")
        if vanished and changed_since is None:
            cursor.fail("VANISHED requires CHANGEDSINCE")
    return FetchArgs(sequence, attrs, changed_since, vanished)


def parse_store(cursor: Cursor, uid: bool) -> StoreArgs:
    cursor.sp("sequence set")
    sequence = cursor.sequence_set()
    cursor.sp("store item")
    unchanged_since: int | None = None
    if cursor.peek() == b"(":

        def modifier() -> None:
            nonlocal unchanged_since
            word = cursor.atom("store modifier").upper()
            if word != "UNCHANGEDSINCE":
                cursor.fail(f"unknown store modifier {word!r}")
            cursor.expect(b" ", "a space and a mod-sequence after UNCHANGEDSINCE")
            unchanged_since = cursor.number("mod-sequence", bits=_MAX_MODSEQ_BITS)

        cursor.parenthesized("store modifier", modifier)
        if unchanged_since is None:
            cursor.fail("empty store modifier list")
        cursor.sp("store item")
    mode = StoreMode.REPLACE
    if cursor.accept(b"+"):
        mode = StoreMode.ADD
    elif cursor.accept(b"-"):
        mode = StoreMode.REMOVE
    item = cursor.peek_word()
    if item not in ("FLAGS", "FLAGS.SILENT"):
        cursor.fail(f"unknown store item {(mode.value + item) or cursor.found()!r}")
    cursor.accept_word(item)
    cursor.sp("flags")
    if cursor.peek() == b"(":
        flags = cursor.flag_list()
    else:
        flags_list = [cursor.flag()]
        while cursor.accept(b" "):
            flags_list.append(cursor.flag())
        flags = tuple(flags_list)
    return StoreArgs(sequence, mode, flags, item == "FLAGS.SILENT", unchanged_since)
