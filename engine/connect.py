"""Opening one account connection: a pool slot, the client, the greeting check, the login.

Why a module of its own: the account opens connections in two places (the scanner and
the IDLE watcher) and both must (1) hold a slot of the 5-connection budget for as long
as the socket lives, (2) refuse servers the connector cannot use from their very first
line - POP3 (``+OK``), SMTP (``220``), Courier-IMAP - with the typed, permanent refusal
of ``engine.settings.detect_greeting`` instead of waiting for a greeting that never
comes, and (3) log in with the ``Secret`` revealed only inside LOGIN (or an OAuth access
token only inside AUTHENTICATE XOAUTH2 / OAUTHBEARER).

``engine.imap`` fails ``connect()`` at once with ``bad_greeting`` when the first line
is not IMAP; here that line is recognised and the error becomes the refusal a person
can act on ("POP3 is not supported...") instead of a protocol violation.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from inboxlab.engine.errors import EngineError, ProtocolViolation
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.pool import ConnectionPool
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, detect_greeting
from inboxlab.engine.tokens import TokenProvider

ClientTrace = Callable[..., None]


@dataclass(frozen=True)
class ConnectOptions:
    connect_timeout: float = 20.0
    command_timeout: float = 60.0
    cafile: str | None = None


class Link:
    """One live connection: the client plus the pool slot it holds until ``close()``."""

    def __init__(self, client: ImapClient, pool: ConnectionPool, purpose: str) -> None:
        self.client = client
        self.purpose = purpose
        self._pool = pool
        self._closed = False

    async def close(self, *, logout: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if logout:
                with contextlib.suppress(EngineError, OSError):
                    async with asyncio.timeout(2):
                        await self.client.logout()
            await self.client.close()
        finally:
            self._pool.release(self.purpose)

    def __repr__(self) -> str:
        return f"Link({self.purpose!r}, {self.client!r})"


def _context(settings: AccountSettings, options: ConnectOptions,
             given: ssl.SSLContext | None) -> ssl.SSLContext | None:
    if settings.imap.security == "plain":
        return None
    return given if given is not None else settings.tls_context(options.cafile)


async def _connect_checking_greeting(client: ImapClient) -> None:
    """``client.connect()``; a POP3/SMTP/Courier greeting becomes its typed refusal."""
    try:
        greeting = await client.connect()
    except ProtocolViolation as exc:
        if exc.code != "bad_greeting":
            raise
        found = detect_greeting(exc.data or (exc.server_text or "").encode())
        if found is None:
            raise
        raise found.error from exc
    found = detect_greeting(f"* {greeting.status} {greeting.text}".encode())
    if found is not None:  # Courier-IMAP says who it is in a proper IMAP greeting
        raise found.error


async def open_link(
    settings: AccountSettings,
    pool: ConnectionPool,
    purpose: str,
    *,
    options: ConnectOptions,
    ssl_context: ssl.SSLContext | None = None,
    trace: ClientTrace | None = None,
) -> Link:
    """Take a pool slot and connect (TLS/STARTTLS as configured); not logged in yet."""
    pool.acquire(purpose)
    try:
        client = ImapClient(
            settings.imap.host, settings.imap.port, security=settings.imap.security,
            ssl_context=_context(settings, options, ssl_context),
            timeout=options.command_timeout, connect_timeout=options.connect_timeout,
            allow_plaintext_login=settings.allow_plaintext_login, trace=trace,
            tag_prefix="W" if purpose == "watch" else "A",
        )
        link = Link(client, pool, purpose)
    except BaseException:
        pool.release(purpose)
        raise
    try:
        await _connect_checking_greeting(client)
    except BaseException:
        await link.close()
        raise
    return link


Credential = Secret | TokenProvider


async def login(link: Link, settings: AccountSettings, credential: Credential) -> None:
    """LOGIN with a password, or AUTHENTICATE XOAUTH2/OAUTHBEARER with the provider's
    current token (secrets are revealed only while the command is written; traces
    redact them). A failure closes the link."""
    try:
        if isinstance(credential, TokenProvider):
            await link.client.authenticate_oauth(
                credential.mechanism, settings.username, await credential.token())
        else:
            await link.client.login(Credentials(settings.username, credential))
    except BaseException:
        await link.close()
        raise


__all__ = ["ConnectOptions", "Credential", "Link", "login", "open_link"]
