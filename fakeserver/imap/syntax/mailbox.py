"""Mailbox-shaped commands: SELECT/EXAMINE, LIST/LSUB/XLIST, STATUS, APPEND; IMAP dates.

Options are checked against what the lab implements (RFC 7162 CONDSTORE/QRESYNC,
RFC 5258 LIST-EXTENDED, RFC 6154 SPECIAL-USE, RFC 5819 LIST-STATUS, RFC 8438 SIZE):
RFC 5258 requires a BAD for an option the server does not recognise, and a precise
BAD is what a connector developer needs when the lab disagrees with their client.
"""

from __future__ import annotations

import datetime as dt
import re

from inboxlab.fakeserver.errors import ProtocolError
from inboxlab.fakeserver.imap.syntax.commands import (
    AppendArgs,
    ListArgs,
    QResync,
    SelectArgs,
    StatusArgs,
)
from inboxlab.fakeserver.imap.syntax.lexer import Cursor

__all__ = ["MONTHS", "STATUS_ITEMS", "parse_append", "parse_date", "parse_list",
           "parse_select", "parse_status"]

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
STATUS_ITEMS = frozenset(
    {"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ", "SIZE", "DELETED"}
)
LIST_SELECTION = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})
LIST_RETURN = frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS"})

_DATE = re.compile(rb"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})")
_DATE_TIME = re.compile(
    rb'"([ 0-9][0-9])-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{4})"'
)


def _month(cursor: Cursor, raw: bytes) -> int:
    name = raw.decode("ascii").upper()
    if name not in MONTHS:
        cursor.fail(f"invalid month {raw.decode('ascii')!r} (expected Jan..Dec)")
    return MONTHS.index(name) + 1


def parse_date(cursor: Cursor, what: str = "date") -> dt.date:
    """date = date-text / DQUOTE date-text DQUOTE, date-text = d[d]-Mon-yyyy."""
    quoted = cursor.accept(b'"')
    match = _DATE.match(cursor.text, cursor.pos)
    if match is None:
        cursor.fail(f"invalid {what} {cursor.found()} (expected dd-Mon-yyyy)")
    cursor.pos = match.end()
    if quoted:
        cursor.expect(b'"', f"closing quote after {what}")
    try:
        return dt.date(int(match.group(3)), _month(cursor, match.group(2)), int(match.group(1)))
    except ValueError:
        cursor.fail(f"invalid {what} {match.group().decode('ascii')!r}: no such day")


def _date_time(cursor: Cursor) -> dt.datetime:
    """date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE."""
    match = _DATE_TIME.match(cursor.text, cursor.pos)
    if match is None:
        cursor.fail(f"invalid date-time {cursor.found()} (expected \"dd-Mon-yyyy hh:mm:ss +zzzz\")")
    cursor.pos = match.end()
    day, month, year, hh, mm, ss, sign, zone = match.groups()
    offset = int(zone[:2]) * 60 + int(zone[2:])
    if int(zone[2:]) > 59:
        cursor.fail(f"invalid time zone {sign.decode()}{zone.decode()}")
    try:
        tz = dt.timezone(dt.timedelta(minutes=-offset if sign == b"-" else offset))
        return dt.datetime(
            int(year), _month(cursor, month), int(day.strip()), int(hh), int(mm), int(ss), tzinfo=tz
        )
    except ValueError:
        cursor.fail(f"invalid date-time {match.group().decode('ascii')}")


def parse_select(cursor: Cursor, uid: bool) -> SelectArgs:
    got = cursor.count_args()
    if got not in (1, 2):
        extra = " and an optional parameter list" if got else ""
        raise ProtocolError(f"{cursor.command} expects 1 mailbox argument{extra}, got {got}")
    cursor.sp("mailbox name")
    mailbox = cursor.mailbox()
    if not cursor.accept(b" "):
        return SelectArgs(mailbox)
    condstore = False
    qresync: QResync | None = None

    def param() -> None:
        nonlocal condstore, qresync
        word = cursor.atom("select parameter").upper()
        if word == "CONDSTORE":
            condstore = True
        elif word == "QRESYNC":
            cursor.expect(b" ", "QRESYNC parameters")
            qresync = _qresync(cursor)
        else:
            cursor.fail(f"unknown select parameter {word!r}")

    cursor.parenthesized("select parameter", param)
    return SelectArgs(mailbox, condstore or qresync is not None, qresync)


def _qresync(cursor: Cursor) -> QResync:
    cursor.expect(b"(", "'(' before QRESYNC parameters")
    uidvalidity = cursor.number("UIDVALIDITY", nonzero=True)
    cursor.expect(b" ", "a space and a mod-sequence")
    modseq = cursor.number("mod-sequence", nonzero=True, bits=63)
    known: QResync = QResync(uidvalidity, modseq)
    if cursor.accept(b" ") and cursor.peek() != b"(":
        known = QResync(uidvalidity, modseq, cursor.sequence_set("known UIDs"))
        cursor.accept(b" ")
    if cursor.peek() == b"(":
        cursor.pos += 1
        seqs = cursor.sequence_set("known sequence set")
        cursor.expect(b" ", "a space and known UIDs")
        uids = cursor.sequence_set("known UID set")
        cursor.expect(b")", "')' after sequence match data")
        known = QResync(uidvalidity, modseq, known.known_uids, (seqs, uids))
    cursor.expect(b")", "')' after QRESYNC parameters")
    return known


def _list_mailbox(cursor: Cursor) -> str:
    if cursor.peek() in (b'"', b"{"):
        return cursor.string("mailbox pattern")
    return cursor.list_atom("mailbox pattern")


def parse_list(cursor: Cursor, uid: bool) -> ListArgs:
    extended = cursor.command == "LIST"
    got = cursor.count_args()
    if got < 2 or (not extended and got != 2):
        raise ProtocolError(
            f"{cursor.command} expects 2 arguments (reference and mailbox pattern), got {got}"
        )
    cursor.sp("reference name")
    selection: frozenset[str] = frozenset()
    extended_form = False
    if extended and cursor.peek() == b"(":
        extended_form = True
        selection = _options(cursor, "selection option", LIST_SELECTION)
        if selection - {"REMOTE"} == {"RECURSIVEMATCH"}:  # RFC 5258 3.1: REMOTE is no base
            cursor.fail("RECURSIVEMATCH needs another selection option")
        cursor.sp("reference name")
    reference = cursor.astring("reference name")
    cursor.sp("mailbox pattern")
    if extended and cursor.peek() == b"(":
        extended_form = True
        patterns = tuple(cursor.parenthesized("mailbox pattern", lambda: _list_mailbox(cursor)))
        if not patterns:
            cursor.fail("empty mailbox pattern list")
    else:
        patterns = (_list_mailbox(cursor),)
    returns: frozenset[str] = frozenset()
    status_items: tuple[str, ...] = ()
    if extended and cursor.accept(b" "):
        extended_form = True
        if not cursor.accept_word("RETURN"):
            cursor.fail(f"expected RETURN, found {cursor.found()}")
        cursor.expect(b" ", "return options")

        def option() -> str:
            nonlocal status_items
            word = cursor.atom("return option").upper()
            if word not in LIST_RETURN:
                cursor.fail(f"unknown return option {word!r}")
            if word == "STATUS":
                cursor.expect(b" ", "STATUS items")
                status_items = _status_items(cursor)
            return word

        returns = frozenset(cursor.parenthesized("return option", option))
    return ListArgs(reference, patterns, selection, returns, status_items, extended_form)


def _options(cursor: Cursor, what: str, known: frozenset[str]) -> frozenset[str]:
    def option() -> str:
        word = cursor.atom(what).upper()
        if word not in known:
            cursor.fail(f"unknown {what} {word!r}")
        return word

    return frozenset(cursor.parenthesized(what, option))


def _status_items(cursor: Cursor) -> tuple[str, ...]:
    def item() -> str:
        word = cursor.atom("status item").upper()
        if word not in STATUS_ITEMS:
            cursor.fail(f"unknown status item {word!r}")
        return word

    items = tuple(cursor.parenthesized("status item", item))
    if not items:
        cursor.fail("empty status item list")
    return items


def parse_status(cursor: Cursor, uid: bool) -> StatusArgs:
    got = cursor.count_args()
    if got != 2:
        raise ProtocolError(f"STATUS expects 2 arguments (mailbox and item list), got {got}")
    cursor.sp("mailbox name")
    mailbox = cursor.mailbox()
    cursor.sp("status item list")
    return StatusArgs(mailbox, _status_items(cursor))


def parse_append(cursor: Cursor, uid: bool) -> AppendArgs:
    got = cursor.count_args()
    if not 2 <= got <= 4:
        raise ProtocolError(
            f"APPEND expects a mailbox, optional flags and date-time, and a message literal, "
            f"got {got} arguments"
        )
    cursor.sp("mailbox name")
    mailbox = cursor.mailbox()
    cursor.sp("message literal")
    flags: tuple[str, ...] = ()
    if cursor.peek() == b"(":
        flags = cursor.flag_list()
        cursor.sp("message literal")
    internal_date = None
    if cursor.peek() == b'"' and cursor.count_args() > 1:  # a lone quoted token is no date
        internal_date = _date_time(cursor)
        cursor.sp("message literal")
    if cursor.peek() == b"~":
        cursor.fail("literal8 (APPEND of binary content) is not supported")
    if cursor.peek() != b"{":
        cursor.fail(f"message must be a literal, found {cursor.found()}")
    return AppendArgs(mailbox, flags, internal_date, cursor.literal("message literal"))

