"""Default flags of generated messages: one byte per message, from the message's hash.

A million-message folder cannot afford a frozenset per message, so the store keeps a
``bytearray`` of codes (indices into :data:`FLAG_SETS`) and computes it once, on first
need; a flag changed later lives in the store's own table.
"""

from __future__ import annotations

from inboxlab.fakeserver.genpools import GAMMA, M64

__all__ = ["FLAG_SETS", "flag_code", "flag_codes"]

_SEEN, _FLAGGED, _ANSWERED = "\\Seen", "\\Flagged", "\\Answered"
FLAG_SETS: tuple[frozenset[str], ...] = tuple(
    frozenset(f for bit, f in ((1, _SEEN), (2, _FLAGGED), (4, _ANSWERED)) if code & bit)
    for code in range(8)
)


def flag_code(h2: int, seen_cut: int) -> int:
    """The code of a message whose second hash is ``h2``: seen when bits 25..40 fall
    under ``seen_cut``; flagged 1 in 64; answered 1 in 8 of the seen."""
    seen = ((h2 >> 25) & 0xFFFF) < seen_cut
    return (
        int(seen)
        | (2 if ((h2 >> 41) & 0x3F) == 0 else 0)
        | (4 if seen and ((h2 >> 47) & 7) == 0 else 0)
    )


def flag_codes(state0: int, salt: int, seen_cut: int, count: int) -> bytearray:
    """``flag_code`` of messages 0..count-1, with both hashes inlined (a million
    function calls would double the time)."""
    out = bytearray(count)
    m64, c1, c2 = M64, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
    for index in range(count):
        z = (state0 + (index + 1) * GAMMA) & m64
        z = ((z ^ (z >> 30)) * c1) & m64
        z = ((z ^ (z >> 27)) * c2) & m64
        z = (z ^ (z >> 31)) ^ salt
        z = ((z ^ (z >> 30)) * c1) & m64
        z = ((z ^ (z >> 27)) * c2) & m64
        h2 = z ^ (z >> 31)
        if ((h2 >> 25) & 0xFFFF) < seen_cut:
            out[index] = (
                1 | (2 if not (h2 >> 41) & 0x3F else 0) | (4 if not (h2 >> 47) & 7 else 0)
            )
        elif not (h2 >> 41) & 0x3F:
            out[index] = 2
    return out
