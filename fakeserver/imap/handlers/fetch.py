"""FETCH / UID FETCH: the hot path (100k messages must stream within 2x of Dovecot).

The attribute list is compiled once per command into one line format and a list of
value functions ``uid -> bytes | int`` (mostly the store's own bound accessors); each
message's line is one ``%``. Output is yielded in ~256 KiB chunks so the shell writes
and drains between them and memory stays flat.
HEADER.FIELDS of a top-level message uses the store's fast path and never builds
the message.
"""

from __future__ import annotations

from collections.abc import Callable

from inboxlab.fakeserver import render
from inboxlab.fakeserver.errors import ProtocolError
from inboxlab.fakeserver.imap import responses as r
from inboxlab.fakeserver.imap.session import Done, ImapSession, Steps
from inboxlab.fakeserver.imap.syntax.commands import Command, FetchArgs, FetchAttr
from inboxlab.fakeserver.imap.view import GoneMessage
from inboxlab.fakeserver.store import Folder

CHUNK = 256 * 1024
Value = Callable[[int], "bytes | int"]  # uid -> the item's value, %-formatted into the line
_HEADER_CUTS = ("HEADER.FIELDS", "HEADER.FIELDS.NOT")


def _flags_bytes(folder: Folder) -> Callable[[int], bytes]:
    cache: dict[frozenset[str], bytes] = {}

    def render_flags(uid: int) -> bytes:
        flags = folder.flags(uid)
        out = cache.get(flags)
        if out is None:
            out = cache[flags] = r.flag_list(flags)
        return out

    return render_flags


def _with_recent(folder: Folder, recent: set[int], plain: Value) -> Value:
    """FLAGS plus ``\\Recent`` for the messages this session claimed (only wrapped
    when it has any, so a drain of old mail pays nothing)."""
    def render_flags(uid: int) -> bytes | int:
        return r.flag_list(folder.flags(uid) | r.RECENT) if uid in recent else plain(uid)

    return render_flags


def _raw_once(folder: Folder) -> Callable[[int], bytes]:
    """``folder.raw`` remembering the last message: items needing it share one build."""
    raw_of = folder.raw
    last_uid, last_raw = 0, b""  # UID 0 names no message

    def raw(uid: int) -> bytes:
        nonlocal last_uid, last_raw
        if uid != last_uid:
            last_raw, last_uid = raw_of(uid), uid
        return last_raw

    return raw


def _section(folder: Folder, attr: FetchAttr, raw: Callable[[int], bytes]) -> Value:
    label = attr.label.encode()
    section = attr.section
    partial = attr.partial

    def cut(data: bytes) -> bytes:
        if partial is not None:
            origin, count = partial
            data = data[origin : origin + count]
        return b"%b {%d}\r\n%b" % (label, len(data), data)

    if section is None:  # RFC822, RFC822.HEADER, RFC822.TEXT
        text = {"RFC822": None, "RFC822.HEADER": "HEADER", "RFC822.TEXT": "TEXT"}[attr.name]
        if text is None:
            return lambda uid: cut(raw(uid))
        return lambda uid: cut(_bytes(render.section(raw(uid), (), text, ())))
    if not section.part and section.text in _HEADER_CUTS:
        fields = section.fields
        negate = section.text == "HEADER.FIELDS.NOT"
        header_fields = folder.header_fields
        return lambda uid: cut(header_fields(uid, fields, negate))
    part, text, fields = section.part, section.text, section.fields
    return lambda uid: cut(_bytes(render.section(raw(uid), part, text, fields)))


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _item(folder: Folder, attr: FetchAttr, raw: Callable[[int], bytes]) -> tuple[bytes, Value]:
    """(format piece, value) of one item. Pieces are constants (labels, which quote
    client text, travel as values), so a ``%`` from the client never reaches a format."""
    name = attr.name
    if name == "UID":
        return b"UID %d", int  # the value is the UID itself
    if name == "FLAGS":
        return b"FLAGS %b", _flags_bytes(folder)
    if name == "INTERNALDATE":
        return b"INTERNALDATE %b", folder.internaldate_imap
    if name == "RFC822.SIZE":
        return b"RFC822.SIZE %d", folder.size
    if name == "MODSEQ":
        return b"MODSEQ (%d)", folder.modseq
    if name == "ENVELOPE":
        return b"ENVELOPE %b", lambda uid: _bytes(render.envelope(raw(uid)))
    if name == "BODYSTRUCTURE":
        return b"BODYSTRUCTURE %b", lambda uid: _bytes(render.bodystructure(raw(uid), True))
    if name == "BODY" and attr.section is None:
        return b"BODY %b", lambda uid: _bytes(render.bodystructure(raw(uid), False))
    if name in ("BODY", "RFC822", "RFC822.HEADER", "RFC822.TEXT"):
        return b"%b", _section(folder, attr, raw)
    raise ProtocolError(f"FETCH: {name} is not supported by this server")


# What Dovecot 2.3 answers for the content of a message expunged by another session that
# this one was not told of yet (with a tagged OK [EXPUNGEISSUED]).
_GONE_CONTENT: dict[str, bytes] = {
    "INTERNALDATE": b'INTERNALDATE "01-Jan-1970 00:00:00 +0000"',
    "RFC822.SIZE": b"RFC822.SIZE 0",
    "ENVELOPE": b"ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
    "BODYSTRUCTURE": b'BODYSTRUCTURE ("text" "plain" NIL NIL NIL "7bit" 0 0)',
}


def _gone_line(attrs: tuple[FetchAttr, ...], seq: int, uid: int,
               gone: GoneMessage) -> tuple[bytes, bool]:
    """The FETCH line of a message expunged elsewhere (the view keeps its UID, flags and
    MODSEQ) and whether content was asked for, which is lost."""
    pieces: list[bytes] = []
    lost = False
    for attr in attrs:
        name = attr.name
        if name == "UID":
            pieces.append(b"UID %d" % uid)
        elif name == "FLAGS":
            pieces.append(b"FLAGS " + r.flag_list(gone.flags))
        elif name == "MODSEQ":
            pieces.append(b"MODSEQ (%d)" % gone.modseq)
        else:
            lost = True
            if name == "BODY" and attr.section is None:
                pieces.append(b'BODY ("text" "plain" NIL NIL NIL "7bit" 0 0)')
            else:
                pieces.append(_GONE_CONTENT.get(name) or attr.label.encode() + b" NIL")
    return b"* %d FETCH (%b)\r\n" % (seq, b" ".join(pieces)), lost


def _compile(s: ImapSession, folder: Folder,
             attrs: tuple[FetchAttr, ...]) -> tuple[bytes, list[Value]]:
    """The line's format (``seq`` first) and one value function per item, built once
    per command: per message there is one list of values and one ``%``."""
    raw = _raw_once(folder)
    pieces: list[bytes] = []
    values: list[Value] = []
    for attr in attrs:
        if attr.name == "MODSEQ":
            if not s.caps.condstore:
                raise ProtocolError("FETCH: MODSEQ needs CONDSTORE, which is not supported")
            s.condstore_active = True
        piece, value = _item(folder, attr, raw)
        if attr.name == "FLAGS" and s.view is not None and s.view.recent:
            value = _with_recent(folder, s.view.recent, value)
        pieces.append(piece)
        values.append(value)
    return b"* %d FETCH (" + b" ".join(pieces) + b")\r\n", values


def fetch(s: ImapSession, c: Command) -> Steps:
    args = c.args
    assert isinstance(args, FetchArgs) and s.view is not None
    view = s.view
    folder = view.folder
    attrs = args.attrs
    names = {a.name for a in attrs}
    if args.changed_since is not None:
        if not s.caps.condstore:
            raise ProtocolError("FETCH: CHANGEDSINCE needs CONDSTORE, which is not supported")
        if "MODSEQ" not in names:
            attrs = (*attrs, FetchAttr("MODSEQ"))
    if args.vanished and not (c.uid and s.qresync and args.changed_since is not None):
        raise ProtocolError("FETCH: VANISHED needs UID FETCH, ENABLE QRESYNC and CHANGEDSINCE")
    if c.uid and "UID" not in names:
        attrs = (FetchAttr("UID"), *attrs)
    sets_seen = not view.readonly and any(a.sets_seen for a in attrs)
    if sets_seen and "FLAGS" not in names:
        attrs = (*attrs, FetchAttr("FLAGS"))
    template, values = _compile(s, folder, attrs)
    if args.vanished and args.changed_since is not None:
        highest = folder.uidnext - 1
        gone = [u for u in folder.expunged_since(args.changed_since)
                if args.sequence.contains(u, highest)]
        if gone:
            yield r.untagged(f"VANISHED (EARLIER) {r.uid_set(sorted(set(gone)))}")
    changed_since = args.changed_since
    modseq_of = folder.modseq
    present = folder.seq_of
    stamp = folder.highestmodseq  # any expunge bumps it: only then check presence
    # Flags fetched now need no separate update for a change made elsewhere.
    reported = view.flag_changes if any(a.name == "FLAGS" for a in attrs) else None
    kept = view.gone  # expunged elsewhere, not yet told: kept addressable (view.py)
    issued = False
    buf: list[bytes] = []
    size = 0
    for seq, uid in view.select(args.sequence, uid=c.uid):
        if kept and uid in kept:
            if args.vanished or (changed_since is not None
                                 and kept[uid].modseq <= changed_since):
                continue  # under VANISHED, VANISHED (EARLIER) above named it
            line, lost = _gone_line(attrs, seq, uid, kept[uid])
            issued = issued or lost
            buf.append(line)
            continue
        if changed_since is not None and modseq_of(uid) <= changed_since:
            continue
        if folder.highestmodseq != stamp and present(uid) is None:
            continue  # expunged while we streamed, by a session this one never knew of
        seen_now = sets_seen and "\\Seen" not in folder.flags(uid)
        if seen_now:
            view.muted = True
            try:
                folder.store([uid], "+", ("\\Seen",))
            finally:
                view.muted = False
        if reported:
            reported.discard(uid)
        line = template % (seq, *[value(uid) for value in values])
        if seen_now and s.condstore_active and "MODSEQ" not in names:
            # RFC 7162 3.2: the implicit \Seen changed the MODSEQ; say so (Dovecot does)
            line += b"* %d FETCH (MODSEQ (%d))\r\n" % (seq, folder.modseq(uid))
        buf.append(line)
        size += len(line)
        if size >= CHUNK:
            yield b"".join(buf)
            buf.clear()
            size = 0
    if buf:
        yield b"".join(buf)
    if issued:
        return Done("Some messages were already expunged", "EXPUNGEISSUED")
    return Done("FETCH completed")
