"""Named crash points for crash-recovery tests: ``crashpoint("outbox.after_submit")``.

A test runs the engine in a child process with ``INBOXLAB_CRASH_AT=<name>`` (or
``<name>@<n>`` for the n-th time the point is reached) and the child kills itself with
SIGKILL there - no cleanup, no ``finally``, no flushed buffers, like a power cut or the
OOM killer. Unset (always, outside such tests) a crash point costs one dict lookup.

Why SIGKILL rather than an exception: an exception unwinds through ``finally`` blocks and
context managers that a real crash never runs, so it can hide exactly the bugs these
tests look for (a commit in an ``__aexit__``, a temp file removed on the way out).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "INBOXLAB_CRASH_AT"
_hits: Counter[str] = Counter()


def _target() -> tuple[str, int] | None:
    spec = os.environ.get(ENV, "")
    if not spec:
        return None
    name, _, nth = spec.partition("@")
    return name, int(nth) if nth.isdigit() and int(nth) > 0 else 1


def crashpoint(name: str) -> None:
    """SIGKILL this process if ``INBOXLAB_CRASH_AT`` names this point (and this hit)."""
    target = _target()
    if target is None or target[0] != name:
        return
    _hits[name] += 1
    if _hits[name] == target[1]:
        os.kill(os.getpid(), signal.SIGKILL)


def reached(name: str) -> int:
    """How often ``name`` was reached while it was the armed point (for the harness)."""
    return _hits[name]


__all__ = ["ENV", "crashpoint", "reached"]
