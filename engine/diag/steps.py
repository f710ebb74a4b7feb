"""What a probe run is asked (``ProbeOptions``) and what it records (``Step``), and the
surface a step family works against (``ProbeRun``).

Kept apart from ``probe`` so the SMTP steps (``probe_smtp``) can record steps into a
run without importing the module that runs them: ``probe`` imports ``probe_smtp``,
never the other way.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from inboxlab.engine.account_options import LARGE_FOLDER  # the engine's own threshold (>=)

if TYPE_CHECKING:
    from inboxlab.engine.secrets import Secret
    from inboxlab.engine.settings import AccountSettings
    from inboxlab.engine.tokens import TokenProvider

Status = Literal["ok", "warning", "failed", "skipped"]


@dataclass(frozen=True)
class ProbeOptions:
    connect_timeout: float = 15.0  # each of DNS, TCP, TLS, the greeting, STARTTLS
    command_timeout: float = 30.0  # each IMAP command, each SMTP step
    deadline: float | None = None  # the whole run; every step's limit is clipped to it
    slow: float | None = None  # a step slower than this is a warning (default: timeout / 2)
    login: bool = True  # False: the steps before LOGIN only ("login skipped")
    cafile: str | None = None
    smtp: bool = True
    send_test: bool = False  # a test message to the account's BCC address
    large_folder: int = LARGE_FOLDER
    bodies: bool = False  # trace message literals, or only their size
    db: str | None = None  # the engine database: compare UIDVALIDITY with its checkpoints


@dataclass(frozen=True)
class Step:
    name: str
    status: Status
    summary: str
    elapsed_ms: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"step": self.name, "status": self.status, "summary": self.summary,
                "elapsed_ms": round(self.elapsed_ms, 1), "data": self.data}


class ProbeRun(Protocol):
    """The part of a running ``probe.Probe`` that a family of steps (SMTP) uses."""

    settings: AccountSettings
    secret: Secret | TokenProvider | None
    options: ProbeOptions
    login: bool
    steps: list[Step]
    _clock: Callable[[], float]

    def _context(self) -> ssl.SSLContext: ...

    def limit(self, base: float) -> float: ...

    def _slow(self, base: float) -> float: ...

    def _add(self, name: str, status: Status, summary: str, started: float,
             slow_after: float | None = None, **data: Any) -> None: ...

    def fail(self, name: str, started: float, error: BaseException,
             **extra: Any) -> Exception: ...
