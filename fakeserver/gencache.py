"""A bounded cache of what a FETCH drain renders for generated messages.

A real server answers a second header drain of a folder from its own cache (Dovecot's
``dovecot.index.cache`` holds the header fields a client asked for), not by parsing every
message again. The fake server did the equivalent of parsing again: each drain rendered
every message's header lines, which was about 60% of its CPU. ``DrainCache`` keeps what a
sequential drain rendered, so the next drain of the same fields reads it back:

- per block of ``BLOCK`` consecutive messages: one ``bytes`` of their ``BODY[HEADER.FIELDS
  (...)]`` answers back to back plus an ``array`` of offsets (no object per message), for
  each field list asked for, and the messages' RFC822.SIZE and arrival times;
- filled only by a drain that reads a whole block in order (a FETCH of one message costs
  nothing extra and caches nothing), at no extra render cost: it keeps what it rendered;
- bounded: every cache of the process shares ``BUDGET`` bytes; once they are spent, later
  blocks are rendered as before and not kept (no eviction: what is cached stays correct
  forever, since a generated message is a pure function of its spec and index).

A folder of 1,000,000 messages whose headers are never fetched (``FETCH 1:* (UID FLAGS)``)
allocates nothing here.
"""

from __future__ import annotations

import threading
import weakref
from array import array

BLOCK = 1024  # messages per cached block
_SHIFT = 10
assert 1 << _SHIFT == BLOCK
BUDGET = 64 << 20  # bytes of cached header answers per process, all generators together

FieldKey = tuple[frozenset[str], bool]  # (lowercase field names, negate)
Heads = tuple[bytes, array]  # (answers back to back, BLOCK + 1 offsets)
Meta = tuple[array, array]  # (RFC822.SIZE, arrival POSIX seconds) per message


class _Budget:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.used = 0

    def take(self, n: int, limit: int) -> bool:
        with self.lock:
            if self.used + n > limit:
                return False
            self.used += n
            return True

    def give(self, held: list[int]) -> None:
        with self.lock:
            self.used -= held[0]
            held[0] = 0


BUDGET_USED = _Budget()


class DrainCache:
    """One generator's cache. Reads take no lock (blocks are immutable once published,
    and a dict lookup is atomic); filling takes one, so drains on several threads over
    one generator never interleave their blocks (they only stop caching)."""

    def __init__(self, count: int) -> None:
        self._count = count
        self.heads: dict[FieldKey, dict[int, Heads]] = {}
        self.meta: dict[int, Meta] = {}
        self._lock = threading.Lock()
        # The block being filled: (field key, block number, parts, offsets, sizes, times)
        self._filling: tuple[FieldKey, int, list[bytes], array, array, array] | None = None
        self._held = [0]  # bytes this cache took from the budget; given back when it dies
        weakref.finalize(self, BUDGET_USED.give, self._held)

    def heads_for(self, key: FieldKey) -> dict[int, Heads]:
        """The blocks cached for one field list (a live dict: blocks appear in it)."""
        with self._lock:
            return self.heads.setdefault(key, {})

    @property
    def held(self) -> int:
        return self._held[0]

    def note(self, key: FieldKey, index: int, answer: bytes, size: int, ts: int) -> None:
        """Message ``index`` was just rendered for ``key``: keep it if it continues a
        block being read in order."""
        with self._lock:
            filling = self._filling
            block, at = index >> _SHIFT, index & (BLOCK - 1)
            if filling is None or filling[0] != key or filling[1] != block \
                    or len(filling[2]) != at:
                if at != 0 or block in self.heads.get(key, ()):
                    self._filling = None
                    return
                filling = self._filling = (key, block, [], array("I", [0]), array("I"),
                                           array("q"))
            _, _, parts, offsets, sizes, times = filling
            parts.append(answer)
            offsets.append(offsets[-1] + len(answer))
            sizes.append(size)
            times.append(ts)
            if len(parts) == BLOCK or index == self._count - 1:
                self._filling = None
                self._publish(key, block, parts, offsets, sizes, times)

    def _publish(self, key: FieldKey, block: int, parts: list[bytes], offsets: array,
                 sizes: array, times: array) -> None:
        blob = b"".join(parts)
        cost = len(blob) + offsets.itemsize * len(offsets) + (
            0 if block in self.meta else sizes.itemsize * len(sizes) + times.itemsize * len(times))
        if not BUDGET_USED.take(cost, BUDGET):
            return
        self._held[0] += cost
        self.meta.setdefault(block, (sizes, times))
        self.heads.setdefault(key, {})[block] = (blob, offsets)  # published last


__all__ = ["BLOCK", "BUDGET", "BUDGET_USED", "DrainCache"]
