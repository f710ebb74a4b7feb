"""The messages of one mailbox: numbering and per-message reads (no changes here).

Memory is the design constraint: a generated folder may hold a million messages, so
there is no Python object per message. Present UIDs live in one sorted
``array('I')`` (sequence number n is ``uids[n-1]``, UID -> sequence by bisection);
a generated message's flags, size, dates and bytes are computed from its index by
:mod:`fakeserver.generate`; only *changes* cost memory: flag and modseq overrides,
the expunge log, and appended messages (real bytes). :class:`fakeserver.folder.Folder`
adds the changes, the events and CONDSTORE on top.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.header import decode_header, make_header

from inboxlab.fakeserver import generate, render
from inboxlab.fakeserver.events import AppendedMessage
from inboxlab.fakeserver.generate import FLAG_SETS, GenSpec

__all__ = ["Messages", "imap_date_time"]

NOT_GENERATED = 0xFFFFFFFF
SEEN = "\\Seen"
Generated = tuple[generate.Generator, int]  # a generated message: (generator, index)
# flag code (generate.FLAG_SETS index) -> 1 when the set lacks \\Seen (bit 0)
_UNSEEN_TABLE = bytes(0 if code & 1 else 1 for code in range(256))


class Messages:
    """Present UIDs and what each message is. UIDs passed to accessors must be present
    (or freshly expunged)."""

    def __init__(self) -> None:
        self.name = ""
        self._gen: generate.Generator | None = None
        self._gen_count = 0
        self._uids = array("I")
        self._gen_of: array[int] | None = None  # None: generated index is uid - 1
        self._codes: bytearray | None = None  # default flag codes, computed on first need
        # appended messages (real bytes) and copies of generated ones (kept virtual)
        self._appended: dict[int, AppendedMessage | Generated] = {}
        self._flags: dict[int, frozenset[str]] = {}
        self._modseq: dict[int, int] = {}
        self._exp_modseq = array("Q")
        self._exp_uid = array("I")
        self._field_sets: dict[tuple[str, ...], frozenset[str]] = {}
        self._last_fields: tuple[object, frozenset[str]] = (None, frozenset())

    def _fill(self, spec: GenSpec) -> None:
        self._gen = generate.generator(spec)
        self._gen_count = spec.count
        self._uids = array("I", range(1, spec.count + 1))

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
            return -1 if index == NOT_GENERATED else index
        return -1

    def _source(self, uid: int) -> AppendedMessage | Generated:
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

    def internaldate_imap(self, uid: int) -> bytes:
        """INTERNALDATE ready for FETCH: ``b'"17-Jul-1996 02:44:25 -0700"'`` (RFC 3501
        date-time, quoted). The fast path for generated messages skips the datetime."""
        gen = self._gen
        if gen is not None and self._gen_of is None and 0 < uid <= self._gen_count:
            return gen.internaldate_imap(uid - 1)
        src = self._source(uid)
        if isinstance(src, AppendedMessage):
            return imap_date_time(src.internaldate)
        return src[0].internaldate_imap(src[1])

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

    def header_values(self, uid: int, names: frozenset[str], *, decoded: bool = True,
                      ) -> dict[str, list[str]]:
        """The fields in ``names`` (lowercase) as :meth:`headers` gives them, absent ones
        left out. SEARCH's accessor: one call per message serves every HEADER key of a
        command; a generated message renders its header lines only and decodes just these
        (RFC 2047; ``decoded=False``: the raw text, still folded).
        """
        gen = self._gen
        if gen is not None and self._gen_of is None and 0 < uid <= self._gen_count:
            pairs = gen.header_values(uid - 1, names)
        else:
            src = self._source(uid)
            if isinstance(src, AppendedMessage):
                pairs = [(n.lower(), v) for n, v in render.header_pairs(src.raw)
                         if n.lower() in names]
            else:
                pairs = src[0].header_values(src[1], names)
        out: dict[str, list[str]] = {}
        for name, value in pairs:
            out.setdefault(name, []).append(_decode(value) if decoded else value)
        return out

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
            return sum(1 for uid in self._uids if SEEN not in self.flags(uid))
        count = self._gen_count
        total = marks.count(1)
        total -= sum(marks[uid - 1] for uid in set(self._exp_uid) if uid <= count)
        for uid, flags in self._flags.items():  # present messages only
            if uid <= count:
                total -= marks[uid - 1]
            total += SEEN not in flags
        return total

    def first_unseen(self) -> int | None:
        """Sequence number of the first message without ``\\Seen`` (SELECT's [UNSEEN n])."""
        marks = self._default_unseen()
        if marks is None:
            for seq, uid in enumerate(self._uids, 1):
                if SEEN not in self.flags(uid):
                    return seq
            return None
        best = min((u for u, f in self._flags.items() if SEEN not in f), default=None)
        pos = marks.find(1)
        while pos >= 0 and (best is None or pos + 1 < best):
            uid = pos + 1
            if uid not in self._flags and self.seq_of(uid) is not None:
                best = uid
                break
            pos = marks.find(1, pos + 1)
        return None if best is None else self.seq_of(best)


_MONTHS = (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct",
           b"Nov", b"Dec")  # fmt: skip


def imap_date_time(moment: datetime) -> bytes:
    """RFC 3501 ``date-time``, quoted: ``b'"17-Jul-1996 02:44:25 -0700"'``."""
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = b"-" if minutes < 0 else b"+"
    minutes = abs(minutes)
    return b'"%02d-%b-%04d %02d:%02d:%02d %b%02d%02d"' % (
        moment.day, _MONTHS[moment.month - 1], moment.year,
        moment.hour, moment.minute, moment.second, sign, minutes // 60, minutes % 60,
    )  # fmt: skip


def _decode(value: str) -> str:
    unfolded = value.replace("\r\n", "")
    if "=?" not in unfolded:
        return unfolded
    try:
        return str(make_header(decode_header(unfolded)))
    except Exception:  # malformed encoded words: search the raw text
        return unfolded
