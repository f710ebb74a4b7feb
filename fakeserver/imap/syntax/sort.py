"""SORT and THREAD arguments (RFC 5256; RFC 5957's DISPLAYFROM/DISPLAYTO).

``SORT (REVERSE DATE SUBJECT) UTF-8 ALL`` and ``THREAD REFERENCES UTF-8 ALL``: the
charset is required, the search keys are SEARCH's (grammar_search.search_keys).
"""

from __future__ import annotations

from inboxlab.fakeserver.imap.syntax import search_keys as sk
from inboxlab.fakeserver.imap.syntax.lexer import Cursor
from inboxlab.fakeserver.imap.syntax.search import search_keys

__all__ = ["parse_sort", "parse_thread"]


def _charset_and_keys(cursor: Cursor) -> sk.SearchArgs:
    cursor.sp("charset")
    charset = cursor.astring("charset name")
    cursor.sp("search criteria")
    return search_keys(cursor, charset)


def parse_sort(cursor: Cursor, uid: bool) -> sk.SortArgs:
    cursor.sp("sort criteria")
    words = cursor.parenthesized("sort criterion", lambda: cursor.atom("sort criterion").upper())
    if not words:
        cursor.fail("empty sort criteria")
    criteria: list[tuple[str, bool]] = []
    reverse = False
    for word in words:
        if word == "REVERSE" and not reverse:
            reverse = True
            continue
        if word not in sk.SORT_KEYS:
            cursor.fail(f"unknown sort criterion {word!r}")
        criteria.append((word, reverse))
        reverse = False
    if reverse:
        cursor.fail("sort criteria end with REVERSE")
    return sk.SortArgs(tuple(criteria), _charset_and_keys(cursor))


def parse_thread(cursor: Cursor, uid: bool) -> sk.ThreadArgs:
    cursor.sp("thread algorithm")
    algorithm = cursor.atom("thread algorithm").upper()
    if algorithm not in sk.THREAD_ALGORITHMS:
        cursor.fail(f"unknown thread algorithm {algorithm!r}")
    return sk.ThreadArgs(algorithm, _charset_and_keys(cursor))
