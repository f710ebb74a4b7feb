"""SMTP faults as a per-server plan: what goes wrong at which stage, and how many times.

Sans-I/O: the plan only answers "does a fault fire now, and what does the server
say?"; the asyncio shell (``server.py``) carries it out (reply, close, cut the
socket). Tests and the scenario control endpoint ``arm()`` faults while the server
runs; ``fired`` records what actually happened so a test can assert on it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from inboxlab.fakeserver.smtp.config import FaultKind, FaultStage, SmtpFault

SILENT: tuple[FaultKind, ...] = ("drop_mid_data", "drop_after_data", "stall_after_data")

# The server's own words for each fault, with enhanced status codes (RFC 3463) as
# big providers send them. The client is expected to surface these verbatim.
DEFAULT_REPLIES: dict[FaultKind, str] = {
    "421": "421 4.3.2 Service not available, closing transmission channel",
    "451": "451 4.3.0 Temporary local problem, please try again later",
    "452": "452 4.3.1 Insufficient system storage",
    "535": "535 5.7.8 Authentication credentials invalid",
    "552": "552 5.3.4 Message size exceeds fixed maximum message size",
    "drop_mid_data": "",
    "drop_after_data": "",
    "stall_after_data": "",
}


@dataclass(frozen=True)
class FiredFault:
    """A fault that happened: which, where, and the reply line sent (empty for a drop)."""

    kind: FaultKind
    stage: FaultStage
    reply: str

    @property
    def transient(self) -> bool:
        """Whether a client should retry later (4xx, a cut connection) or give up (5xx)."""
        return self.kind in ("421", "451", "452", *SILENT)

    @property
    def closes(self) -> bool:
        """Whether the server hangs up after this fault (421 by RFC 5321, a drop by nature)."""
        return self.kind in ("421", "drop_mid_data", "drop_after_data")


def reply_line(fault: SmtpFault) -> str:
    """The full reply line for ``fault``: the code, then the scenario's words or ours."""
    if fault.kind in SILENT:
        return ""
    if fault.message is None:
        return DEFAULT_REPLIES[fault.kind]
    return f"{fault.kind} {fault.message}"


@dataclass
class _Armed:
    fault: SmtpFault
    left: int


class FaultPlan:
    """Faults waiting to fire, first armed first fired, per stage.

    A fault with ``times=n`` fires on the next ``n`` arrivals at its stage, across
    connections (a flaky provider is flaky for every connection, not per socket).
    """

    def __init__(self, faults: tuple[SmtpFault, ...] = ()) -> None:
        self._pending: dict[FaultStage, deque[_Armed]] = {}
        self.fired: list[FiredFault] = []
        for fault in faults:
            self.arm(fault)

    def arm(self, fault: SmtpFault) -> None:
        """Queue ``fault`` behind any already waiting at the same stage."""
        self._pending.setdefault(fault.stage, deque()).append(_Armed(fault, fault.times))

    def pending(self, stage: FaultStage | None = None) -> tuple[SmtpFault, ...]:
        """Faults still waiting (at ``stage``, or anywhere), for inspection."""
        stages = [stage] if stage is not None else list(self._pending)
        out: list[SmtpFault] = []
        for name in stages:
            out.extend(armed.fault for armed in self._pending.get(name, ()))
        return tuple(out)

    def waiting(self) -> list[tuple[SmtpFault, int]]:
        """Every waiting fault with how many more times it will fire, stage by stage."""
        return [(a.fault, a.left) for queue in self._pending.values() for a in queue]

    def clear(self) -> None:
        """Forget every waiting fault (the record of fired ones stays)."""
        self._pending.clear()

    def peek(self, stage: FaultStage) -> FaultKind | None:
        """The kind of the next fault at ``stage`` without firing it."""
        queue = self._pending.get(stage)
        return queue[0].fault.kind if queue else None

    def take(self, stage: FaultStage) -> FiredFault | None:
        """Fire the next fault waiting at ``stage``, if any, and record it."""
        queue = self._pending.get(stage)
        if not queue:
            return None
        armed = queue[0]
        fault = armed.fault
        armed.left -= 1
        if armed.left <= 0:
            queue.popleft()
        fired = FiredFault(fault.kind, fault.stage, reply_line(fault))
        self.fired.append(fired)
        return fired
