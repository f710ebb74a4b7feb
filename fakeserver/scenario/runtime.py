"""The scenario's brain at run time: observes the server and the proxy, fires the timeline.

``ScenarioRuntime`` is both the IMAP server's fault hook (``ServerHooks``: commands,
logins, transcripts) and the proxy's ``LinkObserver`` (connections, byte counts). It
turns what it sees into observations for the sans-I/O ``TriggerEngine``; what fires is
carried out by its base class, ``execute.ActionExecution`` (replies, writes inside TLS,
store and link changes).

``fire(action)`` runs any action now; the control endpoint uses it.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inboxlab.fakeserver.errors import FakeServerError
from inboxlab.fakeserver.faults.proxy import Link
from inboxlab.fakeserver.imap import mutf7
from inboxlab.fakeserver.imap.hooks import ConnectionInfo, Reply
from inboxlab.fakeserver.scenario import actions as act
from inboxlab.fakeserver.scenario import transport_actions
from inboxlab.fakeserver.scenario.execute import ActionExecution, Context
from inboxlab.fakeserver.scenario.model import Action, Scenario
from inboxlab.fakeserver.scenario.triggers import (
    BytesMoved,
    CommandSeen,
    Connected,
    Fired,
    LoginAttempt,
    Observation,
    Tick,
    TriggerEngine,
)

if TYPE_CHECKING:
    from inboxlab.fakeserver.imap.session import ImapSession
    from inboxlab.fakeserver.imap.syntax.commands import Command

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FiredRecord:
    """What fired, for the control endpoint's log and for tests."""

    at_s: float
    event: str
    action: str
    conn: int | None


class ScenarioRuntime(ActionExecution):
    """Fault hook + link observer for one served scenario."""

    def __init__(self, scenario: Scenario, *, clock: Callable[[], float] = time.monotonic,
                 record_transcripts: bool = False) -> None:
        super().__init__(scenario)
        self.record_transcripts = record_transcripts  # whole sessions kept in memory: tests
        self.engine = TriggerEngine(scenario.timeline)
        self.counters: Counter[str] = Counter()
        self.fired: list[FiredRecord] = []
        self.transcripts: dict[int, bytearray] = {}
        self._clock = clock
        self._start = clock()
        self._login_tags: dict[int, str] = {}
        self._inbound: dict[int, bytes] = {}  # recent client bytes per server connection
        self._think_rng = random.Random(scenario.seed)

    def now(self) -> float:
        return self._clock() - self._start

    # -- observation plumbing -----------------------------------------------------------

    def observe(self, obs: Observation, ctx: Context) -> Reply | None:
        reply: Reply | None = None
        for fired in self.engine.observe(obs):
            try:
                got = self._run(fired, ctx)
            except FakeServerError as exc:  # the store refused it (a folder gone): expected
                log.warning("scenario %s: event %r refused: %s", self.scenario.name,
                            fired.event.name, exc)
                self.counters["action_errors"] += 1
                continue
            except Exception:  # a scripted fault must never take the server down
                log.exception("scenario %s: event %r failed", self.scenario.name,
                              fired.event.name)
                self.counters["action_errors"] += 1
                continue
            reply = reply or got
        return reply

    def tick(self) -> float | None:
        """Fire what is due by the clock; returns the next deadline (seconds since start)."""
        self.observe(Tick(self.now()), Context())
        return self.engine.next_deadline()

    def fire(self, action: Action, *, conn: int | None = None) -> None:
        """Run ``action`` now (the control endpoint): on one link, or on all of them.

        A failure (the store refusing a delivery into a folder that is gone) is counted
        and raised, so the caller can say so instead of claiming success.
        """
        link = self.proxy.links.get(conn) if (self.proxy and conn is not None) else None
        self._record("control", action, conn)
        try:
            self._execute(action, Context(link=link))
        except Exception as exc:
            log.warning("scenario %s: control action %s failed: %s", self.scenario.name,
                        type(action).__name__, exc)
            self.counters["action_errors"] += 1
            raise

    def _run(self, fired: Fired, ctx: Context) -> Reply | None:
        self._record(fired.event.name, fired.event.action, fired.conn)
        return self._execute(fired.event.action, ctx)

    def _record(self, name: str, action: Action, conn: int | None) -> None:
        self.counters["fired"] += 1
        self.counters[f"action.{type(action).__name__}"] += 1
        self.fired.append(FiredRecord(round(self.now(), 3), name, type(action).__name__, conn))
        log.info("scenario %s: %s fired (conn %s)", self.scenario.name, name, conn)

    def _link_of(self, conn: ConnectionInfo) -> Link | None:
        if self.proxy is None:
            return None
        port = self.peer_port(conn)
        if port is not None:
            return self.proxy.link_by_upstream_port(port)
        return self.proxy.link_for_peer(conn.peer)

    def _conn_number(self, session: ImapSession) -> tuple[int, Link | None]:
        link = self._link_of(session.conn)
        return (link.conn_id if link else session.conn.conn_id), link

    # -- ServerHooks ------------------------------------------------------------------------

    def on_command(self, session: ImapSession, command: Command) -> Reply | None:
        conn, link = self._conn_number(session)
        self.counters["commands"] += 1
        name = f"UID {command.name}" if command.uid else command.name
        if command.name in ("LOGIN", "AUTHENTICATE"):
            self._login_tags[session.conn.conn_id] = command.tag
        mailbox = getattr(command.args, "mailbox", None) if command.name in (
            "SELECT", "EXAMINE") else (session.view.folder.name if session.view else None)
        if mailbox is not None:  # scenarios name folders in Unicode; IMAP in modified UTF-7
            with contextlib.suppress(ValueError):
                mailbox = mutf7.decode(mailbox)
        ctx = Context(link=link, session=session, tag=command.tag, command_name=name)
        line = self._raw_line(session.conn.conn_id, command.tag) or _command_line(name, command)
        reply = self.observe(CommandSeen(conn, name, line, mailbox), ctx)
        if reply is None and command.name == "STARTTLS" and self.starttls_failures > 0:
            self.starttls_failures -= 1
            if link is not None:
                link.fail_tls_next = True
                return Reply(f"{command.tag} OK Begin TLS negotiation now\r\n".encode())
        if reply is None and link is not None:
            link.delay_to_client_s = self._think_time(command, mailbox)
        return reply

    def on_login(self, session: ImapSession, username: str, success: bool) -> Reply | None:
        conn, link = self._conn_number(session)
        self.counters["logins"] += 1
        tag = self._login_tags.get(session.conn.conn_id, "*")
        ctx = Context(link=link, session=session, tag=tag, command_name="LOGIN")
        reply = self.observe(LoginAttempt(conn, username), ctx)
        if reply is not None:
            return reply
        if username.lower() in self.changed_passwords:
            self.counters["login_refused.password_changed"] += 1
            return Reply(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n"
                         .encode())
        if not success:
            return None
        limit = self.limit_override
        if limit is None:
            limit = self.scenario.config.max_connections_per_user
        if limit is not None and session.registry.count(username) >= limit:
            self.counters["login_refused.too_many"] += 1
            return Reply(act.render_too_many(tag, self.too_many_text))
        return None

    def _raw_line(self, conn_id: int, tag: str) -> str | None:
        """The command's own line from the (redacted) transcript, tag removed."""
        recent = self._inbound.get(conn_id, b"")
        marker = tag.encode() + b" "
        start = recent.rfind(b"\n" + marker)
        start = start + 1 if start >= 0 else (0 if recent.startswith(marker) else -1)
        if start < 0:
            return None
        end = recent.find(b"\n", start)
        line = recent[start + len(marker): end if end >= 0 else len(recent)]
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def on_transcript(self, conn: ConnectionInfo, direction: str, data: bytes) -> None:
        if direction == "in":
            self._inbound[conn.conn_id] = (self._inbound.get(conn.conn_id, b"") + data)[-8192:]
        if not self.record_transcripts:
            return
        buf = self.transcripts.setdefault(conn.conn_id, bytearray())
        buf += b"C: " if direction == "in" else b"S: "
        buf += data

    def on_disconnect(self, conn: ConnectionInfo) -> None:
        self._login_tags.pop(conn.conn_id, None)
        self._inbound.pop(conn.conn_id, None)
        port = self.peer_port(conn)
        if port is not None:
            self._pending.pop(port, None)

    # -- LinkObserver -----------------------------------------------------------------------

    def link_opened(self, link: Link) -> None:
        for shaping in self.global_shaping:
            transport_actions.apply(shaping, link, self.proxy)
        self.observe(Connected(link.conn_id), Context(link=link))

    def link_bytes(self, link: Link, direction: str, total: int) -> None:
        self.observe(BytesMoved(link.conn_id, direction, total), Context(link=link))

    def link_budget(self, link: Link, direction: str, total: int) -> int | None:
        return self.engine.bytes_budget(link.conn_id, direction, total)

    def link_closed(self, link: Link) -> None:
        self.counters["links_closed"] += 1
        self._pending.pop(link.upstream_port, None)

    def _think_time(self, command: Command, mailbox: str | None) -> float:
        lat = self.scenario.latency
        ms = lat.command_ms
        if lat.jitter_ms:
            ms += self._think_rng.uniform(0.0, lat.jitter_ms)
        if lat.select_ms_per_1000 and command.name in ("SELECT", "EXAMINE") and mailbox:
            folder = None
            if self.store is not None:
                for account in self.store.accounts.values():
                    folder = account.folder(mutf7.encode(mailbox))
                    if folder is not None:
                        break
            if folder is not None:
                ms += lat.select_ms_per_1000 * len(folder) / 1000.0
        return ms / 1000.0


def _command_line(name: str, command: Command) -> str:
    """A readable command line for regex triggers: name plus the parsed arguments."""
    args = command.args
    parts = [name]
    for attr in ("mailbox", "sequence_set", "attributes", "items"):
        value = getattr(args, attr, None)
        if value is not None:
            parts.append(str(value))
    return " ".join(parts)
