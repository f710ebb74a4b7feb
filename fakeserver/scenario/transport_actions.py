"""Transport actions: what the fault proxy does to a link, below IMAP.

The routing rule of the runtime in one place: the proxy relays bytes (TLS included)
without reading them, so it only gets the actions that need no protocol bytes: a real
RST or FIN, a tarpit, latency, bandwidth, slicing, a data limit (and, in the proxy
itself, the TLS alert and the "down" listener). Anything that writes IMAP text (BYE,
NO/BAD, a malformed line, a literal cut short) belongs to the IMAP server's side of the
connection, inside TLS; see ``runtime.ScenarioRuntime._to_sessions``.
"""

from __future__ import annotations

from inboxlab.fakeserver.faults.proxy import FaultProxy, Link
from inboxlab.fakeserver.scenario.model import (
    TRANSPORT,
    Action,
    Bandwidth,
    Close,
    Latency,
    LimitData,
    Reset,
    Slicer,
    Tarpit,
)

__all__ = ["TRANSPORT", "apply"]


def apply(action: Action, link: Link, proxy: FaultProxy | None) -> None:
    """Act on ``link`` now, or arm its shapers so the proxy acts at the right byte."""
    if not isinstance(action, TRANSPORT):
        raise TypeError(f"{type(action).__name__} is not a transport action")
    if isinstance(action, Reset):
        if action.after_bytes:
            _arm_limit(link, action.after_bytes, action.direction, "reset")
        else:
            link.reset(action.direction)
            if proxy is not None:
                proxy.counters["resets"] += 1
    elif isinstance(action, Close):
        if action.after_bytes:
            _arm_limit(link, action.after_bytes, action.direction, "close")
        else:
            link.close(action.direction)
    elif isinstance(action, LimitData):
        _arm_limit(link, action.bytes, action.direction, "close")
    else:
        for shaper in link.shaper(action.direction):
            if isinstance(action, Tarpit):
                shaper.tarpit = True
            elif isinstance(action, Latency):
                shaper.set_latency(action.ms, action.jitter_ms, action.seed)
            elif isinstance(action, Bandwidth):
                shaper.bytes_per_s = action.bytes_per_s
            elif isinstance(action, Slicer):
                shaper.slice_size = action.size


def _arm_limit(link: Link, count: int, direction: str, how: str) -> None:
    for shaper in link.shaper(direction):
        shaper.limit_left = count
    link.on_limit = how
