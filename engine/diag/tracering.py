"""The protocol trace: a ring of the last N lines per connection, redacted when recorded.

Subscribe ``TraceRing.record`` to the engine's trace hub (``engine.trace.TraceHub``); it
keeps ``imap.line.in``/``imap.line.out`` as protocol lines and every other trace event
as a one-line note, so "what happened just before it broke" is one list. Lines pass
through a ``Redactor`` on the way in: nothing secret is ever stored, so the ring may be
shown, exported in a bundle or written to disk as it is.

Connections are told apart by ``info["conn"]`` when the emitter sets it, else by the tag
prefix of the line (the account's scanner tags ``A...``, its watcher ``W...``).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from inboxlab.engine.diag.redact import Redactor

DEFAULT_CAPACITY = 10_000
_UNTAGGED = "imap"


@dataclass(frozen=True)
class TraceLine:
    """One recorded line: ``direction`` is ``>`` (client to server), ``<`` or ``*`` (note)."""

    seq: int
    at: float
    conn: str
    direction: str
    text: str

    def render(self) -> str:
        millis = int(self.at * 1000) % 1000
        stamp = time.strftime("%H:%M:%S", time.gmtime(self.at)) + f".{millis:03d}"
        return f"{stamp} {self.conn} {self.direction} {self.text}"

    def as_dict(self) -> dict[str, object]:
        return {"seq": self.seq, "at": self.at, "conn": self.conn, "dir": self.direction,
                "text": self.text}


def _note(name: str, info: Mapping[str, Any]) -> str:
    parts = [f"{k}={v!r}" for k, v in info.items() if k not in ("line", "conn")]
    return name + (" " + " ".join(parts) if parts else "")


class TraceRing:
    """Rings of ``capacity`` lines per connection. ``bodies=False`` keeps message literals
    out (replaced by their size); ``secrets`` are scrubbed wherever they would appear."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, *, bodies: bool = True,
                 secrets: Iterable[str] = (), clock: Callable[[], float] = time.time) -> None:
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive int, got {capacity!r}")
        self.capacity = capacity
        self.bodies = bodies
        self._secrets = tuple(secrets)
        self._clock = clock
        self._rings: dict[str, deque[TraceLine]] = {}
        self._redactors: dict[str, Redactor] = {}
        self._seq = 0
        self._last_conn = _UNTAGGED

    def __repr__(self) -> str:
        return f"TraceRing(connections={len(self._rings)}, capacity={self.capacity})"

    def _conn_of(self, info: Mapping[str, Any], line: str | None) -> str:
        given = info.get("conn")
        if given:
            return str(given)
        if line and not line.startswith(("*", "+")):
            tag = line.split(" ", 1)[0]
            prefix = tag.rstrip("0123456789")
            if prefix and prefix != tag:
                return prefix
        return self._last_conn

    def _redactor(self, conn: str) -> Redactor:
        r = self._redactors.get(conn)
        if r is None:
            r = self._redactors[conn] = Redactor(self._secrets, bodies=self.bodies)
        return r

    def add(self, conn: str, direction: str, text: str) -> TraceLine:
        """Record one line (redacting it first); the entry point for proxies and the probe."""
        text = text.rstrip("\r\n")
        red = self._redactor(conn)
        if direction == ">":
            text = red.client(text)
        elif direction == "<":
            text = red.server(text)
        else:
            text = red.server(text)  # notes may carry server words; scrub them the same way
        self._seq += 1
        entry = TraceLine(self._seq, self._clock(), conn, direction, text)
        ring = self._rings.get(conn)
        if ring is None:
            ring = self._rings[conn] = deque(maxlen=self.capacity)
        ring.append(entry)
        self._last_conn = conn
        return entry

    def record(self, name: str, info: Mapping[str, Any]) -> None:
        """A ``TraceHub`` subscriber: ``hub.subscribe(ring.record)``."""
        line = info.get("line")
        if name in ("imap.line.out", "imap.line.in", "smtp.line.out", "smtp.line.in") \
                and isinstance(line, str):
            conn = self._conn_of(info, line)
            self.add(conn, ">" if name.endswith(".out") else "<", line)
            return
        self.add(self._conn_of(info, None), "*", _note(name, info))

    def client_hook(self, name: str, **info: Any) -> None:
        """The ``trace(name, **info)`` shape ``engine.imap.ImapClient`` calls."""
        self.record(name, info)

    @property
    def connections(self) -> list[str]:
        return list(self._rings)

    def lines(self, conn: str | None = None) -> list[TraceLine]:
        """One connection's lines, or all of them in recording order."""
        if conn is not None:
            return list(self._rings.get(conn, ()))
        return sorted((e for r in self._rings.values() for e in r), key=lambda e: e.seq)

    def texts(self, conn: str | None = None, direction: str | None = None) -> list[str]:
        return [e.text for e in self.lines(conn) if direction is None or e.direction == direction]

    def as_list(self) -> list[dict[str, object]]:
        return [e.as_dict() for e in self.lines()]


__all__ = ["DEFAULT_CAPACITY", "TraceLine", "TraceRing"]
