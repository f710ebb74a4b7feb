"""Authenticated-state commands on mailboxes: LIST/LSUB/XLIST, STATUS, CREATE, DELETE,
RENAME, (UN)SUBSCRIBE, APPEND, SELECT/EXAMINE (with CONDSTORE and QRESYNC).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from inboxlab.fakeserver.errors import CommandFailed, ProtocolError
from inboxlab.fakeserver.imap import responses as r
from inboxlab.fakeserver.imap.handlers import listing
from inboxlab.fakeserver.imap.session import Done, ImapSession, State, Steps
from inboxlab.fakeserver.imap.syntax.commands import (
    AppendArgs,
    Command,
    ListArgs,
    MailboxArgs,
    RenameArgs,
    SelectArgs,
    StatusArgs,
)
from inboxlab.fakeserver.imap.view import MailboxView
from inboxlab.fakeserver.render import quote
from inboxlab.fakeserver.store import Account, Folder

DELIMITER = "/"


def _account(s: ImapSession) -> Account:
    assert s.account is not None, "state table guarantees a login"
    return s.account


def _folder(s: ImapSession, name: str, *, trycreate: bool = False) -> Folder:
    if not trycreate:
        return _account(s).get(name)
    folder = _account(s).folder(name)
    if folder is None:
        raise CommandFailed(f"Mailbox does not exist: {name}", code="TRYCREATE")
    return folder


# -- LIST ------------------------------------------------------------------------------------


def list_(s: ImapSession, c: Command) -> Steps:
    args = c.args
    assert isinstance(args, ListArgs)
    verb = c.name  # LIST, LSUB or XLIST
    account = _account(s)
    if verb == "LIST" and len(args.patterns) == 1 and args.pattern == "":
        yield r.untagged(f'LIST (\\Noselect) "{DELIMITER}" ""')
        return Done("LIST completed")
    special_use = s.caps.special_use
    if ("SPECIAL-USE" in args.selection or "SPECIAL-USE" in args.returns) and not special_use:
        raise ProtocolError("SPECIAL-USE is not supported")
    for entry in listing.entries(account, args, verb, special_use=special_use):
        line = f'{verb} ({" ".join(entry.attrs)}) "{DELIMITER}" '.encode()
        extra = b""
        if entry.childinfo:
            extra = b' (CHILDINFO (%s))' % b" ".join(quote(i) for i in entry.childinfo)
        yield b"* " + line + quote(entry.name) + extra + r.CRLF
        if args.status_items and entry.exists:
            folder = account.folder(entry.name)
            assert folder is not None
            yield _status_line(s, folder, args.status_items)
    return Done(f"{verb} completed")


# -- STATUS ----------------------------------------------------------------------------------


def _status_line(s: ImapSession, folder: Folder, items: tuple[str, ...]) -> bytes:
    values = []
    for item in items:
        if item == "MESSAGES":
            value = len(folder)
        elif item == "RECENT":
            value = folder.recent() if s.config.recent else 0
        elif item == "UIDNEXT":
            value = folder.uidnext
        elif item == "UIDVALIDITY":
            value = folder.uidvalidity
        elif item == "UNSEEN":
            value = folder.unseen()
        elif item == "HIGHESTMODSEQ" and s.caps.condstore:
            value = folder.highestmodseq
        elif item == "SIZE":
            value = sum(folder.size(uid) for uid in folder.uids())
        else:
            raise ProtocolError(f"STATUS: unknown item {item}")
        values.append(f"{item} {value}")
    return b"* STATUS " + quote(folder.name) + f" ({' '.join(values)})\r\n".encode()


def status(s: ImapSession, c: Command) -> Steps:
    args = c.args
    assert isinstance(args, StatusArgs)
    yield _status_line(s, _folder(s, args.mailbox), args.items)
    return Done("STATUS completed")


# -- CREATE DELETE RENAME SUBSCRIBE ----------------------------------------------------------


def create(s: ImapSession, c: Command) -> Steps:
    args = c.args
    assert isinstance(args, MailboxArgs)
    # raises NO [ALREADYEXISTS] / [CANNOT]
    _account(s).create(args.mailbox, subscribed=s.config.create_subscribes)
    return Done("CREATE completed")
    yield b""


def delete(s: ImapSession, c: Command) -> Steps:
    args = c.args
    assert isinstance(args, MailboxArgs)
    folder = _account(s).delete(args.mailbox)  # raises NO [NONEXISTENT] / [CANNOT]
    if s.view is not None and s.view.folder is folder:
        s.deselect()
    return Done("DELETE completed")
    yield b""


def rename(s: ImapSession, c: Command) -> Steps:
    args = c.args
    assert isinstance(args, RenameArgs)
    _account(s).rename(args.old, args.new)  # raises NO [NONEXISTENT] / [ALREADYEXISTS] / NO
    return Done("RENAME completed")
    yield b""


def subscribe(s: ImapSession, c: Command) -> Steps:
    """SUBSCRIBE and UNSUBSCRIBE."""
    args = c.args
    assert isinstance(args, MailboxArgs)
    if c.name == "SUBSCRIBE":
        _account(s).subscribe(args.mailbox)  # raises NO for a mailbox that does not exist
    else:
        _account(s).unsubscribe(args.mailbox)
    return Done(f"{c.name} completed")
    yield b""


# -- APPEND ----------------------------------------------------------------------------------


_BARE_LF = re.compile(rb"(?<!\r)\n")


def _as_stored(raw: bytes) -> bytes:
    """The message as Dovecot 2.3 keeps it: bare LF line ends become CRLF (RFC 5322 2.3;
    RFC822.SIZE counts them so) and NUL, which IMAP text must not hold, is read back as
    0x80, size unchanged."""
    if b"\n" in raw:
        raw = _BARE_LF.sub(b"\r\n", raw)
    return raw.replace(b"\0", b"\x80") if b"\0" in raw else raw


def append(s: ImapSession, c: Command) -> Steps:
    args = c.args
    assert isinstance(args, AppendArgs)
    folder = _folder(s, args.mailbox, trycreate=True)
    if not args.message:
        raise CommandFailed("Empty message", code="CANNOT")
    uid = folder.append(_as_stored(args.message), flags=args.flags,
                        internaldate=args.internal_date)
    if s.view is not None and s.view.folder is folder:
        yield from s.keyword_news()
    if s.caps.uidplus:
        return Done("APPEND completed", f"APPENDUID {folder.uidvalidity} {uid}")
    return Done("APPEND completed")


# -- SELECT / EXAMINE ------------------------------------------------------------------------


def select(s: ImapSession, c: Command) -> Steps:
    args = c.args
    assert isinstance(args, SelectArgs)
    if args.condstore and not s.caps.condstore:
        raise ProtocolError("CONDSTORE is not supported")
    if args.qresync is not None and "QRESYNC" not in s.enabled:
        raise ProtocolError("QRESYNC must be ENABLEd before SELECT (QRESYNC ...)")
    had_view = s.view is not None
    s.deselect()
    if had_view and s.qresync:
        yield r.ok_code("CLOSED", "Previous mailbox closed")
    folder = _folder(s, args.mailbox)
    readonly = c.name == "EXAMINE"
    if args.condstore:
        s.condstore_active = True
    view = MailboxView(folder, readonly=readonly, wakeup=lambda: s.wakeup(),
                       recent=s.config.recent)
    s.view = view
    s.state = State.SELECTED
    yield from r.flag_lines(folder.keywords(), readonly=readonly)
    yield r.untagged(f"{view.exists} EXISTS")
    yield r.untagged(f"{view.recent_told} RECENT")
    # RFC 3501 6.3.1 lists [UNSEEN n] among SELECT's required OK responses (when any
    # message is unseen); Dovecot sends it, and clients jump to n on open
    first_unseen = folder.first_unseen()  # the view is new: its numbers are the folder's
    if first_unseen is not None:
        yield r.ok_code(f"UNSEEN {first_unseen}", "First unseen")
    yield r.ok_code(f"UIDVALIDITY {folder.uidvalidity}", "UIDs valid")
    yield r.ok_code(f"UIDNEXT {folder.uidnext}", "Predicted next UID")
    if s.caps.condstore:
        yield r.ok_code(f"HIGHESTMODSEQ {folder.highestmodseq}", "Highest")
    if args.qresync is not None and args.qresync.uidvalidity == folder.uidvalidity:
        yield from _qresync(s, folder, args)
    mode = "READ-ONLY" if readonly else "READ-WRITE"
    return Done(f"{c.name} completed", mode)


def _qresync(s: ImapSession, folder: Folder, args: SelectArgs) -> Iterator[bytes]:
    """RFC 7162 3.2.5.2: VANISHED (EARLIER) for gone UIDs, FETCH for changed ones."""
    q = args.qresync
    assert q is not None and s.view is not None
    known = q.known_uids
    gone = [
        uid for uid in folder.expunged_since(q.modseq)
        if known is None or known.contains(uid, folder.uidnext - 1)
    ]
    if gone:
        yield r.untagged(f"VANISHED (EARLIER) {r.uid_set(sorted(set(gone)))}")
    for uid in folder.changed_since(q.modseq):
        if known is not None and not known.contains(uid, folder.uidnext - 1):
            continue
        seq = s.view.seq_of(uid)
        if seq is not None:
            yield s.flags_line(seq, uid)
