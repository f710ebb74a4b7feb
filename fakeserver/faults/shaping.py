"""How bytes flow through one direction of a faulty link: a plan, not a socket (sans-I/O).

``Shaper.plan(data)`` turns one chunk into ``Step``s: (delay before, bytes to write),
plus whether the link must close after them. The asyncio proxy only sleeps and
writes what the plan says, so every transport fault is testable without a socket and
deterministic: jitter comes from a ``random.Random(seed)`` owned by the shaper.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Step:
    delay_s: float
    data: bytes


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    close_after: bool = False  # a data limit was reached: close once the steps are written


@dataclass
class Shaper:
    """The state of one direction; each fault action changes one field."""

    latency_s: float = 0.0
    jitter_s: float = 0.0
    bytes_per_s: int | None = None
    slice_size: int | None = None
    limit_left: int | None = None  # bytes still allowed before a forced close
    tarpit: bool = False
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def set_latency(self, ms: float, jitter_ms: float, seed: int) -> None:
        self.latency_s, self.jitter_s = ms / 1000.0, jitter_ms / 1000.0
        self.rng = random.Random(seed)

    @property
    def plain(self) -> bool:
        """True when data passes untouched (the proxy's fast path)."""
        return (not self.latency_s and not self.jitter_s and self.bytes_per_s is None
                and self.slice_size is None and self.limit_left is None and not self.tarpit)

    def plan(self, data: bytes) -> Plan:
        if self.tarpit:
            return Plan(())  # swallowed: the peer hears nothing, ever
        close_after = False
        if self.limit_left is not None:
            if len(data) >= self.limit_left:
                data, close_after = data[: self.limit_left], True
            self.limit_left -= len(data)
        if not data:
            return Plan((), close_after)
        delay = self.latency_s
        if self.jitter_s:
            delay += self.rng.uniform(0.0, self.jitter_s)
        pieces = [data]
        if self.slice_size is not None:
            pieces = [data[i : i + self.slice_size] for i in range(0, len(data), self.slice_size)]
        if self.bytes_per_s is not None:
            # ~20 writes per second at most, each paced by its own size
            quantum = max(1, self.bytes_per_s // 20)
            paced: list[bytes] = []
            for piece in pieces:
                paced.extend(piece[i : i + quantum] for i in range(0, len(piece), quantum))
            pieces = paced
        steps = []
        for i, piece in enumerate(pieces):
            wait = delay if i == 0 else 0.0
            if self.bytes_per_s is not None and i > 0:
                wait += len(pieces[i - 1]) / self.bytes_per_s
            elif self.slice_size is not None and i > 0:
                wait += 0.002  # separate TCP segments: the reader sees split reads
            steps.append(Step(wait, piece))
        return Plan(tuple(steps), close_after)
