"""SEARCH / UID SEARCH: plan the key tree (:mod:`.search_plan`), test each leaf per message.

Fast paths: a top-level UID set narrows the candidates by bisection before anything
else runs (``UID SEARCH UID 90000:*`` on 100k messages touches only the tail); ALL and
flag keys read the store's O(1) accessors; HEADER keys read only their fields, once per
message for all the OR-ed needles of a leaf (needles lowercased once per command).
HEADER/BODY/TEXT stay linear, as in a real server without a full-text index.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Iterator
from datetime import date

from inboxlab.fakeserver import search_address, search_text
from inboxlab.fakeserver.errors import CommandFailed, ProtocolError
from inboxlab.fakeserver.imap import responses as r
from inboxlab.fakeserver.imap.handlers import search_plan as sp
from inboxlab.fakeserver.imap.session import Done, ImapSession, Steps
from inboxlab.fakeserver.imap.syntax import search_keys as sk
from inboxlab.fakeserver.imap.syntax.commands import Command
from inboxlab.fakeserver.imap.view import MailboxView
from inboxlab.fakeserver.store import Folder

Predicate = Callable[[int, int], bool]  # (seq, uid) -> matches
# Leaves a server answers from its index (flags, numbers, MODSEQ): they still see a
# message expunged elsewhere that this session was not told of; the others need content.
_INDEX_LEAVES = (sk.All, sk.Flag, sk.UidSet, sk.SeqSet, sk.ModSeq)
_CHARSETS = (None, "US-ASCII", "UTF-8")
_DATE_FIELD = frozenset({"date"})


def _sent_date(folder: Folder, uid: int) -> date | None:
    values = folder.header_values(uid, _DATE_FIELD).get("date")
    if not values:
        return None
    try:
        return email.utils.parsedate_to_datetime(values[0]).date()
    except (TypeError, ValueError, IndexError):
        return None


def _compare(op: str, got: date | None, want: date) -> bool:
    if got is None:
        return False
    if op == "SINCE":
        return got >= want
    if op == "BEFORE":
        return got < want
    return got == want


def _header_test(folder: Folder, leaf: sp.HeaderAny) -> Predicate:
    """Decoded values (RFC 2047) of the leaf's fields, read once per message; address
    keys (FROM/TO/CC/BCC) look in each parsed address (fakeserver/search_address.py)."""
    names = frozenset(name for name, _ in leaf.fields)
    fields = leaf.fields
    address_names = frozenset(name for name, _ in leaf.addresses)
    address_fields = leaf.addresses

    def header(seq: int, uid: int) -> bool:
        if fields:
            values = folder.header_values(uid, names)
            for name, needles in fields:
                for value in values.get(name, ()):
                    if any(map(value.lower().__contains__, needles)):
                        return True
        if address_fields:
            raw = folder.header_values(uid, address_names, decoded=False)
            for name, needles in address_fields:
                for value in raw.get(name, ()):
                    for item in search_address.address_items(value):
                        if any(map(item.lower().__contains__, needles)):
                            return True
        return False

    return header


def leaf_test(view: MailboxView, key: sp.Leaf) -> Predicate:
    folder = view.folder
    if isinstance(key, sp.HeaderAny):
        return _header_test(folder, key)
    if isinstance(key, sk.All):
        return lambda seq, uid: True
    if isinstance(key, sk.Flag):
        flag, present = key.flag, key.present
        if flag.lower() == "\\recent":
            recent = view.recent
            return lambda seq, uid: (uid in recent) is present
        flags_of = view.flags_of if view.gone else folder.flags
        return lambda seq, uid: (flag in flags_of(uid)) is present
    if isinstance(key, sk.Text):  # decoded as Dovecot does: fakeserver/search_text.py
        needle = key.value.lower()
        extract = search_text.body_text if key.where == "BODY" else search_text.full_text
        return lambda seq, uid: needle in extract(folder.raw(uid))
    if isinstance(key, sk.Date):
        op, want = key.op, key.date
        if key.sent:
            return lambda seq, uid: _compare(op, _sent_date(folder, uid), want)
        return lambda seq, uid: _compare(op, folder.internaldate(uid).date(), want)
    if isinstance(key, sk.Size):
        limit = key.size
        if key.op == "LARGER":
            return lambda seq, uid: folder.size(uid) > limit
        return lambda seq, uid: folder.size(uid) < limit
    if isinstance(key, sk.UidSet):
        uidset, highest = key.uids, view.highest_uid()
        return lambda seq, uid: uidset.contains(uid, highest)
    if isinstance(key, sk.SeqSet):
        seqs, exists = key.sequence, view.exists
        return lambda seq, uid: seqs.contains(seq, exists)
    if isinstance(key, sk.ModSeq):
        floor = key.modseq
        modseq_of = view.modseq_of if view.gone else folder.modseq
        return lambda seq, uid: modseq_of(uid) >= floor
    raise ProtocolError(f"SEARCH: unsupported key {type(key).__name__}")


def _uses_modseq(s: ImapSession, plan: sp.Plan) -> bool:
    """Whether MODSEQ is searched (then CONDSTORE is on; refused without it)."""
    if not any(isinstance(leaf, sk.ModSeq) for leaf in sp.leaves(plan)):
        return False
    if not s.caps.condstore:
        raise ProtocolError("SEARCH: MODSEQ needs CONDSTORE, which is not supported")
    s.condstore_active = True
    return True


def _candidates(view: MailboxView, key: sk.SearchKey) -> Iterator[tuple[int, int]]:
    """Narrow by a top-level UID set when there is one; else every message."""
    keys = key.keys if isinstance(key, sk.And) else (key,)
    for k in keys:
        if isinstance(k, sk.UidSet):
            return view.by_uid(k.uids)
    return view.all_pairs()


def _tests(view: MailboxView, issued: list[int]) -> Callable[[sp.Leaf], Predicate]:
    """Each leaf's test. With messages expunged elsewhere in view, a content leaf finds
    none of them and notes it in ``issued`` (Dovecot: OK [EXPUNGEISSUED])."""
    gone = view.gone

    def test_for(leaf: sp.Leaf) -> Predicate:
        test = leaf_test(view, leaf)
        if not gone or isinstance(leaf, _INDEX_LEAVES):
            return test

        def content(seq: int, uid: int) -> bool:
            if uid in gone:
                issued.append(uid)
                return False
            return test(seq, uid)

        return content

    return test_for


def matching(s: ImapSession, args: sk.SearchArgs,
             ) -> tuple[list[tuple[int, int]], list[int], bool]:
    """The (seq, uid) pairs ``args`` finds, the UIDs expunged elsewhere it could not
    read (EXPUNGEISSUED), and whether MODSEQ was searched (SEARCH, SORT, THREAD)."""
    assert s.view is not None
    view = s.view
    if (args.charset.upper() if args.charset else None) not in _CHARSETS:
        raise CommandFailed(f"Unsupported charset {args.charset}",
                            code="BADCHARSET (US-ASCII UTF-8)")
    plan = sp.make_plan(args.key)
    uses_modseq = _uses_modseq(s, plan)
    issued: list[int] = []
    found = sp.run(plan, list(_candidates(view, args.key)), _tests(view, issued))
    return found, issued, uses_modseq


def search(s: ImapSession, c: Command) -> Steps:
    args = c.args
    assert isinstance(args, sk.SearchArgs) and s.view is not None
    view = s.view
    if args.returns is not None and not s.caps.esearch:
        raise ProtocolError("SEARCH RETURN needs ESEARCH, which is not supported")
    found, issued, uses_modseq = matching(s, args)
    numbers = [uid if c.uid else seq for seq, uid in found]
    done = Done("SEARCH completed", "EXPUNGEISSUED" if issued else None)
    # RFC 7162 3.1.5: with a MODSEQ criterion, the highest MODSEQ of what was found
    top = max(view.modseq_of(uid) for _seq, uid in found) if uses_modseq and found else 0
    if args.returns is not None:
        yield _esearch(c, args.returns, numbers, top)
        return done
    tail = b""
    if top:
        tail = b" (MODSEQ %d)" % top
    body = b"".join(b" %d" % n for n in numbers)
    yield b"* SEARCH" + body + tail + r.CRLF
    return done


def _esearch(c: Command, returns: tuple[str, ...], numbers: list[int], modseq: int) -> bytes:
    """RFC 4731: ``* ESEARCH (TAG "A1") UID MIN 1 MAX 9 COUNT 3 ALL 1,4,9``."""
    wanted = returns or ("ALL",)
    parts = [f'* ESEARCH (TAG "{c.tag}")']
    if c.uid:
        parts.append("UID")
    if numbers:
        if "MIN" in wanted:
            parts.append(f"MIN {min(numbers)}")
        if "MAX" in wanted:
            parts.append(f"MAX {max(numbers)}")
    if "COUNT" in wanted:
        parts.append(f"COUNT {len(numbers)}")
    if "ALL" in wanted and numbers:
        parts.append(f"ALL {r.uid_set(sorted(numbers))}")
    if modseq:
        parts.append(f"MODSEQ {modseq}")  # RFC 4731 + RFC 7162 3.1.5
    return (" ".join(parts) + "\r\n").encode()
