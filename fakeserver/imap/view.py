"""One session's view of its selected mailbox: sequence numbers the client still believes in.

Another session may expunge or append at any time, but this client's message sequence
numbers must not move until it is told (RFC 3501 7.4.1: no EXPUNGE during FETCH, STORE,
SEARCH). So the view keeps, per session, the UIDs expunged elsewhere but not yet
reported (``pending``, a short sorted list) and the EXISTS count last reported. The
client-visible mailbox is: the folder's UIDs plus ``pending``, cut to ``exists``
entries (messages appended elsewhere have higher UIDs, so they sit at the end).

Until it is told, such a message stays addressable, as in Dovecot (RFC 2180 4.1.1): its
UID, last flags and MODSEQ are kept in ``gone`` and answer FETCH, STORE and SEARCH on
flags; its content is gone, which commands report as ``[EXPUNGEISSUED]``.

While nothing is pending (the common case) every lookup is the folder's own O(1)/
O(log n) accessor; with pending expunges it costs O(len(pending) * log n).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from heapq import merge

from inboxlab.fakeserver.errors import ProtocolError
from inboxlab.fakeserver.imap.syntax.seqset import SequenceSet
from inboxlab.fakeserver.store import Exists, Expunged, FlagsChanged, Folder, UidValidityChanged


class FolderUids(Sequence[int]):
    """The folder's UIDs as a read-only sequence without copying (for ``bisect``)."""

    def __init__(self, folder: Folder) -> None:
        self._folder = folder

    def __len__(self) -> int:
        return len(self._folder)

    def __getitem__(self, index: int) -> int:  # type: ignore[override]
        if index < 0:
            index += len(self._folder)
        return self._folder.uid_at(index + 1)


@dataclass(slots=True)
class GoneMessage:
    """What this session still knows of a message expunged elsewhere (not yet told).
    Mutable: a STORE from this session changes its flags here, as Dovecot's view does."""

    flags: frozenset[str]
    modseq: int


class MailboxView:
    """Sequence-number bookkeeping and pending untagged updates for one session."""

    def __init__(self, folder: Folder, *, readonly: bool, wakeup: Callable[[], None],
                 recent: bool = True) -> None:
        self.folder = folder
        self.readonly = readonly
        # \Recent UIDs this session claimed (RFC 3501 2.3.2); EXAMINE claims none
        self.claims_recent = recent and not readonly
        self.recent: set[int] = set()
        self.recent_told = 0  # the RECENT count last sent
        self.known_limit = 0  # highest UID announced to the client (by EXISTS)
        self.pending: list[int] = []  # UIDs expunged elsewhere, not yet reported
        self.gone: dict[int, GoneMessage] = {}  # the same UIDs: what is left of them
        self.flag_changes: set[int] = set()  # UIDs whose flags changed elsewhere
        self.uidvalidity_changed = False  # UIDs renumbered: the session must end
        self.muted = False  # True while this session mutates the folder itself
        self.keywords_told = folder.keyword_count()  # as of the last FLAGS sent (SELECT)
        self._wakeup = wakeup
        self.take_exists()
        self.recent_told = len(self.recent) if self.claims_recent else (
            folder.recent() if recent else 0)
        self._unsubscribe = folder.subscribe(self._on_change)

    def close(self) -> None:
        self._unsubscribe()

    @property
    def exists(self) -> int:
        """The message count the client believes in."""
        return self._visible_present_count() + len(self.pending)

    # -- change events from the store ------------------------------------------------

    def _on_change(self, event: object) -> None:
        if self.muted:
            return
        if isinstance(event, Expunged):
            if event.uid <= self.known_limit:  # a flag change not told yet still is
                insort(self.pending, event.uid)
                self.gone[event.uid] = GoneMessage(event.flags, event.last_modseq)
            else:
                self.flag_changes.discard(event.uid)
        elif isinstance(event, FlagsChanged):
            self.flag_changes.add(event.uid)
        elif isinstance(event, UidValidityChanged):
            self.uidvalidity_changed = True
        elif not isinstance(event, Exists):
            return
        self._wakeup()

    def _visible_present_count(self) -> int:
        folder = self.folder
        if folder.max_uid() <= self.known_limit:
            return len(folder)
        return bisect_right(FolderUids(folder), self.known_limit)

    # -- lookups in the client's numbering ---------------------------------------------

    def present_uids(self) -> Sequence[int]:
        """UIDs still in the folder that the client knows, ascending (a copy)."""
        return self.folder.uids_between(1, self.known_limit)

    def visible_uids(self) -> Sequence[int]:
        """Every UID the client can address, present or ``gone``, ascending."""
        if not self.pending:
            return self.present_uids()
        return list(merge(self.present_uids(), self.pending))

    def all_pairs(self) -> Iterator[tuple[int, int]]:
        """(seq, uid) of every message the client can address."""
        return enumerate(self.visible_uids(), 1)

    def highest_uid(self) -> int:
        """The highest UID the client knows (``*`` in a UID set), or 0."""
        count = self._visible_present_count()
        present = self.folder.uid_at(count) if count else 0
        return max(present, self.pending[-1]) if self.pending else present

    def flags_of(self, uid: int) -> frozenset[str]:
        gone = self.gone.get(uid) if self.gone else None
        return self.folder.flags(uid) if gone is None else gone.flags

    def modseq_of(self, uid: int) -> int:
        gone = self.gone.get(uid) if self.gone else None
        return self.folder.modseq(uid) if gone is None else gone.modseq

    def seq_of(self, uid: int) -> int | None:
        """The client's sequence number for ``uid`` (None when unknown to the client)."""
        if uid > self.known_limit:
            return None
        if not self.pending:
            return self.folder.seq_of(uid)
        before_pending = bisect_left(self.pending, uid)
        if before_pending < len(self.pending) and self.pending[before_pending] == uid:
            return bisect_left(FolderUids(self.folder), uid) + before_pending + 1
        seq_present = self.folder.seq_of(uid)
        return None if seq_present is None else seq_present + before_pending

    def seq_uid_pairs(
        self, uids: Sequence[int], start_seq: int | None = None
    ) -> Iterator[tuple[int, int]]:
        """(seq, uid) for present UIDs; ``start_seq`` makes a contiguous run O(1) each."""
        if start_seq is not None and not self.pending:
            yield from zip(range(start_seq, start_seq + len(uids)), uids, strict=True)
            return
        for uid in uids:
            seq = self.seq_of(uid)
            if seq is not None:
                yield seq, uid

    def by_sequence(self, seqset: SequenceSet) -> Iterator[tuple[int, int]]:
        """(seq, uid) of the messages named by client sequence numbers.

        A number above EXISTS (or any ``*`` in an empty mailbox) is the client's mistake
        and BAD, as in Dovecot: clamping it would hide a stale-sequence bug."""
        exists = self.exists
        ranges = seqset.resolve(exists)
        if (ranges and ranges[-1][1] > exists) or (seqset.star_ranges and not exists):
            raise ProtocolError(f"Invalid messageset {seqset}: the mailbox has {exists} "
                                "messages")
        folder = self.folder
        if not self.pending:
            for lo, hi in ranges:
                uids = folder.uids_between(folder.uid_at(lo), folder.uid_at(hi))
                yield from self.seq_uid_pairs(uids, lo)
            return
        visible = self.visible_uids()
        for lo, hi in ranges:
            for seq in range(lo, hi + 1):
                yield seq, visible[seq - 1]

    def by_uid(self, uidset: SequenceSet) -> Iterator[tuple[int, int]]:
        """(seq, uid) of the messages named by UID; ``*`` is the highest known UID."""
        folder = self.folder
        if self.pending:
            visible = self.visible_uids()
            for lo, hi in uidset.resolve(self.highest_uid()):
                start = bisect_left(visible, lo)
                for at in range(start, bisect_right(visible, min(hi, self.known_limit))):
                    yield at + 1, visible[at]
            return
        for lo, hi in uidset.resolve(self.highest_uid()):
            uids = folder.uids_between(lo, min(hi, self.known_limit))
            if len(uids):
                first = folder.seq_of(uids[0]) if not self.pending else None
                yield from self.seq_uid_pairs(uids, first)

    def select(self, seqset: SequenceSet, *, uid: bool) -> Iterator[tuple[int, int]]:
        return self.by_uid(seqset) if uid else self.by_sequence(seqset)

    # -- reporting ----------------------------------------------------------------------

    def take_expunges(self) -> list[int]:
        """Pending expunged UIDs as client sequence numbers, each valid after the previous."""
        seqs: list[int] = []
        self.forget(self.pending)
        while self.pending:
            seq = self.seq_of(self.pending[0])
            self.gone.pop(self.pending.pop(0), None)
            if seq is not None:
                seqs.append(seq)
        return seqs

    def take_vanished(self) -> list[int]:
        """Pending expunged UIDs for a QRESYNC client's ``VANISHED`` line."""
        uids = list(self.pending)
        self.forget(uids)
        self.pending.clear()
        self.gone.clear()
        return uids

    def take_exists(self) -> int | None:
        """Announce everything present: the new EXISTS count if it changed."""
        before = self.exists
        self.known_limit = max(self.known_limit, self.folder.max_uid())
        if self.claims_recent:
            claimed = self.folder.claim_recent()
            if claimed:
                self.recent.update(claimed)
        after = self.exists
        return after if after != before else None

    def forget(self, uids: Iterable[int]) -> None:
        """Messages the client was told are expunged are nobody's \\Recent any more."""
        if self.recent:
            self.recent.difference_update(uids)

    def take_recent(self) -> int | None:
        """The new RECENT count if it changed since last told."""
        if not self.claims_recent or len(self.recent) == self.recent_told:
            return None
        self.recent_told = len(self.recent)
        return self.recent_told

    def take_new_keywords(self) -> bool:
        """Whether the folder knows keywords this client was not told of (then FLAGS and
        PERMANENTFLAGS must go out before any FETCH shows one); they count as told now."""
        count = self.folder.keyword_count()
        if count == self.keywords_told:
            return False
        self.keywords_told = count
        return True

    def take_flag_changes(self) -> list[int]:
        changed = sorted(self.flag_changes)
        self.flag_changes.clear()
        return changed
