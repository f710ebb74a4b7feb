"""How a fired action is carried out: a reply, a write inside TLS, a store or link change.

The hands of ``ScenarioRuntime`` (``runtime.py``), which is the eyes: it observes the
server and the proxy and decides what fires; this base class holds what actions change
(refused passwords, the connection limit, pending TLS failures, shaping for new links)
and carries each action out. Protocol actions become the hook's ``Reply``; store
actions mutate the shared ``Store``; transport actions act on the proxy link.

Who writes what: the proxy relays TLS without decrypting it, so it may only do what
happens below IMAP (RST, FIN, delays, a TLS alert). Protocol bytes fired without a
command in hand (a BYE or a malformed line from the control endpoint, a time, connection
or byte-count trigger) are written by the IMAP server's side of the connection, inside
TLS, never by the proxy (``_to_sessions``). A connection the server has not accepted yet
(a connection trigger fires before the TLS handshake) gets them in place of, or right
after, its greeting (``on_connect``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inboxlab.fakeserver.faults.proxy import FaultProxy, Link
from inboxlab.fakeserver.imap.hooks import ConnectionInfo, Reply, ServerHooks
from inboxlab.fakeserver.oauth_errors import OFFICE365_EXPIRED_BYE
from inboxlab.fakeserver.scenario import actions as act
from inboxlab.fakeserver.scenario import store_actions, transport_actions
from inboxlab.fakeserver.scenario.model import (
    TRANSPORT,
    Action,
    Bandwidth,
    Bye,
    CutMidLiteral,
    Down,
    Latency,
    MalformedResponse,
    PasswordChanged,
    Respond,
    Scenario,
    Slicer,
    Throttle,
    TlsFail,
    TokenChange,
    TooManyConnections,
)

if TYPE_CHECKING:
    from inboxlab.fakeserver.imap.server import Connection
    from inboxlab.fakeserver.imap.session import ImapSession
    from inboxlab.fakeserver.store import Store

# one logger for the runtime's story
log = logging.getLogger("inboxlab.fakeserver.scenario.runtime")


@dataclass
class Context:
    """Where an action fires: a command in hand, a link, or nowhere (time / control)."""

    link: Link | None = None
    session: ImapSession | None = None
    tag: str | None = None
    command_name: str | None = None



class ActionExecution(ServerHooks):
    """What actions change, and how each is carried out (``ScenarioRuntime``'s base)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.proxy: FaultProxy | None = None
        self.store: Store | None = None
        self.changed_passwords: set[str] = set()
        self.limit_override: int | None = None
        self.too_many_text = scenario.too_many_text
        self.starttls_failures = 0
        self.global_shaping: list[Action] = []  # time-triggered shaping also hits new links
        self._deliveries = 0
        # how the server's view of a connection maps to our proxy link: the port of the
        # proxy's upstream socket as the server sees it (set by ScenarioServer)
        self.peer_port: Callable[[ConnectionInfo], int | None] = lambda conn: None
        # the IMAP server's live connections (set by ScenarioServer): protocol bytes fired
        # without a command in hand are written there, inside TLS
        self.server_connections: Callable[[], Iterable[Connection]] = lambda: ()
        # protocol bytes for links the server has not accepted yet, by upstream port
        self._pending: dict[int, list[tuple[bytes, bool]]] = {}

    def on_connect(self, conn: ConnectionInfo) -> Reply | None:
        """Protocol bytes fired at this connection before the server had accepted it."""
        port = self.peer_port(conn)
        waiting = self._pending.pop(port, None) if port is not None else None
        if not waiting:
            return None
        data = b"".join(chunk for chunk, _ in waiting)
        if any(close for _, close in waiting):
            return Reply(data, close=True)  # a BYE greeting (RFC 3501 7.1.5)
        # not a BYE (a malformed line): after the greeting, which the server writes as
        # soon as this hook returns, before it next yields to the loop
        asyncio.get_running_loop().call_soon(self._write_after_greeting, conn, data)
        return None

    def _write_after_greeting(self, conn: ConnectionInfo, data: bytes) -> None:
        for served in self.server_connections():
            if served.info.conn_id == conn.conn_id:
                self._write_session(served, data, close=False)


    def _execute(self, action: Action, ctx: Context) -> Reply | None:
        if isinstance(action, TRANSPORT):
            targets = [ctx.link] if ctx.link else list(self.proxy.links.values() if self.proxy
                                                       else ())
            if ctx.link is None and isinstance(action, Latency | Bandwidth | Slicer):
                self.global_shaping.append(action)
            for link in targets:
                if link is not None:
                    transport_actions.apply(action, link, self.proxy)
            return None
        if isinstance(action, Bye):
            data = act.render_bye(action)
            if ctx.session is not None:
                return Reply(data, close=True)
            self._to_sessions(ctx, data, close=True)
            return None
        if isinstance(action, Respond | Throttle | MalformedResponse | CutMidLiteral):
            return self._answer(action, ctx)
        if isinstance(action, TokenChange):
            return self._token_change(action, ctx)
        if isinstance(action, PasswordChanged):
            self.changed_passwords.add((action.user or self.scenario.accounts[0].username).lower())
        elif isinstance(action, TooManyConnections):
            self.limit_override = action.limit
            if action.text:
                self.too_many_text = action.text
        elif isinstance(action, TlsFail):
            self.starttls_failures += action.count
            if self.proxy is not None:
                self.proxy.tls_failures_pending += action.count
        elif isinstance(action, Down):
            if self.proxy is not None:
                self.proxy.spawn(self.proxy.down(action.seconds))
        else:
            self._mutate(action)
        return None

    def _token_change(self, action: TokenChange, ctx: Context) -> Reply | None:
        if self.store is None:
            return None
        user = action.user or self.scenario.accounts[0].username
        issuer = self.store.oauth
        {"expire": issuer.expire, "revoke": issuer.revoke, "descope": issuer.descope}[
            action.change](user)
        if action.change == "expire" and self.scenario.config.oauth_errors == "office365":
            bye = f"* BYE {OFFICE365_EXPIRED_BYE}\r\n".encode()
            if ctx.session is not None:  # the answer to the command in hand, like `bye`
                return Reply(bye, close=True)
            self._to_sessions(ctx, bye, close=True)
        return None

    def _answer(self, action: Action, ctx: Context) -> Reply | None:
        tag = ctx.tag
        if isinstance(action, MalformedResponse) and tag is None:
            self._to_sessions(ctx, f"{action.line}\r\n".encode(), close=False)
            return None
        if tag is None:
            log.warning("%s needs a command to answer; none in hand", type(action).__name__)
            return None
        if isinstance(action, Respond):
            return Reply(act.render_respond(tag, action))
        if isinstance(action, Throttle):
            style = self.scenario.throttle_style if action.style == "profile" else action.style
            return Reply(act.render_throttle(tag, style, action.backoff_ms))
        if isinstance(action, MalformedResponse):
            return Reply(act.render_malformed(tag, action))
        return Reply(act.render_cut_literal(ctx.command_name or "FETCH"), close=True)

    def _to_sessions(self, ctx: Context, data: bytes, *, close: bool) -> None:
        """Write protocol bytes on the server's side of the targeted connections.

        Never through the proxy: on a TLS link it only sees ciphertext, and bytes it
        wrote would reach the client as garbage inside the TLS stream.
        """
        served_by_port: dict[int, Connection] = {}
        for served in self.server_connections():
            port = self.peer_port(served.info)
            if port is not None:
                served_by_port[port] = served
        if self.proxy is None:  # no proxy in front: every connection of the server
            for served in served_by_port.values():
                self._write_session(served, data, close=close)
            return
        links = [ctx.link] if ctx.link else list(self.proxy.links.values())
        for link in links:
            if link.closed:
                continue
            served_conn = served_by_port.get(link.upstream_port)
            if served_conn is None:  # not accepted yet (TLS handshake): at its greeting
                self._pending.setdefault(link.upstream_port, []).append((data, close))
            else:
                self._write_session(served_conn, data, close=close)

    def _write_session(self, served: Connection, data: bytes, *, close: bool) -> None:
        """Bytes onto the server's (TLS-wrapped) stream at its next response boundary.

        Never inside a response being streamed (a FETCH literal): the server's pipe
        writes them between two responses, and after a BYE (``close``) sends nothing
        more, so the client reads whole responses, the BYE, then EOF. The pipe's own
        write puts them in the transcript.
        """
        served.inject(data, close=close)

    def _mutate(self, action: Action) -> None:
        if self.store is None:
            return
        user = getattr(action, "user", None) or self.scenario.accounts[0].username
        # may raise (a folder gone): observe() and fire() each count and contain it
        self._deliveries = store_actions.apply(self.store, action, user, self._deliveries)
