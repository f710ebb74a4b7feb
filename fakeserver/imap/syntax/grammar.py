"""IMAP command grammar (RFC 3501 / 9051 and the extensions the lab speaks): text -> Command.

``parse_command`` reads the tag and command name, then calls the command's argument
parser from its entry in the command table (``command_specs.COMMANDS``). Simple commands'
parsers live here; FETCH/STORE, SEARCH, SORT/THREAD and the mailbox-shaped commands
(SELECT, LIST, STATUS, APPEND) have their own modules.
Every failure is a :class:`ProtocolError` whose text says what was wrong, e.g.
``FETCH: unknown attribute 'FOO'`` or ``SELECT expects 1 mailbox argument, got 0``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from inboxlab.fakeserver.errors import ProtocolError
from inboxlab.fakeserver.imap.syntax.commands import (
    AuthenticateArgs,
    Command,
    CommandArgs,
    CopyArgs,
    Credentials,
    EnableArgs,
    ExpungeArgs,
    IdArgs,
    MailboxArgs,
    NoArgs,
    RenameArgs,
)
from inboxlab.fakeserver.imap.syntax.lexer import Cursor

__all__ = ["Parser", "ParserEntry", "parse_command"]

_TAG = re.compile(rb"[^\x00-\x20(){%*\"\\+\x7f-\xff]+")
_NAME = re.compile(rb"[A-Za-z][A-Za-z0-9.-]*")
_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")

Parser = Callable[[Cursor, bool], CommandArgs]


class ParserEntry(Protocol):
    """What parsing needs of a command's entry in the command table
    (``command_specs.CommandSpec``): its argument parser, and whether it may follow UID."""

    @property
    def parse(self) -> Parser: ...

    @property
    def uid(self) -> bool: ...


def parse_command(
    text: bytes, literals: Sequence[tuple[int, bytes]] = (), *, raw_size: int = 0,
    commands: Mapping[str, ParserEntry],
) -> Command:
    """Parse one framed command (lines joined without CRLF, literals keyed by offset)
    with the parsers of ``commands`` (``command_specs.COMMANDS``: one entry per command)."""
    cursor = Cursor(text, literals)
    if not text:
        raise ProtocolError("empty command line")
    tag_match = _TAG.match(text)
    if tag_match is None:
        raise ProtocolError("missing or invalid tag")
    tag = tag_match.group().decode("ascii")
    cursor.pos = tag_match.end()
    if not cursor.at_end() and cursor.peek() != b" ":
        shown = text[:32].split(b" ")[0].decode("utf-8", "replace")
        raise ProtocolError(f"invalid tag {shown!r}")
    try:
        if not cursor.accept(b" ") or cursor.at_end() or cursor.peek() == b" ":
            cursor.fail(f"missing command name after tag {tag!r}")
        name = _command_name(cursor)
        uid = False
        if name == "UID":
            cursor.command = "UID"
            cursor.sp("command after UID")
            name = _command_name(cursor)
            uid_spec = commands.get(name)
            if uid_spec is None or not uid_spec.uid:
                cursor.fail(f"{name} cannot follow UID")
            uid = True
        spec = commands.get(name)
        if spec is None:
            cursor.fail(f"unknown command {name}")
        cursor.command = f"UID {name}" if uid else name
        args = spec.parse(cursor, uid)
        cursor.end()
    except ProtocolError as error:
        raise error.with_tag(tag) from None
    return Command(tag=tag, name=name, args=args, uid=uid, raw_size=raw_size or len(text) + 2)


def _command_name(cursor: Cursor) -> str:
    match = _NAME.match(cursor.text, cursor.pos)
    end = match.end() if match else cursor.pos
    if match is None or (end < len(cursor.text) and cursor.text[end] != 0x20):
        cursor.fail(f"invalid command name {cursor.found()}")
    cursor.pos = end
    return match.group().decode("ascii").upper()


def _arity(cursor: Cursor, low: int, high: int, what: str) -> None:
    """Reject a wrong argument count up front with a message a human can act on."""
    got = cursor.count_args()
    if not low <= got <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise ProtocolError(f"{cursor.command} expects {expected} {what}, got {got}")


def no_args(cursor: Cursor, uid: bool) -> NoArgs:
    _arity(cursor, 0, 0, "arguments")
    return NoArgs()


def login(cursor: Cursor, uid: bool) -> Credentials:
    _arity(cursor, 2, 2, "arguments (user name and password)")
    cursor.sp("user name")
    user = cursor.astring("user name")
    cursor.sp("password")
    return Credentials(user, cursor.astring("password"))


def authenticate(cursor: Cursor, uid: bool) -> AuthenticateArgs:
    _arity(cursor, 1, 2, "arguments (mechanism and optional initial response)")
    cursor.sp("SASL mechanism")
    mechanism = cursor.atom("SASL mechanism").upper()
    if not cursor.accept(b" "):
        return AuthenticateArgs(mechanism)
    if cursor.accept(b"="):
        return AuthenticateArgs(mechanism, "")
    start = cursor.pos
    raw = cursor.text[start:]
    if not raw or _BASE64.match(raw) is None:
        cursor.fail("initial response is not base64")
    cursor.pos = len(cursor.text)
    return AuthenticateArgs(mechanism, raw.decode("ascii"))


def enable(cursor: Cursor, uid: bool) -> EnableArgs:
    caps: list[str] = []
    cursor.sp("capability")
    while True:
        caps.append(cursor.atom("capability").upper())
        if not cursor.accept(b" "):
            return EnableArgs(tuple(caps))


def id_(cursor: Cursor, uid: bool) -> IdArgs:
    cursor.sp("ID parameter list or NIL")
    if cursor.accept_word("NIL"):
        return IdArgs(None)

    def pair() -> tuple[str, str | None]:
        key = cursor.string("ID field name")
        cursor.expect(b" ", "a space and an ID field value")
        return key, cursor.nstring("ID field value")

    pairs = cursor.parenthesized("ID field", pair)
    return IdArgs(tuple(pairs))


def mailbox(cursor: Cursor, uid: bool) -> MailboxArgs:
    _arity(cursor, 1, 1, "mailbox argument")
    cursor.sp("mailbox name")
    return MailboxArgs(cursor.mailbox())


def rename(cursor: Cursor, uid: bool) -> RenameArgs:
    _arity(cursor, 2, 2, "mailbox arguments")
    cursor.sp("existing mailbox name")
    old = cursor.mailbox("existing mailbox name")
    cursor.sp("new mailbox name")
    return RenameArgs(old, cursor.mailbox("new mailbox name"))


def copy(cursor: Cursor, uid: bool) -> CopyArgs:
    _arity(cursor, 2, 2, "arguments (sequence set and mailbox)")
    cursor.sp("sequence set")
    sequence = cursor.sequence_set()
    cursor.sp("destination mailbox")
    return CopyArgs(sequence, cursor.mailbox("destination mailbox"))


def expunge(cursor: Cursor, uid: bool) -> ExpungeArgs:
    if not uid:
        _arity(cursor, 0, 0, "arguments")
        return ExpungeArgs(None)
    _arity(cursor, 1, 1, "UID set argument")
    cursor.sp("UID set")
    return ExpungeArgs(cursor.sequence_set("UID set"))
