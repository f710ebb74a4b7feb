"""The generator's drain cache: a second drain reads back what the first rendered,
byte for byte, within a budget, and only drains in order fill it."""

from __future__ import annotations

import gc
import random
import sys
import threading

import pytest

from inboxlab.fakeserver import gencache, generate
from inboxlab.fakeserver.generate import GenSpec

SPEC = GenSpec(count=2 * gencache.BLOCK + 300, seed=5, attachment_ratio=0.2)  # a partial block
FIELDS = frozenset({"message-id", "in-reply-to", "references", "from", "subject", "date"})


def _answers(gen: generate.Generator, indices: range | list[int],
             fields: frozenset[str] = FIELDS, negate: bool = False
             ) -> list[tuple[bytes, int, bytes]]:
    """What a FETCH drain asks per message: size, date, then the header fields."""
    return [(gen.header_fields(i, fields, negate), gen.size(i), gen.internaldate_imap(i))
            for i in indices]


def _truth(indices: range | list[int], fields: frozenset[str] = FIELDS,
           negate: bool = False) -> list[tuple[bytes, int, bytes]]:
    """From a fresh generator read backwards, which never fills a block."""
    gen = generate.Generator(SPEC)
    backwards = sorted(set(indices), reverse=True)
    found = dict(zip(backwards, _answers(gen, backwards, fields, negate), strict=True))
    assert gen.cached_bytes == 0
    return [found[i] for i in indices]


def test_a_second_drain_is_answered_from_the_cache_byte_for_byte() -> None:
    gen = generate.Generator(SPEC)
    everything = range(SPEC.count)
    first = _answers(gen, everything)
    held = gen.cached_bytes
    assert held >= sum(len(a[0]) for a in first)  # every block, the partial last one too
    assert _answers(gen, everything) == first
    assert gen.cached_bytes == held  # the second drain added nothing
    picks = [0, 1, gencache.BLOCK - 1, gencache.BLOCK, SPEC.count - 1]
    picks += random.Random(3).sample(range(SPEC.count), 40)
    assert _answers(gen, picks) == _truth(picks)
    with pytest.raises(IndexError):  # past the end of the partial last block
        gen.header_fields(SPEC.count, FIELDS)
    with pytest.raises(IndexError):
        gen.size(-1)


def test_each_field_list_has_its_own_blocks() -> None:
    gen = generate.Generator(SPEC)
    _answers(gen, range(SPEC.count))
    other = frozenset({"subject"})
    picks = [5, gencache.BLOCK + 7, SPEC.count - 2]
    assert _answers(gen, range(SPEC.count), other, True) == _answers(
        generate.Generator(SPEC), range(SPEC.count), other, True)
    assert _answers(gen, picks, other, True) == _truth(picks, other, True)
    assert _answers(gen, picks) == _truth(picks)


def test_only_a_drain_in_order_fills_it() -> None:
    gen = generate.Generator(SPEC)
    order = list(range(SPEC.count))
    random.Random(9).shuffle(order)
    assert _answers(gen, order[:500]) == _truth(order[:500])
    gen2 = generate.Generator(SPEC)
    _answers(gen2, range(1, SPEC.count))  # starts mid-block: that block is skipped
    assert gen.cached_bytes == 0
    assert 0 < gen2.cached_bytes
    assert _answers(gen2, range(SPEC.count)) == _truth(range(SPEC.count))


def test_the_budget_bounds_every_cache_together(monkeypatch: pytest.MonkeyPatch) -> None:
    start = gencache.BUDGET_USED.used
    gen = generate.Generator(SPEC)
    _answers(gen, range(gencache.BLOCK))
    one_block = gen.cached_bytes
    assert gencache.BUDGET_USED.used == start + one_block
    limit = start + one_block + one_block // 2  # room for part of one more block only
    monkeypatch.setattr(gencache, "BUDGET", limit)
    _answers(gen, range(SPEC.count))
    second = generate.Generator(SPEC)
    _answers(second, range(SPEC.count))
    assert gencache.BUDGET_USED.used <= limit
    assert gencache.BUDGET_USED.used == start + gen.cached_bytes + second.cached_bytes
    assert second.cached_bytes < one_block // 2  # at most the short last block
    assert _answers(second, range(SPEC.count)) == _answers(gen, range(SPEC.count))
    del gen, second  # a dropped generator gives its bytes back
    gc.collect()
    assert gencache.BUDGET_USED.used == start


def test_drains_on_several_threads_share_one_cache_safely() -> None:
    gen = generate.Generator(SPEC)
    expect = _answers(generate.Generator(SPEC), range(SPEC.count))
    errors: list[int] = []

    def drain() -> None:
        for _ in range(2):
            got = _answers(gen, range(SPEC.count))
            errors.extend(i for i, (a, b) in enumerate(zip(got, expect, strict=True))
                          if a != b)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=drain) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []
    assert _answers(gen, range(SPEC.count)) == expect
