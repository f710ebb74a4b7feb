"""FETCH / UID FETCH: the hot path (100k messages must stream within 2x of Dovecot).

The attribute list is compiled once per command into a tuple of small functions, each
``(uid, raw) -> bytes``; each message's line is one bytes join. Output is yielded in
~256 KiB chunks so the shell writes and drains between them and memory stays flat.
HEADER.FIELDS of a top-level message uses the store's fast path and never builds
the message.
"""

from __future__ import annotations

from collections.abc import Callable

from fakeserver import render
from fakeserver.errors import ProtocolError
from fakeserver.imap import responses as r
from fakeserver.imap.commands import Command, FetchArgs, FetchAttr
from fakeserver.imap.session import Done, ImapSession, Steps
from fakeserver.store import Folder

CHUNK = 256 * 1024
Renderer = Callable[[int, bytes], bytes]
_HEADER_CUTS = ("HEADER.FIELDS", "HEADER.FIELDS.NOT")


def _needs_raw(attr: FetchAttr) -> bool:
    """Whether an item needs the whole message (the store's fast paths do not)."""
    if attr.name in ("ENVELOPE", "BODYSTRUCTURE", "RFC822", "RFC822.TEXT", "RFC822.HEADER"):
        return True
    if attr.name != "BODY":
        return False
    section = attr.section
    return section is None or bool(section.part) or section.text not in _HEADER_CUTS


def _flags_bytes(folder: Folder) -> Callable[[int], bytes]:
    cache: dict[frozenset[str], bytes] = {}

    def render_flags(uid: int) -> bytes:
        flags = folder.flags(uid)
        out = cache.get(flags)
        if out is None:
            out = cache[flags] = b"FLAGS " + r.flag_list(flags)
        return out

    return render_flags


def _section_renderer(folder: Folder, attr: FetchAttr) -> Renderer:
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
            return lambda uid, raw: cut(raw)
        return lambda uid, raw: cut(_bytes(render.section(raw, (), text, ())))
    if not section.part and section.text in _HEADER_CUTS:
        fields = section.fields
        negate = section.text == "HEADER.FIELDS.NOT"
        header_fields = folder.header_fields
        return lambda uid, raw: cut(header_fields(uid, fields, negate))
    part, text, fields = section.part, section.text, section.fields
    return lambda uid, raw: cut(_bytes(render.section(raw, part, text, fields)))


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _simple(folder: Folder, name: str) -> Renderer | None:
    """Renderers for the items that read the store's per-message accessors."""
    if name == "UID":
        return lambda uid, raw: b"UID %d" % uid
    if name == "FLAGS":
        flags = _flags_bytes(folder)
        return lambda uid, raw: flags(uid)
    if name == "INTERNALDATE":
        date = folder.internaldate_imap
        return lambda uid, raw: b"INTERNALDATE " + date(uid)
    if name == "RFC822.SIZE":
        size = folder.size
        return lambda uid, raw: b"RFC822.SIZE %d" % size(uid)
    if name == "MODSEQ":
        modseq = folder.modseq
        return lambda uid, raw: b"MODSEQ (%d)" % modseq(uid)
    if name == "ENVELOPE":
        return lambda uid, raw: b"ENVELOPE " + _bytes(render.envelope(raw))
    if name == "BODYSTRUCTURE":
        return lambda uid, raw: b"BODYSTRUCTURE " + _bytes(render.bodystructure(raw, True))
    return None


def _compile(s: ImapSession, folder: Folder, attrs: tuple[FetchAttr, ...]) -> list[Renderer]:
    out: list[Renderer] = []
    for attr in attrs:
        name = attr.name
        if name == "MODSEQ":
            if not s.caps.condstore:
                raise ProtocolError("FETCH: MODSEQ needs CONDSTORE, which is not supported")
            s.condstore_active = True
        simple = _simple(folder, name)
        if simple is not None:
            out.append(simple)
        elif name == "BODY" and attr.section is None:
            out.append(lambda uid, raw: b"BODY " + _bytes(render.bodystructure(raw, False)))
        elif name in ("BODY", "RFC822", "RFC822.HEADER", "RFC822.TEXT"):
            out.append(_section_renderer(folder, attr))
        else:
            raise ProtocolError(f"FETCH: {name} is not supported by this server")
    return out


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
    renderers = _compile(s, folder, attrs)
    needs_raw = any(_needs_raw(a) for a in attrs)
    if args.vanished and args.changed_since is not None:
        highest = folder.uidnext - 1
        gone = [u for u in folder.expunged_since(args.changed_since)
                if args.sequence.contains(u, highest)]
        if gone:
            yield r.untagged(f"VANISHED (EARLIER) {r.uid_set(sorted(set(gone)))}")
    changed_since = args.changed_since
    modseq_of = folder.modseq
    raw_of = folder.raw
    present = folder.seq_of
    stamp = folder.highestmodseq  # any expunge bumps it: only then check presence
    # Flags fetched now need no separate update for a change made elsewhere.
    reported = view.flag_changes if any(a.name == "FLAGS" for a in attrs) else None
    buf: list[bytes] = []
    size = 0
    for seq, uid in view.select(args.sequence, uid=c.uid):
        if changed_since is not None and modseq_of(uid) <= changed_since:
            continue
        if folder.highestmodseq != stamp and present(uid) is None:
            continue  # expunged by another session while we streamed
        if sets_seen and "\\Seen" not in folder.flags(uid):
            view.muted = True
            try:
                folder.store([uid], "+", ("\\Seen",))
            finally:
                view.muted = False
        if reported:
            reported.discard(uid)
        raw = raw_of(uid) if needs_raw else b""
        line = b"* %d FETCH (%b)\r\n" % (seq, b" ".join([f(uid, raw) for f in renderers]))
        buf.append(line)
        size += len(line)
        if size >= CHUNK:
            yield b"".join(buf)
            buf.clear()
            size = 0
    if buf:
        yield b"".join(buf)
    return Done("FETCH completed")
