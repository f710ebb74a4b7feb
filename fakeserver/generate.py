"""Deterministic, realistic messages made on demand from ``(GenSpec, index)``.

A generated folder may hold a million messages, so nothing here is stored per
message: every choice (sender, subject, thread parent, size, flags, dates) is read
from a splitmix64 hash of ``(seed, index)`` and picks from pools rendered once per
spec (:mod:`fakeserver.genpools`). The same ``(spec, index)`` gives the same bytes in
every process, forever (a test pins a digest).

Threads: messages are laid out in windows of 32 indices holding 4 interleaved
conversations of 8 slots; a reply's parent is an earlier slot of the same
conversation. That keeps thread chains short (at most 7 ancestors) so References
is computed by a bounded walk, never by recursion over the whole folder, while
conversations still interleave like a real inbox. A reply takes its References from
its parent's entry in a small sliding cache (a drain meets the parent just before).

Fast paths serve FETCH without building a whole message: ``header_fields`` renders
only header lines (byte-identical to cutting them out of ``message``) and ``size`` is
arithmetic (``message`` pads the text body to exactly that length). Hold a
:class:`Generator` (``generator(spec)``) on hot paths; the module functions are
conveniences that look it up per call.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from inboxlab.fakeserver import genflags, names
from inboxlab.fakeserver.gencache import BLOCK, DrainCache, FieldKey, Heads
from inboxlab.fakeserver.gendates import (
    HOUR_MINUTE,
    IMAP_HOUR_MINUTE,
    IMAP_SECOND_ZONE,
    SECOND_ZONE,
    date_prefix,
    imap_day_prefix,
)
from inboxlab.fakeserver.genflags import FLAG_SETS
from inboxlab.fakeserver.genpools import GAMMA, M64, Pools, mix
from inboxlab.fakeserver.genshape import SHAPES, Picker, pickers
from inboxlab.fakeserver.genspec import GenSpec

__all__ = [
    "FLAG_SETS",
    "GenSpec",
    "Generator",
    "default_flags",
    "flag_codes",
    "generator",
    "header_fields",
    "headers",
    "internaldate",
    "message",
    "size",
]

_SALT2 = 0x5851F42D4C957F2D
_SALT3 = 0x14057B7EF767814F

_CONV = 4  # interleaved conversations per window
_SLOTS = 8  # messages per conversation per window
_WINDOW = _CONV * _SLOTS


class Generator:
    """Every message of one spec. Per-spec pools are built once; per message, one hash
    state is computed and reused by all accessors (FETCH asks for size, date and header
    fields of the same message back to back)."""

    def __init__(self, spec: GenSpec) -> None:
        self.spec = spec
        self.pools = pools = Pools(spec)
        self._state0 = mix((spec.seed * GAMMA) & M64)
        self._reply_cut = int(min(1.0, spec.thread_ratio * _SLOTS / (_SLOTS - 1)) * 65536)
        self._attach_cut = int(spec.attachment_ratio * 16384)
        self._seen_cut = int(spec.seen_ratio * 65536)
        self._start_ts = int(spec.start.timestamp())
        self._interval = spec.interval_s
        self._size_lo, self._size_span = (
            spec.size_range[0],
            spec.size_range[1] - spec.size_range[0] + 1,
        )
        self._domain = spec.domain
        self._count = spec.count
        # Calibrate size() against _body_parts once: the skeleton's constant length
        # and how often the index's hex digits occur, for alternative and mixed bodies.
        self._body_const = [0, 0]
        self._body_hex = [0, 0]
        probe = (0, 2, "Hi", "Thanks", "Ann", 0, 0)
        variable = 2 * (2 + 6 + 3) + pools.sentence_len[0][2]
        for mixed in (False, True):
            one = sum(map(len, self._body_parts(1, mixed, probe)))
            two = sum(map(len, self._body_parts(16, mixed, probe)))
            self._body_hex[mixed] = two - one
            attach = pools.attachment_len[0] if mixed else 0
            self._body_const[mixed] = one - self._body_hex[mixed] - variable - attach
        # size() without _choices(): the body length that the low 14 bits of h3 decide
        # (sentences, greeting, closing) and twice the signer's name length.
        greet, close = names.GREETINGS, names.CLOSINGS
        self._body_var = tuple(
            2
            * (
                len(greet[((b >> 6) & 0xF) % len(greet)])
                + len(close[((b >> 10) & 0xF) % len(close)])
            )
            + pools.sentence_len[b & 0xF][2 + ((b >> 4) & 3)]
            for b in range(1 << 14)
        )
        self._signer_len = tuple(2 * len(first) for first in pools.firsts)
        # The current message, replaced as one tuple so a reader in another thread never
        # sees one message's hashes with another's lines: (index, h1, h3, lines, shape,
        # mixed, arrival time). Likewise (index, size).
        self._days: dict[int, str] = {}  # day number -> "Date: Mon, 01 Jan 2024 "
        self._imap_days: dict[int, bytes] = {}  # day number -> b'"01-Jan-2024 '
        self._cur: _Current = (-1, 0, 0, [], 0, False, 0)
        self._last_size = (-1, 0)
        self._threads: dict[int, _Thread] = {}  # index -> _thread(index), bounded
        self._picks: dict[tuple[frozenset[str], bool], tuple[Picker, ...]] = {}
        # What a drain rendered, for the next drain (bounded; fakeserver.gencache).
        self._cache = DrainCache(spec.count)
        self._last_picks: _Picks = (frozenset(), False, (), {})

    def __repr__(self) -> str:
        return f"Generator({self.spec!r})"

    @property
    def cached_bytes(self) -> int:
        """Bytes this generator's drain cache holds (``fakeserver.gencache``)."""
        return self._cache.held

    # -- hashing ---------------------------------------------------------------------

    def _hash1(self, index: int) -> int:
        z = (self._state0 + (index + 1) * GAMMA) & M64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def _at(self, index: int) -> _Current:
        """The current message's state, computed when ``index`` is not the current one."""
        cur = self._cur
        if cur[0] == index:
            return cur
        if not 0 <= index < self._count:
            raise IndexError(f"generated message index {index} out of range 0..{self._count - 1}")
        # _hash1 and mix() inlined: FETCH of a whole folder comes here once per message
        z = (self._state0 + (index + 1) * GAMMA) & M64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        h1 = z ^ (z >> 31)
        z = h1 ^ _SALT2
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        h2 = z ^ (z >> 31)
        z = (h1 ^ _SALT3) & M64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        h3 = z ^ (z >> 31)
        interval = self._interval
        ts = self._start_ts + index * interval + ((((h1 >> 42) & 0x3FF) * interval) >> 10)
        lines, shape, mixed = self._make_lines(index, h1, h2, ts)
        cur = self._cur = (index, h1, h3, lines, shape, mixed, ts + 5 + ((h3 >> 40) & 0xFF))
        return cur

    def _parent(self, index: int, h1: int) -> int:
        """Index of the message this one replies to, or -1 for a thread root."""
        slot = (index % _WINDOW) // _CONV
        if slot == 0 or (h1 & 0xFFFF) >= self._reply_cut:
            return -1
        return index - (slot - ((h1 >> 16) & 0xFF) % slot) * _CONV

    def _thread(self, index: int) -> _Thread:
        """(Message-ID, References up to and including it, root's hash) of ``index``,
        for its replies. Cached: a drain meets a parent a few messages before its
        replies. Entries are pure functions of the index, so a race only recomputes."""
        found = self._threads.get(index)
        if found is not None:
            return found
        h1 = self._hash1(index)
        mid = f"<{index:x}.{h1 >> 16:012x}@{self._domain}>"
        parent = self._parent(index, h1)
        if parent < 0:
            return (mid, mid, h1)
        _, refs, root_h = self._thread(parent)  # depth < _SLOTS: parents share a window
        return (mid, refs + "\r\n " + mid, root_h)

    # -- headers -------------------------------------------------------------------------

    def _make_lines(self, index: int, h1: int, h2: int,
                    ts: int) -> tuple[list[str], int, bool]:
        """The header lines of message ``index`` (sent at ``ts``), their shape code, and
        whether it is multipart/mixed (has an attachment). The hot path: locals, no
        helper calls."""
        pools = self.pools
        day, sec = divmod(ts, 86400)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = date_prefix(day)
            if len(self._days) < 65536:  # bounded: a huge interval_s must not grow it
                self._days[day] = prefix
        hx = f"{index:x}"
        lines = [
            prefix + HOUR_MINUTE[sec // 60] + SECOND_ZONE[sec % 60],
            pools.from_lines[(h1 >> 32) & 0x3FF],
            pools.to_lines[(h1 >> 52) & 0x3FF] if (h2 >> 22) & 7 == 0 else pools.to_owner,
        ]
        ncc = h2 & 3
        if ncc == 2:
            lines.append(pools.cc_lines[(h2 >> 2) & 0x3FF])
        elif ncc == 3:
            persons = pools.persons
            lines.append(f"Cc: {persons[(h2 >> 2) & 0x3FF]}, {persons[(h2 >> 12) & 0x3FF]}\r\n")
        domain = self._domain
        slot = (index % _WINDOW) // _CONV
        reply = slot > 0 and (h1 & 0xFFFF) < self._reply_cut
        mid = f"<{hx}.{h1 >> 16:012x}@{domain}>"
        threads = self._threads  # a sliding window in a drain; bounded however read
        threads.pop(index - _WINDOW, None)
        if len(threads) >= _THREADS_KEPT:
            threads.clear()
        if not reply:
            lines.append(pools.subject_lines[((h1 >> 24) & 0xFF) % len(pools.subject_lines)])
            lines.append("Message-ID: " + mid + "\r\n")
            threads[index] = (mid, mid, h1)
        else:
            parent = index - (slot - ((h1 >> 16) & 0xFF) % slot) * _CONV
            parent_id, refs, root_h = threads.get(parent) or self._thread(parent)
            threads[index] = (mid, refs + "\r\n " + mid, root_h)
            lines.append(pools.reply_lines[((root_h >> 24) & 0xFF) % len(pools.reply_lines)])
            lines.append("Message-ID: " + mid + "\r\n")
            lines.append("In-Reply-To: " + parent_id + "\r\n")
            lines.append("References: " + refs + "\r\n")
        lines.append("MIME-Version: 1.0\r\n")
        mixed = ((h2 >> 50) & 0x3FFF) < self._attach_cut
        if mixed:
            lines.append('Content-Type: multipart/mixed; boundary="=_mix_' + hx + '"\r\n')
        else:
            lines.append('Content-Type: multipart/alternative; boundary="=_alt_' + hx + '"\r\n')
        return lines, 2 * (ncc >= 2) + reply, mixed  # the genshape.SHAPES code

    def lines(self, index: int) -> list[tuple[str, str]]:
        """Header lines in order as (lowercase name, "Name: value\\r\\n")."""
        cur = self._at(index)
        return list(zip(SHAPES[cur[4]], cur[3], strict=True))

    def headers(self, index: int) -> list[tuple[str, str]]:
        """Top-level fields as (name, raw value) in order (RFC 2047 words undecoded,
        folding CRLFs kept)."""
        out = []
        for _, line in self.lines(index):
            name, value = line[:-2].split(": ", 1)
            out.append((name, value))
        return out

    def header_values(self, index: int, names: frozenset[str]) -> list[tuple[str, str]]:
        """(lowercase name, raw value) of the fields in ``names`` (lowercase), in order.

        SEARCH HEADER's accessor: only the wanted lines are split, nothing is decoded.
        """
        _, _, _, lines, shape, _, _ = self._at(index)
        return [(name, line[len(name) + 2 : -2])
                for name, line in zip(SHAPES[shape], lines, strict=True) if name in names]

    def header_fields(self, index: int, fields: frozenset[str], negate: bool = False) -> bytes:
        """``BODY[HEADER.FIELDS (...)]`` (``.NOT`` when ``negate``); ``fields`` lowercase.

        Byte-identical to cutting them out of :meth:`message`: matching lines in
        message order, then the blank line. A block an earlier drain read in order is
        answered from the drain cache (``fakeserver.gencache``) without rendering.
        """
        last = self._last_picks  # FETCH asks every message for the same fields
        if last[0] is not fields or last[1] != negate:
            key: FieldKey = (fields, negate)
            last = self._last_picks = (fields, negate, self._pickers(fields, negate),
                                       self._cache.heads_for(key))
        hit = last[3].get(index >> _BLOCK_SHIFT)
        if hit is not None and 0 <= index < self._count:
            blob, offsets = hit
            at = index & _BLOCK_MASK
            return blob[offsets[at] : offsets[at + 1]]
        _, _, _, lines, shape, _, ts = self._at(index)
        out = ("".join(last[2][shape](lines)) + "\r\n").encode("ascii")
        self._cache.note((fields, negate), index, out, self.size(index), ts)
        return out

    def _pickers(self, fields: frozenset[str], negate: bool) -> tuple[Picker, ...]:
        """One line picker per header shape for this field list."""
        key = (fields, negate)
        found = self._picks.get(key)
        if found is None:
            found = pickers(fields, negate)
            if len(self._picks) < 256:
                self._picks[key] = found
        return found

    # -- bodies ---------------------------------------------------------------------------

    def _choices(self, h1: int, h3: int) -> tuple[int, int, str, str, str, int, int]:
        """(first sentence, sentence count, greeting, closing, signer, attachment, padded
        target size) of a message."""
        return (
            h3 & 0xF,
            2 + ((h3 >> 4) & 3),
            names.GREETINGS[((h3 >> 6) & 0xF) % len(names.GREETINGS)],
            names.CLOSINGS[((h3 >> 10) & 0xF) % len(names.CLOSINGS)],
            self.pools.firsts[(h1 >> 32) & 0x3FF],
            ((h3 >> 14) & 0xFF) % len(self.pools.attachments),
            self._size_lo + ((h3 >> 22) & 0xFFFFFF) % self._size_span,
        )

    def _body_parts(self, index: int, mixed: bool, choices: tuple) -> list[str]:
        """Body pieces; the padding goes in at position 2 (the end of the text part)."""
        first, count, greeting, closing, signer, attach, _ = choices
        sentences = names.SENTENCES
        chosen = [sentences[(first + k * 5) % len(sentences)] for k in range(count)]
        alt = f"=_alt_{index:x}"
        parts = [
            "This is a multi-part message in MIME format.\r\n",
            f"--{alt}\r\n"
            'Content-Type: text/plain; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: 7bit\r\n\r\n"
            f"{greeting},\r\n\r\n" + "\r\n".join(chosen) + "\r\n\r\n",
            f"{closing},\r\n{signer}\r\n"
            f"--{alt}\r\n"
            'Content-Type: text/html; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: 7bit\r\n\r\n"
            f"<html><body><p>{greeting},</p><p>" + " ".join(chosen) + f"</p><p>{closing},<br>"
            f"{signer}</p></body></html>\r\n"
            f"--{alt}--\r\n",
        ]
        if mixed:
            mix_b = f"=_mix_{index:x}"
            parts[0] += (
                f'--{mix_b}\r\nContent-Type: multipart/alternative; boundary="{alt}"\r\n\r\n'
            )
            parts.append(f"--{mix_b}\r\n{self.pools.attachments[attach]}--{mix_b}--\r\n")
        return parts

    def message(self, index: int) -> bytes:
        """The full RFC 5322 message (CRLF line endings), exactly :meth:`size` bytes."""
        _, h1, h3, lines, _, mixed, _ = self._at(index)
        head = "".join(lines) + "\r\n"
        choices = self._choices(h1, h3)
        parts = self._body_parts(index, mixed, choices)
        natural = len(head) + sum(map(len, parts))
        parts.insert(2, self.pools.pad(choices[6] - natural))
        return (head + "".join(parts)).encode("ascii")

    def size(self, index: int) -> int:
        """RFC822.SIZE by arithmetic: the padded target, or the natural size if larger."""
        meta = self._cache.meta.get(index >> _BLOCK_SHIFT)
        if meta is not None and 0 <= index < self._count:
            return meta[0][index & _BLOCK_MASK]
        last = self._last_size
        if last[0] == index:
            return last[1]
        _, h1, h3, lines, _, mixed, _ = self._at(index)
        body = (
            self._body_const[mixed]
            + self._body_hex[mixed] * max(1, (index.bit_length() + 3) >> 2)
            + self._body_var[h3 & 0x3FFF]
            + self._signer_len[(h1 >> 32) & 0x3FF]
        )
        if mixed:
            attachments = self.pools.attachment_len
            body += attachments[((h3 >> 14) & 0xFF) % len(attachments)]
        target = self._size_lo + ((h3 >> 22) & 0xFFFFFF) % self._size_span
        size = max(target, sum(map(len, lines)) + 2 + body)
        self._last_size = (index, size)
        return size

    # -- dates and flags ------------------------------------------------------------------

    def internaldate_ts(self, index: int) -> int:
        """Arrival time (POSIX seconds): a few seconds to minutes after the Date header."""
        meta = self._cache.meta.get(index >> _BLOCK_SHIFT)
        if meta is not None and 0 <= index < self._count:
            return meta[1][index & _BLOCK_MASK]
        return self._at(index)[6]

    def internaldate(self, index: int) -> datetime:
        return datetime.fromtimestamp(self.internaldate_ts(index), UTC)

    def internaldate_imap(self, index: int) -> bytes:
        """INTERNALDATE as FETCH sends it, ``b'"01-Jan-2024 00:10:05 +0000"'``, from
        tables instead of a datetime and a format per message."""
        day, sec = divmod(self.internaldate_ts(index), 86400)
        prefix = self._imap_days.get(day)
        if prefix is None:
            prefix = imap_day_prefix(day)
            if len(self._imap_days) < 65536:
                self._imap_days[day] = prefix
        return prefix + IMAP_HOUR_MINUTE[sec // 60] + IMAP_SECOND_ZONE[sec % 60]

    def flag_code(self, index: int) -> int:
        """Default flags as an index into :data:`FLAG_SETS`."""
        return genflags.flag_code(mix(self._hash1(index) ^ _SALT2), self._seen_cut)

    def flag_codes(self) -> bytearray:
        """Default flags of every message, one byte each (the store computes it once)."""
        return genflags.flag_codes(self._state0, _SALT2, self._seen_cut, self._count)


_Current = tuple[int, int, int, list[str], int, bool, int]
# (fields, negate, one line picker per shape, the drain cache's blocks for them)
_Picks = tuple[frozenset[str], bool, tuple[Picker, ...], dict[int, Heads]]
_BLOCK_SHIFT = BLOCK.bit_length() - 1
_BLOCK_MASK = BLOCK - 1
_Thread = tuple[str, str, int]
_THREADS_KEPT = 128  # parents are < _WINDOW back; test_store bounds what reads keep


@lru_cache(maxsize=32)
def generator(spec: GenSpec) -> Generator:
    """The shared :class:`Generator` of ``spec`` (specs are hashable)."""
    return Generator(spec)


# -- module-level conveniences (tests, scenarios); hot paths hold a Generator ------------


def message(spec: GenSpec, index: int) -> bytes:
    return generator(spec).message(index)


def size(spec: GenSpec, index: int) -> int:
    return generator(spec).size(index)


def headers(spec: GenSpec, index: int) -> list[tuple[str, str]]:
    return generator(spec).headers(index)


def header_fields(spec: GenSpec, index: int, fields: frozenset[str], negate: bool = False) -> bytes:
    return generator(spec).header_fields(index, fields, negate)


def internaldate(spec: GenSpec, index: int) -> datetime:
    return generator(spec).internaldate(index)


def default_flags(spec: GenSpec, index: int) -> frozenset[str]:
    return FLAG_SETS[generator(spec).flag_code(index)]


def flag_codes(spec: GenSpec) -> bytearray:
    return generator(spec).flag_codes()
