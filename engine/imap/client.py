"""``ImapClient``: the IMAP commands the connector needs, each an explicit method.

    async with ImapClient("imap.example.com", security="tls") as client:
        await client.login(Credentials("me@example.com", secret))
        box = await client.select("INBOX", condstore=True)
        async for msg in client.uid_fetch("1:*", HEADER_ITEMS):
            ...

Policy lives here (the socket plumbing is in ``connection``): TLS is verified by
default, STARTTLS is mandatory when asked for, LOGINDISABLED is honoured, and a
plaintext LOGIN to anything but loopback is refused unless explicitly allowed.
Every server refusal arrives as the engine's error tree (``engine.errors``).
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import ipaddress
import ssl
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Literal

from engine.errors import ConfigError, Disconnected, EngineError, ServerRefused, TlsError
from engine.imap.commands import (
    Arg,
    Atom,
    Mailbox,
    expand_uid_set,
    format_internaldate,
    uid_chunks,
    uid_set,
)
from engine.imap.connection import Connection, Listener, Trace
from engine.imap.idle import IdleSession
from engine.imap.model import (
    Enabled,
    ESearch,
    Event,
    Fetch,
    Greeting,
    ListItem,
    Search,
    Status,
    Tagged,
)
from engine.imap.results import AppendResult, Credentials, SelectResult, select_result

Security = Literal["tls", "starttls", "plain"]
DEFAULT_PORTS = {"tls": 993, "starttls": 143, "plain": 143}
HEADER_FIELDS = ("MESSAGE-ID", "IN-REPLY-TO", "REFERENCES", "FROM", "TO", "CC", "SUBJECT", "DATE")
HEADER_ITEMS = (
    "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS ("
    + " ".join(HEADER_FIELDS) + ")])"
)
STATUS_ITEMS = ("MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN")

# Aliases: the ``list`` method shadows the builtin inside the class body.
_Events = list[Event]
_ListItems = list[ListItem]
_Uids = list[int]


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ImapClient:
    """One IMAP session. Not reusable after ``logout``/``close``: make a new one."""

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
        self.authenticated = False
        self.tls = False
        self.selected: SelectResult | None = None

    def __repr__(self) -> str:
        return f"ImapClient({self.host!r}, {self.port}, security={self.security!r})"

    async def __aenter__(self) -> ImapClient:
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
            await self._conn.close()
            raise ServerRefused(
                "the server refused the connection at greeting", status="BYE",
                response_code=greeting.code, server_text=greeting.text, stage="imap_greeting",
                code="greeting_bye",
            )
        self.authenticated = greeting.status == "PREAUTH"
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
        p = await self._conn.start("STARTTLS", stage="imap_starttls", pause_after=True)
        await self._conn.finish(p, self.timeout)
        await self._conn.start_tls(ctx, self.server_hostname, self.connect_timeout)
        self.tls = True
        self._conn.set_caps(None)  # pre-TLS capabilities must not be trusted
        await self.capability()

    async def capability(self) -> frozenset[str]:
        await self._run("CAPABILITY", stage="imap_capability")
        return self.caps

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
        self.authenticated = True

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
            p = await self._conn.start("AUTHENTICATE", Atom("PLAIN"), Atom(blob.decode()),
                                       stage="imap_login", secret=(1,))
        else:
            p = await self._conn.start("AUTHENTICATE", Atom("PLAIN"), stage="imap_login",
                                       wait_continuation=True)
            if not p.finished:
                await self._conn.write_raw(blob + b"\r\n", "[redacted]")
        tagged = await self._conn.finish(p, self.timeout)
        if tagged.code != "CAPABILITY":
            self._conn.set_caps(None)
        self.authenticated = True

    def _check_plaintext(self) -> None:
        if not self.tls and not is_loopback(self.host) and not self.allow_plaintext_login:
            raise ConfigError(
                f"refusing to send the password unencrypted to {self.host}",
                code="plaintext_login_refused", stage="imap_login",
                remediation="use TLS or STARTTLS, or set allow_plaintext_login explicitly",
            )

    async def enable(self, *extensions: str) -> frozenset[str]:
        """ENABLE (RFC 5161), e.g. ``enable("QRESYNC")``; returns what the server enabled."""
        _, events = await self._run("ENABLE", *(Atom(e) for e in extensions),
                                    stage="imap_command")
        enabled: set[str] = set()
        for e in events:
            if isinstance(e, Enabled):
                enabled.update(e.caps)
        return frozenset(enabled)

    # -- mailboxes --------------------------------------------------------------------

    async def list(
        self, reference: str = "", pattern: str = "*", *, special_use: bool | None = None
    ) -> _ListItems:
        """LIST; asks for RETURN (SPECIAL-USE) when the server supports it (or if forced)."""
        if special_use is None:
            special_use = "SPECIAL-USE" in await self._ensure_caps()
        args: builtins.list[Arg] = [Mailbox(reference), Mailbox(pattern)]
        if special_use:
            args += [Atom("RETURN"), (Atom("SPECIAL-USE"),)]
        _, events = await self._run("LIST", *args, stage="imap_list")
        return [e for e in events if isinstance(e, ListItem)]

    async def create(self, mailbox: str) -> None:
        """CREATE a mailbox (the name is sent in modified UTF-7)."""
        await self._run("CREATE", Mailbox(mailbox), stage="imap_command")

    async def status(self, mailbox: str, items: Sequence[str] | None = None) -> Status:
        if items is None:
            items = STATUS_ITEMS
            if "CONDSTORE" in await self._ensure_caps():
                items = (*items, "HIGHESTMODSEQ")
        _, events = await self._run(
            "STATUS", Mailbox(mailbox), tuple(Atom(i) for i in items), stage="imap_status"
        )
        for e in events:
            if isinstance(e, Status):
                return e
        raise ServerRefused(f"STATUS {mailbox!r} answered OK without data",
                            stage="imap_status", code="status_missing")

    async def select(
        self, mailbox: str, *, readonly: bool = False, condstore: bool = False
    ) -> SelectResult:
        """SELECT (or EXAMINE); ``condstore`` asks for HIGHESTMODSEQ (RFC 7162)."""
        args: builtins.list[Arg] = [Mailbox(mailbox)]
        if condstore:
            args.append((Atom("CONDSTORE"),))
        self.selected = None
        tagged, events = await self._run(
            "EXAMINE" if readonly else "SELECT", *args, stage="imap_select"
        )
        self.selected = select_result(mailbox, events, tagged)
        return self.selected

    # -- messages ---------------------------------------------------------------------

    async def uid_fetch(
        self,
        uids: str | Iterable[int],
        items: str | Sequence[str] = HEADER_ITEMS,
        *,
        changedsince: int | None = None,
        vanished: bool = False,
        chunk: int | None = None,
        silence: float | None = None,
    ) -> AsyncIterator[Fetch]:
        """Stream FETCH responses as they arrive (nothing is held beyond one read).

        ``chunk``: split a list of UIDs into commands of at most that many UIDs.
        ``silence``: longest wait between batches (default: the client timeout).
        Do not send other commands on this client while iterating: the stream is
        bounded (backpressure), so their answers would wait behind unread FETCHes.
        Breaking out early is fine: the rest of the answer is read and dropped (if you
        keep a reference to the iterator, ``await it.aclose()`` so that happens at once).
        """
        item_arg: Arg = Atom(items) if isinstance(items, str) else tuple(Atom(i) for i in items)
        wait = self.timeout if silence is None else silence
        for uidset in uid_chunks(uids, chunk):
            args: builtins.list[Arg] = [uidset, item_arg]
            if changedsince is not None:
                modifiers: builtins.list[Arg] = [Atom("CHANGEDSINCE"), changedsince]
                if vanished:  # QRESYNC must be enabled; VANISHED arrive as unsolicited events
                    modifiers.append(Atom("VANISHED"))
                args.append(tuple(modifiers))
            p = await self._conn.start("UID FETCH", *args, stage="imap_fetch", stream=True)
            drained = False
            try:
                while (batch := await self._conn.next_batch(p, wait)) is not None:
                    for fetch in batch:
                        yield fetch
                drained = True
            finally:
                if not drained:  # the consumer stopped early (even if the answer is complete)
                    self._conn.abandon(p)
            await self._conn.finish(p, wait)

    async def uid_search(self, *criteria: Arg, charset: str | None = None) -> _Uids:
        """UID SEARCH; pass keywords as ``Atom`` ("ALL", "UID 5:*") and values as ``str``:
        ``uid_search(Atom("HEADER"), "Message-ID", "<a@b>")``."""
        if not criteria:
            criteria = (Atom("ALL"),)
        args: builtins.list[Arg] = [Atom("CHARSET"), Atom(charset)] if charset else []
        _, events = await self._run("UID SEARCH", *args, *criteria, stage="imap_search")
        found: _Uids = []
        for e in events:
            if isinstance(e, Search):
                found.extend(e.ids)
            elif isinstance(e, ESearch) and isinstance(e.items.get("ALL"), str):
                found.extend(expand_uid_set(str(e.items["ALL"])))
        return found

    async def append(
        self,
        mailbox: str,
        message: bytes,
        *,
        flags: Sequence[str] = (),
        date: datetime | None = None,
    ) -> AppendResult:
        args: builtins.list[Arg] = [Mailbox(mailbox)]
        if flags:
            args.append(tuple(Atom(f) for f in flags))
        if date is not None:
            args.append(format_internaldate(date))
        args.append(message)
        tagged, _ = await self._run("APPEND", *args, stage="imap_append")
        if tagged.code == "APPENDUID" and len(tagged.code_args) == 2:
            v, u = tagged.code_args
            if str(v).isdigit() and str(u).isdigit():
                return AppendResult(int(str(v)), int(str(u)))
        return AppendResult(None, None)

    async def uid_store(
        self, uids: str | Iterable[int], action: str, flags: Sequence[str], *,
        silent: bool = True,
    ) -> _Events:
        """UID STORE; ``action`` is "+FLAGS", "-FLAGS" or "FLAGS" (".SILENT" added if asked)."""
        if action.upper() not in ("+FLAGS", "-FLAGS", "FLAGS"):
            raise ConfigError(f"STORE action must be +FLAGS, -FLAGS or FLAGS, not {action!r}",
                              code="bad_argument")
        name = action.upper() + (".SILENT" if silent else "")
        _, events = await self._run("UID STORE", uid_set(uids) if isinstance(uids, str)
                                    else uid_set(builtins.list(uids)), Atom(name),
                                    tuple(Atom(f) for f in flags), stage="imap_command")
        return events

    async def expunge(self) -> _Events:
        """EXPUNGE the selected mailbox; the EXPUNGE/VANISHED events come back."""
        _, events = await self._run("EXPUNGE", stage="imap_command")
        return events

    async def noop(self) -> _Events:
        _, events = await self._run("NOOP", stage="imap_noop")
        return events

    async def idle(self) -> IdleSession:
        """Enter IDLE; use ``wait()`` for events and ``done()`` to leave (RFC 2177)."""
        if "IDLE" not in await self._ensure_caps():
            raise ServerRefused("the server does not support IDLE", code="idle_unsupported",
                                stage="imap_idle", permanent=True)
        session = IdleSession(self._conn, self.timeout)
        await session.start()
        return session

    async def logout(self) -> None:
        self._conn.logging_out = True
        try:
            await self._run("LOGOUT", stage="imap_logout")
        except Disconnected:
            pass  # the server may close right after BYE, before the tagged OK
        finally:
            await self.close()

    async def close(self) -> None:
        await self._conn.close()

    async def _run(self, name: str, *args: Arg, stage: str,
                   secret: tuple[int, ...] = ()) -> tuple[Tagged, _Events]:
        p = await self._conn.start(name, *args, stage=stage, secret=secret)
        tagged = await self._conn.finish(p, self.timeout)
        return tagged, p.untagged


__all__ = [
    "HEADER_FIELDS",
    "HEADER_ITEMS",
    "AppendResult",
    "Credentials",
    "IdleSession",
    "ImapClient",
    "SelectResult",
    "is_loopback",
]
