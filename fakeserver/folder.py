"""One mailbox of the fake IMAP server (re-exported by :mod:`fakeserver.store`).

Memory is the design constraint: a generated folder may hold a million messages, so
there is no Python object per message. Present UIDs live in one sorted
``array('I')`` (sequence number n is ``uids[n-1]``, UID -> sequence by bisection);
a generated message's flags, size, dates and bytes are computed from its index by
:mod:`fakeserver.generate`; only *changes* cost memory: flag and modseq overrides,
the expunge log, and appended messages (real bytes). One event loop, no locks.

Other sessions learn about changes through :meth:`Folder.subscribe`: every mutation
emits frozen events (:class:`Exists`, :class:`Expunged`, :class:`FlagsChanged`,
:class:`UidValidityChanged`) that the IMAP session turns into untagged responses.

``\\Recent`` is not tracked: :meth:`Folder.recent` is always 0 and no message ever
carries ``\\Recent`` (RFC 9051 dropped it; RFC 3501 allows a server to report 0).
"""

from __future__ import annotations

import logging
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from email.header import decode_header, make_header

from fakeserver import generate, render
from fakeserver.errors import CommandFailed
from fakeserver.events import (
    AppendedMessage,
    Exists,
    Expunged,
    FlagsChanged,
    FolderEvent,
    UidValidityChanged,
)
from fakeserver.generate import FLAG_SETS, GenSpec

__all__ = [
    "AppendedMessage",
    "Exists",
    "Expunged",
    "FlagsChanged",
    "Folder",
    "FolderEvent",
    "UidValidityChanged",
]

log = logging.getLogger(__name__)

_NOT_GENERATED = 0xFFFFFFFF
_SEEN, _DELETED, _RECENT = "\\Seen", "\\Deleted", "\\Recent"
SYSTEM_FLAGS: frozenset[str] = frozenset(
    {"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"}
)
Clock = Callable[[], datetime]
_Generated = tuple[generate.Generator, int]  # a generated message: (generator, index)
# flag code (generate.FLAG_SETS index) -> 1 when the set lacks \\Seen (bit 0)
_UNSEEN_TABLE = bytes(0 if code & 1 else 1 for code in range(256))


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Folder:
    """One mailbox. UIDs passed to accessors must be present (or freshly expunged).

    Use :meth:`generated` for a folder backed by a :class:`GenSpec`; explicit messages
    arrive through :meth:`append`.
    """

    def __init__(
        self,
        name: str,
        *,
        uidvalidity: int = 1,
        special_use: Iterable[str] = (),
        subscribed: bool = True,
        clock: Clock = _now,
    ) -> None:
        self.name = name
        self.special_use = frozenset(special_use)
        self.subscribed = subscribed
        self.uidvalidity = uidvalidity
        self.uidnext = 1
        self.highestmodseq = 1
        self._clock = clock
        self._gen: generate.Generator | None = None
        self._gen_count = 0
        self._uids = array("I")
        self._gen_of: array[int] | None = None  # None: generated index is uid - 1
        self._codes: bytearray | None = None  # default flag codes, computed on first need
        # appended messages (real bytes) and copies of generated ones (kept virtual)
        self._appended: dict[int, AppendedMessage | _Generated] = {}
        self._flags: dict[int, frozenset[str]] = {}
        self._modseq: dict[int, int] = {}
        self._exp_modseq = array("Q")
        self._exp_uid = array("I")
        self._keywords: set[str] = set()
        self._field_sets: dict[tuple[str, ...], frozenset[str]] = {}
        self._last_fields: tuple[object, frozenset[str]] = (None, frozenset())
        self._subscribers: list[Callable[[FolderEvent], None]] = []

    @classmethod
    def generated(
        cls,
        name: str,
        spec: GenSpec,
        *,
        uidvalidity: int = 1,
        special_use: Iterable[str] = (),
        subscribed: bool = True,
        clock: Clock = _now,
    ) -> Folder:
        """A folder holding ``spec.count`` generated messages with UIDs 1..count."""
        folder = cls(
            name,
            uidvalidity=uidvalidity,
            special_use=special_use,
            subscribed=subscribed,
            clock=clock,
        )
        folder.fill_generated(spec)
        return folder

    def fill_generated(self, spec: GenSpec) -> None:
        """Make this empty folder hold ``spec``'s messages (UIDs 1..count)."""
        if self._uids or self._gen is not None or self.uidnext != 1:
            raise ValueError(f"folder {self.name!r} is not empty")
        self._gen = generate.generator(spec)
        self._gen_count = spec.count
        self._uids = array("I", range(1, spec.count + 1))
        self.uidnext = spec.count + 1

    def __repr__(self) -> str:
        return f"Folder({self.name!r}, exists={len(self)}, uidvalidity={self.uidvalidity})"

    # -- numbering -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._uids)

    def uid_at(self, seq: int) -> int:
        """UID of 1-based sequence number ``seq``; IndexError when out of range."""
        if not 1 <= seq <= len(self._uids):
            raise IndexError(f"sequence number {seq} out of range 1..{len(self._uids)}")
        return self._uids[seq - 1]

    def seq_of(self, uid: int) -> int | None:
        i = bisect_left(self._uids, uid)
        if i < len(self._uids) and self._uids[i] == uid:
            return i + 1
        return None

    def uids(self) -> array[int]:
        """A snapshot of the present UIDs in sequence order (a copy: safe to keep)."""
        return self._uids[:]

    def uids_between(self, lo: int, hi: int) -> array[int]:
        """Present UIDs in ``lo..hi`` inclusive (UID set ranges without scanning)."""
        return self._uids[bisect_left(self._uids, lo) : bisect_right(self._uids, hi)]

    def max_uid(self) -> int:
        """The largest present UID, or 0 (``*`` in a UID set)."""
        return self._uids[-1] if self._uids else 0

    # -- per-message accessors -----------------------------------------------------

    def _gen_index(self, uid: int) -> int:
        """Generated-message index of ``uid``, or -1 for an appended message."""
        gen_of = self._gen_of
        if gen_of is None:  # UIDs 1..count are generated, later ones appended
            return uid - 1 if 0 < uid <= self._gen_count else -1
        if uid < len(gen_of):
            index = gen_of[uid]
            return -1 if index == _NOT_GENERATED else index
        return -1

    def _source(self, uid: int) -> AppendedMessage | _Generated:
        """Where message ``uid`` comes from: real bytes, or (generator, index)."""
        index = self._gen_index(uid)
        if index >= 0:
            assert self._gen is not None
            return self._gen, index
        try:
            return self._appended[uid]
        except KeyError:
            raise KeyError(f"no message with UID {uid} in {self.name!r}") from None

    def flags(self, uid: int) -> frozenset[str]:
        found = self._flags.get(uid)
        if found is not None:
            return found
        # inline _gen_index for the common case (hot: FETCH FLAGS of a whole folder)
        index = uid - 1 if self._gen_of is None and 0 < uid <= self._gen_count else -2
        if index == -2:
            index = self._gen_index(uid)
        if index < 0:
            return frozenset()
        codes = self._codes
        if codes is None:
            assert self._gen is not None
            codes = self._codes = self._gen.flag_codes()
        return FLAG_SETS[codes[index]]

    def modseq(self, uid: int) -> int:
        return self._modseq.get(uid, 1)

    def internaldate(self, uid: int) -> datetime:
        gen = self._gen
        if gen is not None and self._gen_of is None and 0 < uid <= self._gen_count:
            return gen.internaldate(uid - 1)
        src = self._source(uid)
        if isinstance(src, AppendedMessage):
            return src.internaldate
        return src[0].internaldate(src[1])

    def size(self, uid: int) -> int:
        gen = self._gen
        if gen is not None and self._gen_of is None and 0 < uid <= self._gen_count:
            return gen.size(uid - 1)
        src = self._source(uid)
        if isinstance(src, AppendedMessage):
            return len(src.raw)
        return src[0].size(src[1])

    def raw(self, uid: int) -> bytes:
        src = self._source(uid)
        if isinstance(src, AppendedMessage):
            return src.raw
        return src[0].message(src[1])

    def header_fields(self, uid: int, fields: Sequence[str], negate: bool = False) -> bytes:
        """``BODY[HEADER.FIELDS (fields)]`` (``.NOT`` when ``negate``), blank line included.

        Generated messages take the fast path (only header lines are rendered); the
        result is byte-identical to cutting the fields out of :meth:`raw`.
        """
        last = self._last_fields  # FETCH passes the same tuple for every message
        if last[0] is fields:
            wanted = last[1]
        else:
            key = fields if isinstance(fields, tuple) else tuple(fields)
            found = self._field_sets.get(key)
            if found is None:
                found = frozenset(f.lower() for f in fields)
                if len(self._field_sets) < 64:
                    self._field_sets[key] = found
            wanted = found
            if isinstance(fields, tuple):  # immutable: safe to recognise by identity
                self._last_fields = (fields, wanted)
        gen = self._gen
        if gen is not None and self._gen_of is None and 0 < uid <= self._gen_count:
            return gen.header_fields(uid - 1, wanted, negate)
        src = self._source(uid)
        if isinstance(src, AppendedMessage):
            return render.header_fields(src.raw, wanted, negate)
        return src[0].header_fields(src[1], wanted, negate)

    def headers(self, uid: int) -> Mapping[str, tuple[str, ...]]:
        """Top-level header values by lowercase name, unfolded and RFC 2047-decoded.

        What SEARCH FROM/SUBJECT/HEADER compare against (linear, not a fast path).
        """
        src = self._source(uid)
        if isinstance(src, AppendedMessage):
            pairs = render.header_pairs(src.raw)
        else:
            pairs = src[0].headers(src[1])
        out: dict[str, list[str]] = {}
        for name, value in pairs:
            out.setdefault(name.lower(), []).append(_decode(value))
        return {k: tuple(v) for k, v in out.items()}

    def keywords(self) -> frozenset[str]:
        """Keywords (non-system flags) ever set in this folder, for the FLAGS response."""
        return frozenset(self._keywords)

    def recent(self) -> int:
        return 0

    def _default_unseen(self) -> bytearray | None:
        """One byte per generated message, 1 where its default flags lack ``\\Seen``;
        None when UIDs were renumbered (then callers take the linear path)."""
        if self._gen is None or self._gen_of is not None:
            return None
        if self._codes is None:
            self._codes = self._gen.flag_codes()
        return self._codes.translate(_UNSEEN_TABLE)

    def unseen(self) -> int:
        """Messages without ``\\Seen`` (STATUS UNSEEN).

        Counted from the default-flag table in C, then corrected for what changed
        (expunges, overrides, appends): cheap on a million messages.
        """
        marks = self._default_unseen()
        if marks is None:
            return sum(1 for uid in self._uids if _SEEN not in self.flags(uid))
        count = self._gen_count
        total = marks.count(1)
        total -= sum(marks[uid - 1] for uid in set(self._exp_uid) if uid <= count)
        for uid, flags in self._flags.items():  # present messages only
            if uid <= count:
                total -= marks[uid - 1]
            total += _SEEN not in flags
        return total

    def first_unseen(self) -> int | None:
        """Sequence number of the first message without ``\\Seen`` (SELECT's [UNSEEN n])."""
        marks = self._default_unseen()
        if marks is None:
            for seq, uid in enumerate(self._uids, 1):
                if _SEEN not in self.flags(uid):
                    return seq
            return None
        best = min((u for u, f in self._flags.items() if _SEEN not in f), default=None)
        pos = marks.find(1)
        while pos >= 0 and (best is None or pos + 1 < best):
            uid = pos + 1
            if uid not in self._flags and self.seq_of(uid) is not None:
                best = uid
                break
            pos = marks.find(1, pos + 1)
        return None if best is None else self.seq_of(best)

    # -- mutations ---------------------------------------------------------------

    def _bump(self) -> int:
        self.highestmodseq += 1
        return self.highestmodseq

    def append(
        self, raw: bytes, flags: Iterable[str] = (), internaldate: datetime | None = None
    ) -> int:
        """Add a message; returns its UID. Emits :class:`Exists`."""
        uid = self._add(raw, flags, internaldate)
        self._emit(Exists(len(self._uids)))
        return uid

    def _add(self, raw: bytes, flags: Iterable[str], internaldate: datetime | None) -> int:
        if not isinstance(raw, bytes | bytearray):
            raise TypeError(f"message must be bytes, got {type(raw).__name__}")
        if len(raw) >= 2**32:
            raise CommandFailed("Message too large", code="TOOBIG")
        if internaldate is None:
            internaldate = self._clock()
        elif internaldate.tzinfo is None:
            raise ValueError("internaldate must be timezone-aware")
        return self._add_source(AppendedMessage(bytes(raw), internaldate), flags)

    def _add_source(self, source: AppendedMessage | _Generated, flags: Iterable[str]) -> int:
        if self.uidnext >= _NOT_GENERATED:
            raise CommandFailed("UID space exhausted", code="LIMIT")
        uid = self.uidnext
        self.uidnext += 1
        self._uids.append(uid)
        self._appended[uid] = source
        self._flags[uid] = self._clean_flags(flags)
        self._modseq[uid] = self._bump()
        return uid

    def _clean_flags(self, flags: Iterable[str]) -> frozenset[str]:
        out = frozenset(f for f in flags if f != _RECENT)
        self._keywords.update(f for f in out if not f.startswith("\\"))
        return out

    def copy_to(self, uids: Iterable[int], dest: Folder) -> list[tuple[int, int]]:
        """Copy present ``uids`` into ``dest`` (flags and INTERNALDATE kept).

        Copies of generated messages stay virtual (a reference to their generator), so
        moving 100k generated messages costs no message bytes. Returns (source uid,
        new uid) pairs for COPYUID; one :class:`Exists` in ``dest``.
        """
        pairs = []
        for uid in uids:
            if self.seq_of(uid) is None:
                continue
            pairs.append((uid, dest._add_source(self._source(uid), self.flags(uid))))
        if pairs:
            dest._emit(Exists(len(dest._uids)))
        return pairs

    def store(
        self,
        uids: Iterable[int],
        mode: str,
        flags: Iterable[str],
        unchangedsince: int | None = None,
    ) -> tuple[list[int], list[int]]:
        """Change flags: ``mode`` is "+", "-" or "=".

        Returns (uids whose flags changed, uids refused because their modseq is above
        ``unchangedsince`` — the RFC 7162 [MODIFIED] set). All changes of one call share
        one new modseq. Absent UIDs are ignored.
        """
        if mode not in ("+", "-", "="):
            raise ValueError(f"store mode must be '+', '-' or '=', got {mode!r}")
        given = self._clean_flags(flags)
        changed: list[int] = []
        modified: list[int] = []
        modseq = 0
        for uid in uids:
            if self.seq_of(uid) is None:
                continue
            if unchangedsince is not None and self.modseq(uid) > unchangedsince:
                modified.append(uid)
                continue
            old = self.flags(uid)
            new = old | given if mode == "+" else old - given if mode == "-" else given
            if new == old:
                continue
            if not modseq:
                modseq = self._bump()
            self._flags[uid] = new
            self._modseq[uid] = modseq
            changed.append(uid)
        for uid in changed:
            self._emit(FlagsChanged(uid, self._flags[uid], modseq))
        return changed, modified

    def expunge(self, uids: Iterable[int] | None = None) -> list[tuple[int, int]]:
        """Remove ``\\Deleted`` messages (only those in ``uids`` when given: UID EXPUNGE).

        Returns (seq, uid) in the order removed, each seq valid at its moment.
        """
        if uids is None:
            candidates: Iterable[int] = [u for u, f in self._flags.items() if _DELETED in f]
        else:
            candidates = [u for u in uids if _DELETED in self._flags.get(u, ())]
        return self.remove(candidates)

    def remove(self, uids: Iterable[int]) -> list[tuple[int, int]]:
        """Remove messages whatever their flags (MOVE, scenario faults). See :meth:`expunge`."""
        positions = sorted({p for p in (self.seq_of(u) for u in uids) if p is not None})
        if not positions:
            return []
        modseq = self._bump()
        removed = []
        kept = array("I")
        start = 0
        for shift, seq in enumerate(positions):
            uid = self._uids[seq - 1]
            kept.extend(self._uids[start : seq - 1])
            start = seq
            removed.append((seq - shift, uid))
            self._appended.pop(uid, None)
            self._flags.pop(uid, None)
            self._modseq.pop(uid, None)
            self._exp_modseq.append(modseq)
            self._exp_uid.append(uid)
        kept.extend(self._uids[start:])
        self._uids = kept
        for seq, uid in removed:
            self._emit(Expunged(seq, uid, modseq))
        return removed

    def reset_uidvalidity(self, uidvalidity: int | None = None) -> None:
        """Renumber the messages 1..n under a new UIDVALIDITY (a scenario fault)."""
        self.uidvalidity = uidvalidity if uidvalidity is not None else self.uidvalidity + 1
        gen_of = array("I", [_NOT_GENERATED])
        appended, flags, modseqs = {}, {}, {}
        for new, old in enumerate(self._uids, 1):
            gen_of.append(self._gen_index(old) & 0xFFFFFFFF)
            if old in self._appended:
                appended[new] = self._appended[old]
            if old in self._flags:
                flags[new] = self._flags[old]
            if old in self._modseq:
                modseqs[new] = self._modseq[old]
        self._gen_of = gen_of if self._gen is not None else None
        self._appended, self._flags, self._modseq = appended, flags, modseqs
        self._uids = array("I", range(1, len(self._uids) + 1))
        self.uidnext = len(self._uids) + 1
        self._exp_modseq, self._exp_uid = array("Q"), array("I")
        self._emit(UidValidityChanged(self.uidvalidity))

    # -- CONDSTORE / QRESYNC -----------------------------------------------------

    def changed_since(self, modseq: int) -> list[int]:
        """Present UIDs whose modseq is above ``modseq``, ascending."""
        if modseq < 1:
            return list(self._uids)
        return sorted(u for u, m in self._modseq.items() if m > modseq)

    def expunged_since(self, modseq: int) -> list[int]:
        """UIDs expunged at a modseq above ``modseq`` (QRESYNC VANISHED), ascending."""
        start = bisect_right(self._exp_modseq, modseq)
        return sorted(set(self._exp_uid[start:]))

    # -- change notification -----------------------------------------------------

    def subscribe(self, callback: Callable[[FolderEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` after every change; returns the unsubscribe function."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, event: FolderEvent) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # one broken session must not break the others
                log.exception("folder %r subscriber failed on %r", self.name, event)


def _decode(value: str) -> str:
    unfolded = value.replace("\r\n", "")
    if "=?" not in unfolded:
        return unfolded
    try:
        return str(make_header(decode_header(unfolded)))
    except Exception:  # malformed encoded words: search the raw text
        return unfolded
