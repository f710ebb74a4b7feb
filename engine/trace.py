"""The trace hook: one tiny hub every observer (trace viewer, timeline, diagnostics) hangs on.

httpcore-style: whoever does something calls ``trace(name, info)`` with a dotted
name (``imap.connect.started``, ``account.state``, ``pool.acquired``) and a plain
mapping. The hub fans it out to subscribers. Redaction happens at the source (the
IMAP client never hands a password to its trace), so a subscriber may write what
it gets to disk as is.

The IMAP client calls its trace as ``trace(name, **info)``; ``TraceHub.client_hook``
is that shape, so one hub serves both the client and the account.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

log = logging.getLogger(__name__)

TraceFn = Callable[[str, Mapping[str, Any]], None]
_Fn = TypeVar("_Fn")


def subscription(subscribers: list[_Fn], fn: _Fn) -> Callable[[], None]:
    """Append ``fn`` to ``subscribers``; the returned function removes it (at most once,
    harmless when already gone). The trace hub, the state machine and the account share it."""
    subscribers.append(fn)

    def unsubscribe() -> None:
        if fn in subscribers:
            subscribers.remove(fn)

    return unsubscribe


class TraceHub:
    """Subscribe/unsubscribe/emit. A failing subscriber is logged and never stops the engine."""

    def __init__(self) -> None:
        self._subscribers: list[TraceFn] = []

    def subscribe(self, fn: TraceFn) -> Callable[[], None]:
        """Register ``fn(name, info)``; returns a function that unsubscribes it."""
        return subscription(self._subscribers, fn)

    def unsubscribe(self, fn: TraceFn) -> None:
        if fn in self._subscribers:
            self._subscribers.remove(fn)

    @property
    def active(self) -> bool:
        """Whether anyone listens (the client skips building trace lines otherwise)."""
        return bool(self._subscribers)

    def emit(self, name: str, info: Mapping[str, Any] | None = None) -> None:
        frozen = MappingProxyType(dict(info or {}))
        for fn in list(self._subscribers):
            try:
                fn(name, frozen)
            except Exception:
                log.exception("trace subscriber %r failed on %s", fn, name)

    __call__ = emit

    def client_hook(self, name: str, **info: Any) -> None:
        """The ``trace(name, **info)`` shape ``engine.imap.ImapClient`` calls."""
        self.emit(name, info)

    def __repr__(self) -> str:
        return f"TraceHub(subscribers={len(self._subscribers)})"


__all__ = ["TraceFn", "TraceHub", "subscription"]
