"""The fake SMTP server: aiosmtpd protocols on the caller's running loop.

No aiosmtpd ``Controller`` (it runs its own loop in a thread): listeners are made with
``loop.create_server`` so the SMTP and IMAP servers share one loop and one Store, and
a message submitted here is in an IMAP client's INBOX without any cross-thread hop.

aiosmtpd speaks the protocol; this module adds what a test lab needs: accounts from
the Store (AUTH PLAIN/LOGIN), STARTTLS and an implicit-TLS listener, delivery
(``delivery.Router``), provider auto-save into Sent, personas, and scripted faults
(``faults.FaultPlan``) carried out the way a real server would: a 421 reply and a
closed socket, a 4xx/5xx reply, or a connection cut in the middle of DATA.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, AnyStr

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from inboxlab.fakeserver.lifecycle import Served
from inboxlab.fakeserver.oauth import TokenIssuer
from inboxlab.fakeserver.smtp.config import FaultStage, SmtpConfig
from inboxlab.fakeserver.smtp.delivery import (
    DeliveryLog,
    Envelope,
    LocalMailboxes,
    Router,
    StoreMailboxes,
    received_line,
)
from inboxlab.fakeserver.smtp.faults import FaultPlan
from inboxlab.fakeserver.smtp.oauth import SmtpOAuth
from inboxlab.fakeserver.smtp.oauth import authenticate as oauth_authenticate
from inboxlab.fakeserver.smtp.personas import Outgoing, PersonaScheduler, Timer
from inboxlab.fakeserver.store import Store
from inboxlab.fakeserver.tls import TlsMaterial, mint

log = logging.getLogger(__name__)

CheckLogin = Callable[[str, str], str | None]
"""(login, password) -> the account name, or None when the credentials are wrong."""

IDENT = "inboxlab fake ESMTP"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Refuse(asyncio.Protocol):
    """A connection refused at the greeting: say the 421 line and hang up (RFC 5321 3.8)."""

    def __init__(self, reply: str) -> None:
        self._reply = reply

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(self._reply.encode("ascii", "replace") + b"\r\n")
        transport.close()


class _Session(Session):
    """aiosmtpd's Session without the deprecation warning it logs on every AUTH.

    aiosmtpd itself still assigns ``login_data`` after a successful AUTH and warns
    about its own assignment; we read ``auth_data`` instead, so the noise goes.
    """

    @property
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class _SmtpProtocol(SMTP):
    """aiosmtpd's SMTP with the two behaviours its handler hooks cannot express.

    A 421 reply closes the connection after it is sent, wherever it comes from; a
    ``drop_mid_data`` fault cuts the socket after the first line of the message body;
    ``drop_after_data``/``stall_after_data`` store the message, then cut or go silent.
    """

    def __init__(self, owner: FakeSmtpServer, *, implicit_tls: bool, **kwargs: Any) -> None:
        super().__init__(owner._handler, **kwargs)
        self.owner = owner
        self.implicit_tls = implicit_tls
        # A 535 fault refuses every AUTH on its connection (clients such as smtplib
        # retry with the next mechanism; a provider that rejects the credentials
        # rejects them whatever the mechanism). Not named auth_*: see _Handler.
        self.refused_login: str | None = None
        if implicit_tls:
            # aiosmtpd's "AUTH needs TLS" check only knows STARTTLS; on an implicit-TLS
            # socket the channel is already encrypted. Passing auth_require_tls=False to
            # __init__ instead would log a (here false) "AUTH without TLS" warning.
            self._auth_require_tls = False
        self.silent = False

    def go_silent(self, *, drop: bool) -> None:
        """No reply from now on; ``drop`` also cuts the socket (the message is stored)."""
        self.silent = True
        if drop and isinstance(self.transport, asyncio.Transport):
            self.transport.abort()
            self.transport = None  # stop the command loop, as for drop_mid_data

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.owner._connections.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.owner._connections.discard(self)
        super().connection_lost(error)

    def _create_session(self) -> Session:  # a documented extension point of aiosmtpd
        return _Session(self.loop)

    @property
    def tls_active(self) -> bool:
        return self.implicit_tls or self._tls_protocol is not None

    async def push(self, status: AnyStr) -> None:
        if self.silent:
            return  # after a *_after_data fault the client hears nothing more
        await super().push(status)
        first = status[:3] if isinstance(status, str) else status[:3].decode("ascii", "replace")
        if first == "421" and self.transport is not None:
            self.transport.close()

    async def smtp_DATA(self, arg: str) -> None:
        session, envelope = self.session, self.envelope
        ready = (
            not arg
            and session is not None
            and session.host_name
            and envelope is not None
            and envelope.rcpt_tos
            and (not self._auth_required or session.authenticated)
        )
        plan = self.owner.faults
        if ready and plan.peek("data") == "drop_mid_data":
            plan.take("data")
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            with contextlib.suppress(asyncio.LimitOverrunError, asyncio.IncompleteReadError):
                await self._reader.readuntil(b"\r\n")  # the body has started arriving
            if isinstance(self.transport, asyncio.Transport):
                self.transport.abort()
            # Stop the command loop now (it runs while ``transport`` is set): body lines
            # already buffered must not be read as commands before connection_lost.
            self.transport = None
            return
        await super().smtp_DATA(arg)


class _Handler:
    """aiosmtpd handler hooks: faults first, then the normal answer.

    Attribute names matter: aiosmtpd treats every ``handle_*`` as a hook and every
    ``auth_*`` as a SASL mechanism, so nothing else here may start with those.
    """

    def __init__(self, owner: FakeSmtpServer) -> None:
        self.owner = owner

    def _fault(self, stage: FaultStage) -> str | None:
        fired = self.owner.faults.take(stage)
        return fired.reply if fired is not None else None

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        return await oauth_authenticate(self.owner.oauth, server, "XOAUTH2", args)

    async def auth_OAUTHBEARER(self, server: SMTP, args: list[str]) -> AuthResult:
        return await oauth_authenticate(self.owner.oauth, server, "OAUTHBEARER", args)

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, hostname: str,
        responses: list[str],
    ) -> list[str]:
        reply = self._fault("ehlo")
        if reply is not None:
            return [reply]
        session.host_name = hostname
        return responses

    async def handle_HELO(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, hostname: str
    ) -> str:
        reply = self._fault("ehlo")
        if reply is not None:
            return reply
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_AUTH(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, args: list[str]
    ) -> Any:
        assert isinstance(server, _SmtpProtocol)
        reply = server.refused_login or self._fault("auth")
        if reply is not None:
            server.refused_login = reply
            return reply
        return MISSING  # "no opinion": aiosmtpd runs the mechanism and the authenticator

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str,
        mail_options: list[str],
    ) -> str:
        reply = self._fault("mail")
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self._fault("rcpt")
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        assert isinstance(server, _SmtpProtocol)
        fired = self.owner.faults.take("data")
        if fired is not None and fired.kind in ("drop_after_data", "stall_after_data"):
            # The provider stored it; the client never hears so (a cut, or a reply so
            # late its timeout fired first): the one outcome it cannot know.
            accepted = self.owner._accept(server, session, envelope)
            server.go_silent(drop=fired.kind == "drop_after_data")
            return accepted
        if fired is not None:
            return fired.reply
        return self.owner._accept(server, session, envelope)


class FakeSmtpServer(Served):
    """The fake SMTP server, as an async context manager on the running loop.

    ``mailboxes`` delivers to local accounts and ``check_login`` verifies AUTH; both
    usually come from the IMAP server's Store: use :meth:`for_store`.
    ``tls`` should be the IMAP server's material so one CA covers both (minted when
    None). ``now`` and ``timer`` are injectable for deterministic tests.
    """

    def __init__(
        self,
        config: SmtpConfig,
        mailboxes: LocalMailboxes,
        check_login: CheckLogin,
        *,
        tls: TlsMaterial | None = None,
        now: Callable[[], datetime] = _utcnow,
        timer: Timer | None = None,
        oauth: SmtpOAuth | None = None,
    ) -> None:
        self.config = config
        self.tls = tls
        self.log = DeliveryLog()
        self.faults = FaultPlan(config.faults)
        self.router = Router(
            mailboxes, self.log, now=now, autosave_sent_folder=config.autosave_sent_folder
        )
        self._check_login = check_login
        self.oauth = oauth if oauth is not None else SmtpOAuth(TokenIssuer())
        self._now = now
        self._timer = timer
        self._handler = _Handler(self)
        self._servers: list[asyncio.Server] = []
        self._connections: set[_SmtpProtocol] = set()
        self._queue_ids = itertools.count(1)
        self.personas: PersonaScheduler | None = None
        self.host = config.host
        self.port = 0
        self.tls_port: int | None = None

    @classmethod
    def for_store(
        cls,
        config: SmtpConfig,
        store: Store,
        *,
        tls: TlsMaterial | None = None,
        now: Callable[[], datetime] = _utcnow,
        timer: Timer | None = None,
        oauth_mechanisms: tuple[str, ...] = (),
        oauth_style: str = "rfc7628",
        basic_auth: bool = True,
    ) -> FakeSmtpServer:
        """The usual wiring: accounts, passwords, folders and OAuth tokens from the shared
        Store (OAuth mechanisms offered only when named)."""
        boxes = StoreMailboxes(store)
        oauth = SmtpOAuth(store.oauth, oauth_mechanisms, oauth_style, basic_auth)
        return cls(config, boxes, boxes.check_login, tls=tls, now=now, timer=timer,
                   oauth=oauth)

    def __repr__(self) -> str:
        return f"FakeSmtpServer({self.host}:{self.port}, tls_port={self.tls_port})"

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.tls is None:
            self.tls = mint()
        self.personas = PersonaScheduler(
            self.config.personas,
            send=self._send_persona_answer,
            timer=self._timer if self._timer is not None else loop,
            now=self._now,
        )
        plain = await loop.create_server(
            lambda: self._make_protocol(implicit_tls=False), self.config.host, self.config.port
        )
        self._servers.append(plain)
        self.port = plain.sockets[0].getsockname()[1]
        if self.config.implicit_tls_port is not None:
            smtps = await loop.create_server(
                lambda: self._make_protocol(implicit_tls=True),
                self.config.host,
                self.config.implicit_tls_port,
                ssl=self.tls.server_context,
            )
            self._servers.append(smtps)
            self.tls_port = smtps.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.personas is not None:
            self.personas.cancel_all()
        for server in self._servers:
            server.close()
        for conn in list(self._connections):
            if conn.transport is not None:
                conn.transport.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    def summary(self) -> dict[str, object]:
        """JSON-ready state for the control endpoint: ports, deliveries, faults, personas."""
        return {
            "host": self.host, "port": self.port, "tls_port": self.tls_port,
            "connections": len(self._connections),
            "deliveries": [d.summary() for d in self.log.deliveries],
            "faults_pending": [
                {"kind": f.kind, "stage": f.stage, "left": left}
                for f, left in self.faults.waiting()
            ],
            "faults_fired": [
                {"kind": f.kind, "stage": f.stage, "transient": f.transient}
                for f in self.faults.fired
            ],
            "persona_answers_waiting": self.personas.waiting if self.personas else 0,
        }

    def _make_protocol(self, *, implicit_tls: bool) -> asyncio.Protocol:
        fired = self.faults.take("connect")
        if fired is not None:
            return _Refuse(fired.reply)
        cfg = self.config
        assert self.tls is not None
        return _SmtpProtocol(
            self,
            implicit_tls=implicit_tls,
            hostname=cfg.hostname,
            ident=IDENT,
            data_size_limit=cfg.data_size_limit,
            # Over implicit TLS the channel is already encrypted: no STARTTLS to offer.
            tls_context=None if implicit_tls or not cfg.starttls else self.tls.server_context,
            require_starttls=cfg.require_starttls and not implicit_tls,
            auth_required=cfg.auth_required,
            auth_require_tls=cfg.auth_require_tls,
            authenticator=self._authenticate,
            auth_exclude_mechanism=self.oauth.excluded(),
            loop=asyncio.get_running_loop(),
        )

    # -- AUTH --------------------------------------------------------------------------

    def _authenticate(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        refusal = self.oauth.basic_refusal()
        if refusal is not None:
            return AuthResult(success=False, handled=False, message=refusal)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        account = self._check_login(login, password)
        if account is None:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=account)

    # -- accepted mail -----------------------------------------------------------------

    def _accept(self, server: _SmtpProtocol, session: Session, envelope: SmtpEnvelope) -> str:
        raw = envelope.original_content or b""
        submitter = session.auth_data if session.authenticated else None
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        with_ = "ESMTP" + ("S" if server.tls_active else "") + ("A" if submitter else "")
        queue_id = f"{next(self._queue_ids):08X}"
        trace = received_line(
            helo=session.host_name or "unknown", peer=peer, by=self.config.hostname,
            with_=f"{with_} id {queue_id}", when=self._now(),
        )
        env = Envelope(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=raw,
            source="submission",
            submitter=submitter if isinstance(submitter, str) else None,
            trace=trace,
        )
        for delivery in self.router.route(env):
            if delivery.kind == "outside" and self.personas is not None:
                self.personas.received(delivery.rcpt, raw)
        return f"250 2.0.0 OK queued as {queue_id}"

    def _send_persona_answer(self, answer: Outgoing) -> None:
        domain = answer.mail_from.partition("@")[2]
        trace = received_line(
            helo=f"mx.{domain}", peer="192.0.2.25", by=self.config.hostname,
            with_="ESMTPS", when=self._now(),
        )
        self.router.route(
            Envelope(answer.mail_from, answer.rcpt_tos, answer.raw, source="persona", trace=trace)
        )
