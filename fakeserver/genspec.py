"""What a generated folder looks like: the settings scenarios give the generator.

Frozen and hashable, so the generator's per-spec pools are built once per spec; a
wrong field is a :class:`~fakeserver.errors.ScenarioError` naming it, at construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from inboxlab.fakeserver.errors import ScenarioError

__all__ = ["GenSpec"]


@dataclass(frozen=True)
class GenSpec:
    """What a generated folder looks like; hashable so per-spec tables are cached."""

    count: int
    seed: int
    thread_ratio: float = 0.3
    attachment_ratio: float = 0.05
    size_range: tuple[int, int] = (800, 6000)
    domain: str = "example.com"
    owner: str = "user@example.com"
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    seen_ratio: float = 0.7
    interval_s: int = 600  # mean spacing of Date headers; dates strictly increase

    def __post_init__(self) -> None:
        kinds: dict[str, type | tuple[type, ...]] = {
            "count": int, "seed": int, "interval_s": int, "thread_ratio": (int, float),
            "attachment_ratio": (int, float), "seen_ratio": (int, float), "domain": str,
            "owner": str, "start": datetime, "size_range": (tuple, list),
        }  # fmt: skip
        wrong = [
            f"{name} must be {getattr(kind, '__name__', 'a number or a pair')}, "
            f"got {type(getattr(self, name)).__name__}"
            for name, kind in kinds.items()
            if not isinstance(getattr(self, name), kind) or isinstance(getattr(self, name), bool)
        ]
        if not wrong and (
            len(self.size_range) != 2 or not all(isinstance(v, int) for v in self.size_range)
        ):
            wrong.append(f"size_range must be two integers, got {self.size_range!r}")
        if wrong:
            raise ScenarioError("invalid generated folder: " + "; ".join(wrong))
        problems = []
        if not 0 <= self.count < 2**31:
            problems.append(f"count must be in [0, 2**31), got {self.count!r}")
        for name in ("thread_ratio", "attachment_ratio", "seen_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                problems.append(f"{name} must be in [0, 1], got {value!r}")
        lo, hi = self.size_range
        if not 0 < lo <= hi < 2**31:
            problems.append(
                f"size_range must satisfy 0 < lo <= hi < 2**31, got {self.size_range!r}"
            )
        if self.start.tzinfo is None:
            problems.append("start must be timezone-aware")
        if self.interval_s < 1:
            problems.append(f"interval_s must be >= 1, got {self.interval_s!r}")
        for name in ("domain", "owner"):
            value = getattr(self, name)
            if not value or not value.isascii() or any(c in value for c in ' <>\r\n"\\'):
                problems.append(f"{name} must be a plain ASCII address part, got {value!r}")
        if problems:
            raise ScenarioError("invalid generated folder: " + "; ".join(problems))
