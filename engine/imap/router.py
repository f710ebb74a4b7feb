"""Who gets which event: the pending-command table and the routing of parsed responses.

No sockets here (``connection`` owns those); the router is handed the parser after
each read and decides, for every event:

- ``Tagged`` completes the pending command with that tag (several may be in flight:
  the pipeline is a dict of tag -> ``Pending``);
- ``Continuation`` releases the oldest command waiting to send a literal or in IDLE;
- ``Fetch`` during a streaming command is appended to that command's batch; batches
  are handed to the consumer once per socket read through a bounded queue, so a slow
  consumer slows the socket (backpressure) instead of growing memory; runs of
  same-shape FETCHes take the parser's fast path, traced as one summary per run;
- untagged data is credited to the oldest command in flight (IMAP does not tag it);
- EXISTS/EXPUNGE/VANISHED/FETCH-without-command/BYE/... also go to the unsolicited
  listeners (the sync engine, an IDLE session), whenever they arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from inboxlab.engine.errors import EngineError, LimitExceeded, ProtocolViolation, truncate
from inboxlab.engine.imap.limits import Limits
from inboxlab.engine.imap.model import (
    Bye,
    Capability,
    Continuation,
    Event,
    Exists,
    Expunge,
    Fetch,
    Flags,
    Greeting,
    Recent,
    Tagged,
    UntaggedStatus,
    Vanished,
)
from inboxlab.engine.imap.protocol import ResponseParser

Trace = Callable[..., None]
Listener = Callable[[Event | EngineError], None]

_UNSOLICITED = (Exists, Expunge, Vanished, Recent, Flags, Bye, Fetch, UntaggedStatus)


@dataclass
class Pending:
    """One command in flight and everything its caller waits on."""

    tag: str
    name: str
    stage: str
    done: asyncio.Future[Tagged]
    untagged: list[Event] = field(default_factory=list)
    collect: bool = True
    cont: asyncio.Future[str] | None = None
    stream: asyncio.Queue[list[Fetch] | None] | None = None
    batch: list[Fetch] = field(default_factory=list)
    finished: bool = False
    abandoned: bool = False
    pause_after: bool = False
    violation: ProtocolViolation | None = None
    limits: Limits | None = None  # what its answer may need beyond the session's


class Router:
    """The pending-command table, the unsolicited listeners and the session's capabilities."""

    def __init__(self, trace: Trace | None) -> None:
        self._trace = trace
        self.pending: dict[str, Pending] = {}
        self.streams: list[Pending] = []
        self.greeting: asyncio.Future[Greeting] | None = None
        self.error: EngineError | None = None
        self.bye: Bye | None = None
        self.caps: frozenset[str] | None = None
        self.literal_plus = False
        self.literal_minus = False
        self._listeners: list[Listener] = []

    def trace(self, name: str, **info: Any) -> None:
        if self._trace is not None:
            self._trace(name, **info)

    def add_listener(self, fn: Listener) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(fn)

    def set_caps(self, caps: tuple[str, ...] | frozenset[str] | None) -> None:
        self.caps = None if caps is None else frozenset(c.upper() for c in caps)
        self.literal_plus = self.caps is not None and "LITERAL+" in self.caps
        self.literal_minus = self.caps is not None and "LITERAL-" in self.caps

    def route(self, parser: ResponseParser) -> bool:
        """Route every complete event; True if reading must stop: a pause (STARTTLS) or
        a broken size limit (``error`` is set then)."""
        tracing = self._trace is not None
        pending = self.pending
        cur = next(iter(pending.values()), None)
        while True:
            if cur is not None and cur.stream is not None:
                if tracing:
                    self._traced_run(parser, cur)
                elif cur.abandoned:
                    parser.fetch_run([])
                else:
                    parser.fetch_run(cur.batch)
            try:
                ev = parser.next_event()
            except LimitExceeded as exc:
                # Not skippable: the announced bytes would have to be read to find the
                # next response. Every waiter fails with it; the reader stops and closes.
                self.trace("imap.protocol_violation", error=exc.message, data=exc.server_text,
                           limit=exc.limit)
                greeting = self.greeting is not None and not self.greeting.done()
                exc.stage = "imap_greeting" if greeting else cur.stage if cur else exc.stage
                self.fail_all(exc)
                return True
            except ProtocolViolation as exc:
                self.trace("imap.protocol_violation", error=exc.message, data=exc.server_text)
                if self.greeting is not None and not self.greeting.done():
                    exc.stage, exc.code = "imap_greeting", "bad_greeting"
                    self.greeting.set_exception(exc)  # not IMAP at all (POP3? HTTP?)
                elif cur is not None and cur.violation is None:
                    exc.stage = cur.stage
                    cur.violation = exc
                continue
            if ev is None:
                return False
            if tracing:
                self.trace("imap.line.in", line=truncate(parser.last_raw, 500))
            kind = type(ev)
            if kind is Fetch and cur is not None and cur.stream is not None:
                if not cur.abandoned:
                    cur.batch.append(cast(Fetch, ev))
                continue
            if kind is Tagged:
                tagged = cast(Tagged, ev)
                p = pending.pop(tagged.tag, None)
                cur = next(iter(pending.values()), None)
                if p is None:
                    self.trace("imap.protocol_violation", error=f"unknown tag {tagged.tag}")
                    continue
                p.finished = True
                self.absorb_code(tagged)
                if not p.done.done():
                    p.done.set_result(tagged)
                if p.pause_after and tagged.status == "OK":
                    return True
                continue
            if kind is Continuation:
                for p in pending.values():
                    if p.cont is not None and not p.cont.done():
                        p.cont.set_result(cast(Continuation, ev).text)
                        break
                else:
                    self.trace("imap.protocol_violation", error="unexpected continuation")
                continue
            if kind is Greeting:
                self.absorb_code(ev)
                if self.greeting is not None and not self.greeting.done():
                    self.greeting.set_result(cast(Greeting, ev))
                continue
            if kind is Capability:
                self.set_caps(cast(Capability, ev).caps)
            elif kind is Bye:
                self.bye = cast(Bye, ev)
            elif kind is UntaggedStatus:
                self.absorb_code(ev)
            if cur is not None and cur.collect:
                cur.untagged.append(ev)
            if kind in _UNSOLICITED:
                self.notify(ev)

    def _traced_run(self, parser: ResponseParser, cur: Pending) -> None:
        """The FETCH fast path with a tracer listening: one ``imap.fetch.run`` summary per
        run of same-shape FETCH responses (how many, their sequence numbers and UIDs, the
        bytes), not one ``imap.line.in`` per message. The first response of each shape
        still goes through ``next_event`` and is traced as a line, so the trace shows
        what the responses look like; a 100k scan costs a few hundred trace events, not
        100k (which made tracing 3-4x slower than the scan itself)."""
        out: list[Fetch] = [] if cur.abandoned else cur.batch
        start = len(out)
        before = parser.buffered
        n = parser.fetch_run(out)
        if n:
            first, last = out[start], out[-1]
            self.trace("imap.fetch.run", tag=cur.tag, count=n, seqs=f"{first.seq}:{last.seq}",
                       uids=f"{first.uid}:{last.uid}", bytes=before - parser.buffered)

    def notify(self, item: Event | EngineError) -> None:
        """Tell listeners; a listener's bug must not take the connection down with it."""
        for fn in list(self._listeners):
            try:
                fn(item)
            except Exception as exc:
                self.trace("imap.listener.failed", error=repr(exc))

    def absorb_code(self, ev: Any) -> None:
        if ev.code == "CAPABILITY":
            self.set_caps(tuple(str(c) for c in ev.code_args))

    async def flush_streams(self) -> None:
        for p in list(self.streams):
            assert p.stream is not None
            if p.batch and not p.abandoned:
                batch, p.batch = p.batch, []
                await p.stream.put(batch)
            if p.finished:
                self.streams.remove(p)
                if not p.abandoned:
                    await p.stream.put(None)

    def fail_all(self, err: EngineError) -> None:
        """The connection is gone: every waiter gets ``err`` (with its own stage)."""
        if self.error is None:
            self.error = err
        self.trace("imap.connection.failed", code=err.code, error=err.message)
        futures: list[tuple[asyncio.Future[Any], str]] = []
        if self.greeting is not None:
            futures.append((self.greeting, "imap_greeting"))
        for p in self.pending.values():
            futures.append((p.done, p.stage))
            if p.cont is not None:
                futures.append((p.cont, p.stage))
        for fut, stage in futures:
            if not fut.done():
                mine = err
                if err.stage == "imap_command":  # say which command it interrupted
                    mine = copy.copy(err)
                    mine.stage = stage
                fut.set_exception(mine)
                fut.exception()  # mark retrieved: not every waiter is still there
        for p in self.streams:
            # What arrived whole before the failure still reaches the consumer (then the
            # end, then ``finish`` raises ``err``); only a full queue is dropped instead.
            q = p.stream
            assert q is not None
            if p.batch and not p.abandoned and (q.maxsize <= 0 or q.maxsize - q.qsize() >= 2):
                q.put_nowait(p.batch)
            p.batch = []
            if q.full():
                while not q.empty():
                    q.get_nowait()
            q.put_nowait(None)
        self.streams.clear()
        self.pending.clear()
        self.notify(err)
