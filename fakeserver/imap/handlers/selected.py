"""Selected-state commands that change the mailbox: STORE, COPY, MOVE, EXPUNGE, CLOSE,
UNSELECT. (FETCH and SEARCH have their own modules.)

While this session mutates its own folder the view is ``muted``: the store's change
events are for *other* sessions; this one reports its own changes directly.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator

from inboxlab.fakeserver.errors import CommandFailed
from inboxlab.fakeserver.imap import responses as r
from inboxlab.fakeserver.imap.session import Done, ImapSession, Steps
from inboxlab.fakeserver.imap.syntax.commands import (
    Command,
    CopyArgs,
    ExpungeArgs,
    StoreArgs,
    StoreMode,
)
from inboxlab.fakeserver.imap.view import FolderUids, MailboxView

_STORE_MODES = {StoreMode.ADD: "+", StoreMode.REMOVE: "-", StoreMode.REPLACE: "="}


def _view(s: ImapSession) -> MailboxView:
    assert s.view is not None, "state table guarantees a selected mailbox"
    return s.view


def _writable(s: ImapSession) -> MailboxView:
    view = _view(s)
    if view.readonly:
        raise CommandFailed("Mailbox is read-only (EXAMINE)", code="READ-ONLY")
    return view


def close(s: ImapSession, c: Command) -> Steps:
    view = _view(s)
    if not view.readonly:
        view.muted = True
        try:
            view.folder.expunge()
        finally:
            view.muted = False
    s.deselect()
    return Done("CLOSE completed")
    yield b""


def unselect(s: ImapSession, c: Command) -> Steps:
    s.deselect()
    return Done("UNSELECT completed")
    yield b""


def _expunge_uids(s: ImapSession, uids: Iterable[int] | None) -> Iterator[bytes]:
    """Expunge (all \\Deleted, or those of ``uids``) and report each in this client's terms."""
    view = _writable(s)
    yield from s.updates(allow_expunge=True)  # settle others' changes first: seqs line up
    folder = view.folder
    view.muted = True
    try:
        removed = folder.expunge(None if uids is None else list(uids))
    finally:
        view.muted = False
    known = sorted(uid for _seq, uid in removed if uid <= view.known_limit)
    view.forget(known)
    yield from _report_removed(s, known)


def _report_removed(s: ImapSession, uids: list[int]) -> Iterator[bytes]:
    """EXPUNGE lines (each seq valid after the previous) or one VANISHED line."""
    if not uids:
        return
    if s.qresync:
        yield r.untagged(f"VANISHED {r.uid_set(uids)}")
        return
    remaining = FolderUids(_view(s).folder)
    for uid in uids:
        # Before any removal uid had seq bisect(remaining)+k+1 (k removed before it); after
        # the k earlier EXPUNGE lines it is bisect(remaining)+1.
        yield b"* %d EXPUNGE\r\n" % (bisect_left(remaining, uid) + 1)


def expunge(s: ImapSession, c: Command) -> Steps:
    args = c.args
    assert isinstance(args, ExpungeArgs)
    if args.uids is None:
        yield from _expunge_uids(s, None)
    else:
        chosen = [uid for _seq, uid in _view(s).by_uid(args.uids)]
        yield from _expunge_uids(s, chosen)
    return Done("EXPUNGE completed")


def store(s: ImapSession, c: Command) -> Steps:
    args = c.args
    assert isinstance(args, StoreArgs)
    view = _writable(s)
    if args.unchanged_since is not None:
        if not s.caps.condstore:
            raise CommandFailed("UNCHANGEDSINCE needs CONDSTORE", code="CANNOT")
        s.condstore_active = True
    pairs = list(view.select(args.sequence, uid=c.uid))
    uid_to_seq = {uid: seq for seq, uid in pairs}
    view.muted = True
    try:
        changed, modified = view.folder.store(
            [uid for _seq, uid in pairs], _STORE_MODES[args.mode], args.flags,
            unchangedsince=args.unchanged_since,
        )
    finally:
        view.muted = False
    _store_gone(view, pairs, _STORE_MODES[args.mode], args.flags)
    yield from s.keyword_news()
    if not args.silent:
        failed = set(modified)
        for seq, uid in pairs:
            if uid not in failed:
                view.flag_changes.discard(uid)  # reported now, with the new flags
                yield s.flags_line(seq, uid)
    elif s.condstore_active:
        # RFC 7162 3.1.3: after UNCHANGEDSINCE the new MODSEQ MUST be sent even for .SILENT;
        # Dovecot does so whenever CONDSTORE is on, and so do we (one rule, like theirs)
        for uid in changed:
            yield b"* %d FETCH (UID %d MODSEQ (%d))\r\n" % (
                uid_to_seq[uid], uid, view.folder.modseq(uid))
    if modified:
        numbers = sorted(modified) if c.uid else sorted(uid_to_seq[u] for u in modified)
        return Done("Conditional STORE failed", f"MODIFIED {r.uid_set(numbers)}")
    return Done("STORE completed")


def _store_gone(view: MailboxView, pairs: list[tuple[int, int]], mode: str,
                flags: Iterable[str]) -> None:
    """A STORE naming messages expunged elsewhere (not yet told) changes the view's copy
    of their flags, as Dovecot's does; the folder no longer has them."""
    if not view.gone:
        return
    given = frozenset(f for f in flags if f != "\\Recent")
    for _seq, uid in pairs:
        gone = view.gone.get(uid)
        if gone is not None:
            old = gone.flags
            gone.flags = old | given if mode == "+" else old - given if mode == "-" else given


def copy(s: ImapSession, c: Command) -> Steps:
    """COPY and MOVE (RFC 6851): MOVE reports COPYUID untagged, then the expunges."""
    args = c.args
    assert isinstance(args, CopyArgs)
    view = _writable(s) if c.name == "MOVE" else _view(s)
    assert s.account is not None
    target = s.account.folder(args.mailbox)
    if target is None:
        raise CommandFailed(f"Mailbox does not exist: {args.mailbox}", code="TRYCREATE")
    source = view.folder
    pairs = list(view.select(args.sequence, uid=c.uid))
    if not pairs:
        if c.uid:  # RFC 3501: UID COPY with no matching UIDs is not an error
            return Done(f"No messages to {c.name.lower()}")
        raise CommandFailed("No messages match the sequence set", code="CANNOT")
    if view.gone and any(uid in view.gone for _seq, uid in pairs):
        # Dovecot copies nothing then; the client learns of the expunge before the NO
        yield from s.updates(allow_expunge=True)
        raise CommandFailed("Some of the requested messages no longer exist",
                            code="EXPUNGEISSUED")
    view.muted = True
    try:
        copied = source.copy_to([uid for _seq, uid in pairs], target)
        old_uids = [old for old, _new in copied]
        new_uids = [new for _old, new in copied]
        code = f"COPYUID {target.uidvalidity} {r.uid_set(old_uids)} {r.uid_set(new_uids)}"
        if c.name == "MOVE":
            if s.caps.uidplus:
                yield r.ok_code(code, "Moved UIDs")
            yield from s.updates(allow_expunge=True)
            removed = source.remove(old_uids)
            view.forget(old_uids)
            yield from _report_removed(s, sorted(uid for _seq, uid in removed))
    finally:
        view.muted = False
    if c.name == "MOVE":
        return Done("MOVE completed")
    return Done("COPY completed", code if s.caps.uidplus else None)
