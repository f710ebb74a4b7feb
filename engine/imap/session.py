"""``ImapSession``: getting to an authenticated IMAP session, safely.

Policy lives here (the socket plumbing is in ``connection``): TLS is verified by
default, STARTTLS is mandatory when asked for (and a refusal never leaves a plaintext
session behind), LOGINDISABLED is honoured, and a plaintext LOGIN or AUTHENTICATE to
anything but loopback is refused unless explicitly allowed. The password is revealed
only while the command is written, and is redacted in traces at the source.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import ssl
from typing import Any, Literal, Self

from inboxlab.engine.errors import (
    AuthFailed,
    ConfigError,
    Disconnected,
    EngineError,
    ServerRefused,
    TlsError,
    TokenRejected,
)
from inboxlab.engine.imap.commands import Arg, Atom
from inboxlab.engine.imap.connection import Connection, Listener, Trace
from inboxlab.engine.imap.model import Event, Greeting, Tagged
from inboxlab.engine.imap.results import Credentials, SelectResult
from inboxlab.engine.imap.router import Pending
from inboxlab.engine.imap.state import ImapState, SessionState
from inboxlab.engine.oauth import (
    DUMMY_RESPONSE,
    Mechanism,
    challenge_cause,
    initial_response,
    read_challenge,
)
from inboxlab.engine.secrets import Secret

Security = Literal["tls", "starttls", "plain"]
DEFAULT_PORTS = {"tls": 993, "starttls": 143, "plain": 143}


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ImapSession:
    """Connect, secure, authenticate, log out. Not reusable after ``logout``/``close``."""

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        security: Security = "tls",
        cafile: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 20.0,
        allow_plaintext_login: bool = False,
        trace: Trace | None = None,
        on_untagged: Listener | None = None,
        tag_prefix: str = "A",
        read_size: int = 256 * 1024,
        stream_queue: int = 8,
    ) -> None:
        if security not in DEFAULT_PORTS:
            raise ConfigError(f"security must be tls, starttls or plain, not {security!r}",
                              code="bad_security")
        if not host:
            raise ConfigError("no IMAP host given", code="no_host")
        self.host = host
        self.port = port or DEFAULT_PORTS[security]
        self.security = security
        self.server_hostname = server_hostname or host
        self.connect_timeout = connect_timeout
        self.allow_plaintext_login = allow_plaintext_login
        self._cafile = cafile
        self._ssl_context = ssl_context
        self._conn = Connection(trace=trace, tag_prefix=tag_prefix, read_size=read_size,
                                stream_queue=stream_queue)
        self._conn.timeout = timeout
        if on_untagged is not None:
            self._conn.add_listener(on_untagged)
        self.greeting: Greeting | None = None
        self.session = SessionState()
        self.tls = False
        self.selected: SelectResult | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.host!r}, {self.port}, security={self.security!r})"

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._conn.is_open and exc[0] is None:
            try:
                await self.logout()
            except EngineError:
                pass
        await self.close()

    @property
    def timeout(self) -> float:
        """Seconds any one command may take (per batch for ``uid_fetch``)."""
        return self._conn.timeout

    @timeout.setter
    def timeout(self, seconds: float) -> None:
        self._conn.timeout = seconds

    @property
    def authenticated(self) -> bool:
        return self.session.state in (ImapState.AUTHENTICATED, ImapState.SELECTED)

    @property
    def caps(self) -> frozenset[str]:
        return self._conn.caps or frozenset()

    def add_listener(self, fn: Listener) -> None:
        """``fn(event)`` for EXISTS/EXPUNGE/VANISHED/FETCH/BYE... whenever they arrive,
        and ``fn(error)`` once if the connection fails."""
        self._conn.add_listener(fn)

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context(cafile=self._cafile)
        return self._ssl_context

    # -- session setup --------------------------------------------------------------

    async def connect(self) -> Greeting:
        tls_now = self.security == "tls"
        ctx = self._context() if self.security in ("tls", "starttls") else None
        try:
            greeting = await self._conn.open(
                self.host, self.port, ssl_context=ctx if tls_now else None,
                server_hostname=self.server_hostname, limit=self.connect_timeout,
            )
            return await self._greeted(greeting, tls_now, ctx)
        except BaseException:  # refused STARTTLS, bad greeting, cancelled: never half-open
            await self._conn.close()
            raise

    async def attach(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, tls: bool = False
    ) -> Greeting:
        """Use streams someone else opened (an injected transport: tests, proxies)."""
        try:
            greeting = await self._conn.attach(reader, writer, self.connect_timeout)
            return await self._greeted(greeting, tls, None)
        except BaseException:
            await self._conn.close()
            raise

    async def _greeted(
        self, greeting: Greeting, tls_now: bool, ctx: ssl.SSLContext | None
    ) -> Greeting:
        self.greeting = greeting
        self.tls = tls_now
        if greeting.status == "BYE":
            self.session.advance("greeting_bye")
            await self._conn.close()
            raise ServerRefused(
                "the server refused the connection at greeting", status="BYE",
                response_code=greeting.code, server_text=greeting.text, stage="imap_greeting",
                code="greeting_bye",
            )
        self.session.advance("greeting_preauth" if greeting.status == "PREAUTH"
                             else "greeting_ok")
        if self.authenticated and self.security != "starttls":
            self._conn.authenticated()  # PREAUTH (refused below when STARTTLS was asked)
        if self.security == "starttls" and not tls_now:
            await self._starttls(ctx or self._context())
        return greeting

    async def _starttls(self, ctx: ssl.SSLContext) -> None:
        if self.authenticated:
            raise TlsError("server sent PREAUTH on a connection that must use STARTTLS",
                           code="starttls_preauth", permanent=True, stage="imap_starttls")
        caps = await self._ensure_caps()  # the greeting's list usually saves a round trip
        if "STARTTLS" not in caps:
            await self.close()
            raise TlsError(
                "the server does not offer STARTTLS", code="starttls_unavailable",
                permanent=True, stage="imap_starttls",
                remediation="use implicit TLS (port 993) or ask for STARTTLS to be enabled",
            )
        p = await self._start("STARTTLS", stage="imap_starttls", pause_after=True)
        await self._conn.finish(p, self.timeout)
        await self._conn.start_tls(ctx, self.server_hostname, self.connect_timeout)
        self.tls = True
        self._conn.set_caps(None)  # pre-TLS capabilities must not be trusted
        await self.capability()

    async def capability(self) -> frozenset[str]:
        await self._run("CAPABILITY", stage="imap_capability")
        return self.caps

    async def ensure_capabilities(self) -> frozenset[str]:
        """The capabilities in force now: the ones the server last sent (a LOGIN OK's
        ``[CAPABILITY ...]``), or a CAPABILITY command when they were invalidated."""
        return await self._ensure_caps()

    async def _ensure_caps(self) -> frozenset[str]:
        if self._conn.caps is None:
            return await self.capability()
        return self._conn.caps

    async def login(self, credentials: Credentials) -> None:
        if self.authenticated:
            return
        self._check_plaintext()
        caps = await self._ensure_caps()
        if "LOGINDISABLED" in caps:
            raise ConfigError(
                "the server refuses LOGIN on this connection (LOGINDISABLED)",
                code="login_disabled", stage="imap_login",
                remediation="use security='tls' (port 993) or 'starttls'",
            )
        tagged, _ = await self._run(
            "LOGIN", credentials.username, credentials.reveal(), stage="imap_login", secret=(1,)
        )
        if tagged.code != "CAPABILITY":
            self._conn.set_caps(None)
        self.session.advance("auth_ok")
        self._conn.authenticated()

    async def authenticate_plain(self, credentials: Credentials) -> None:
        """AUTHENTICATE PLAIN (RFC 4616), in one round trip with SASL-IR (RFC 4959).

        Same TLS policy as ``login``; the base64 response is redacted in traces.
        """
        if self.authenticated:
            return
        self._check_plaintext()
        caps = await self._ensure_caps()
        if "AUTH=PLAIN" not in caps:
            raise ConfigError("the server does not offer AUTH=PLAIN", code="no_auth_plain",
                              stage="imap_login", remediation="use login() instead")
        blob = base64.b64encode(
            b"\0" + credentials.username.encode() + b"\0" + credentials.reveal().encode()
        )
        if "SASL-IR" in caps:
            p = await self._start("AUTHENTICATE", Atom("PLAIN"), Atom(blob.decode()),
                                  stage="imap_login", secret=(1,))
        else:
            p = await self._start("AUTHENTICATE", Atom("PLAIN"), stage="imap_login",
                                  wait_continuation=True)
            if not p.finished:
                await self._conn.write_raw(blob + b"\r\n", "[redacted]")
        tagged = await self._conn.finish(p, self.timeout)
        if tagged.code != "CAPABILITY":
            self._conn.set_caps(None)
        self.session.advance("auth_ok")
        self._conn.authenticated()

    async def authenticate_oauth(self, mechanism: Mechanism, username: str,
                                 token: Secret) -> None:
        """AUTHENTICATE XOAUTH2 / OAUTHBEARER with an OAuth access token (``engine.oauth``).

        With SASL-IR the token goes in the command; without, after the server's ``+``.
        A server that refuses the token first sends its error as a base64 JSON
        continuation; we answer with the mechanism's dummy response, and the NO becomes
        ``TokenRejected`` carrying the decoded error (scope or expired/revoked).
        Same TLS policy as ``login``; the token is redacted in traces.
        """
        if self.authenticated:
            return
        self._check_plaintext()
        caps = await self._ensure_caps()
        if f"AUTH={mechanism}" not in caps:
            raise ConfigError(
                f"the server does not offer AUTH={mechanism}", code="oauth_mechanism_missing",
                stage="imap_login", remediation="choose a mechanism the server lists ("
                + (", ".join(sorted(c[5:] for c in caps if c.startswith("AUTH="))) or "none")
                + ")")
        blob = initial_response(mechanism, username, token, self.server_hostname, self.port)
        if "SASL-IR" in caps:
            p = await self._start("AUTHENTICATE", Atom(mechanism), Atom(blob.decode()),
                                  stage="imap_login", secret=(1,), wait_continuation=True)
            said = None if p.finished or p.cont is None else p.cont.result()
        else:
            p = await self._start("AUTHENTICATE", Atom(mechanism), stage="imap_login",
                                  wait_continuation=True)
            said = None
            if not p.finished:
                said = await self._conn.sasl_step(p, blob + b"\r\n", "[redacted]")
        challenge = None
        if said is not None:  # an error challenge instead of OK: answer it, then the NO
            challenge = read_challenge(said)
            await self._conn.write_raw(DUMMY_RESPONSE[mechanism] + b"\r\n", "[redacted]")
        try:
            tagged = await self._conn.finish(p, self.timeout)
        except AuthFailed as exc:
            words = exc.server_text or ""
            if challenge is not None:
                words = f"{words} (error challenge: {challenge.text})".strip()
            raise TokenRejected(
                f"AUTHENTICATE {mechanism} refused: the access token was not accepted",
                challenge=challenge, status=exc.status, response_code=exc.response_code,
                server_text=words, stage="imap_login", code=challenge_cause(challenge),
                remediation=exc.remediation) from exc
        if tagged.code != "CAPABILITY":
            self._conn.set_caps(None)
        self.session.advance("auth_ok")
        self._conn.authenticated()

    def _check_plaintext(self) -> None:
        if not self.tls and not is_loopback(self.host) and not self.allow_plaintext_login:
            raise ConfigError(
                f"refusing to send the password unencrypted to {self.host}",
                code="plaintext_login_refused", stage="imap_login",
                remediation="use TLS or STARTTLS, or set allow_plaintext_login explicitly",
            )

    async def logout(self) -> None:
        self._conn.logging_out = True
        self.session.advance("logout")
        try:
            await self._run("LOGOUT", stage="imap_logout")
        except Disconnected:
            pass  # the server may close right after BYE, before the tagged OK
        finally:
            await self.close()

    async def close(self) -> None:
        await self._conn.close()

    async def _run(self, name: str, *args: Arg, stage: str,
                   secret: tuple[int, ...] = ()) -> tuple[Tagged, list[Event]]:
        p = await self._start(name, *args, stage=stage, secret=secret)
        tagged = await self._conn.finish(p, self.timeout)
        return tagged, p.untagged

    async def _start(self, name: str, *args: Arg, stage: str, **kw: Any) -> Pending:
        """Every command goes through here: the state table first, then the wire."""
        if name != "LOGOUT":
            self.session.check(name)
        return await self._conn.start(name, *args, stage=stage, **kw)
