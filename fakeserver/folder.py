"""One mailbox of the fake IMAP server (re-exported by :mod:`fakeserver.store`).

:class:`fakeserver.messages.Messages` holds the messages and answers reads with no
object per message; :class:`Folder` adds what changes them: append, copy, flag
stores, expunge, renumbering, and the modseq bookkeeping of CONDSTORE/QRESYNC. Only
changes cost memory. One event loop, no locks.

Other sessions learn about changes through :meth:`Folder.subscribe`: every mutation
emits frozen events (:class:`Exists`, :class:`Expunged`, :class:`FlagsChanged`,
:class:`UidValidityChanged`) that the IMAP session turns into untagged responses.

``\\Recent`` (RFC 3501 2.3.2): a message is recent in the first session that selects
the folder after it arrived, or that learns of it while selected; the folder only keeps
where the unclaimed UIDs start (:meth:`Folder.claim_recent`); each session's view keeps
the ones it claimed. Messages a folder starts with count as seen by an earlier session.
"""

from __future__ import annotations

import logging
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from inboxlab.fakeserver.errors import CommandFailed
from inboxlab.fakeserver.events import (
    AppendedMessage,
    Exists,
    Expunged,
    FlagsChanged,
    FolderEvent,
    UidValidityChanged,
)
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.messages import NOT_GENERATED, Generated, Messages

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

_DELETED, _RECENT = "\\Deleted", "\\Recent"
SYSTEM_FLAGS: frozenset[str] = frozenset(
    {"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"}
)
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Folder(Messages):
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
        clock: Clock = _now,
    ) -> None:
        super().__init__()
        self.name = name
        self.special_use = frozenset(special_use)
        self.uidvalidity = uidvalidity
        self.uidnext = 1
        self.highestmodseq = 1
        self._clock = clock
        self._keywords: set[str] = set()
        self._recent_from = 1  # UIDs from here on are recent for nobody yet
        self._subscribers: list[Callable[[FolderEvent], None]] = []

    @classmethod
    def generated(
        cls,
        name: str,
        spec: GenSpec,
        *,
        uidvalidity: int = 1,
        special_use: Iterable[str] = (),
        clock: Clock = _now,
    ) -> Folder:
        """A folder holding ``spec.count`` generated messages with UIDs 1..count."""
        folder = cls(
            name,
            uidvalidity=uidvalidity,
            special_use=special_use,
            clock=clock,
        )
        folder.fill_generated(spec)
        return folder

    def fill_generated(self, spec: GenSpec) -> None:
        """Make this empty folder hold ``spec``'s messages (UIDs 1..count)."""
        if self._uids or self._gen is not None or self.uidnext != 1:
            raise ValueError(f"folder {self.name!r} is not empty")
        self._fill(spec)
        self.uidnext = spec.count + 1
        self.settle_recent()

    def __repr__(self) -> str:
        return f"Folder({self.name!r}, exists={len(self)}, uidvalidity={self.uidvalidity})"

    def keywords(self) -> frozenset[str]:
        """Keywords (non-system flags) ever set in this folder, for the FLAGS response."""
        return frozenset(self._keywords)

    def keyword_count(self) -> int:
        """How many keywords the folder has known: it only grows, so a session compares
        it with the count it announced to see whether FLAGS must be sent again."""
        return len(self._keywords)

    def recent(self) -> int:
        """How many messages no session has claimed as recent yet (STATUS RECENT)."""
        return len(self._uids) - bisect_left(self._uids, self._recent_from)

    def claim_recent(self) -> range:
        """The UIDs that arrived since the last claim, now recent for the caller only."""
        claimed = range(self._recent_from, self.uidnext)
        self._recent_from = self.uidnext
        return claimed

    def settle_recent(self) -> None:
        """Treat every message so far as seen (a folder's starting contents)."""
        self._recent_from = self.uidnext

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

    def _add_source(self, source: AppendedMessage | Generated, flags: Iterable[str]) -> int:
        if self.uidnext >= NOT_GENERATED:
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
        last: list[tuple[frozenset[str], int]] = []  # each removed message's flags, modseq
        kept = array("I")
        start = 0
        for shift, seq in enumerate(positions):
            uid = self._uids[seq - 1]
            kept.extend(self._uids[start : seq - 1])
            start = seq
            removed.append((seq - shift, uid))
            last.append((self.flags(uid), self.modseq(uid)))
            self._appended.pop(uid, None)
            self._flags.pop(uid, None)
            self._modseq.pop(uid, None)
            self._exp_modseq.append(modseq)
            self._exp_uid.append(uid)
        kept.extend(self._uids[start:])
        self._uids = kept
        for (seq, uid), (flags, was) in zip(removed, last, strict=True):
            self._emit(Expunged(seq, uid, modseq, flags, was))
        return removed

    def reset_uidvalidity(self, uidvalidity: int | None = None) -> None:
        """Renumber the messages 1..n under a new UIDVALIDITY (a scenario fault)."""
        self.uidvalidity = uidvalidity if uidvalidity is not None else self.uidvalidity + 1
        gen_of = array("I", [NOT_GENERATED])
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
        self._recent_from = self.uidnext
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
