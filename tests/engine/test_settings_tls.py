"""allow_insecure_certificate over a real TLS socket: off by default, works when opted in."""

from __future__ import annotations

import pytest

from inboxlab.engine.errors import TlsError
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.settings import AccountSettings, parse_server
from inboxlab.fakeserver.config import AccountConfig, FolderConfig, ServerConfig
from inboxlab.fakeserver.imap.server import FakeImapServer

USER, PASSWORD = "tls@example.com", "tls-secret-pass"
CONFIG = ServerConfig(accounts=(AccountConfig(USER, PASSWORD, (FolderConfig("INBOX"),)),))


async def login_with(settings: AccountSettings, cafile: str | None = None) -> bool:
    client = ImapClient(settings.imap.host, settings.imap.port, security=settings.imap.security,
                        ssl_context=settings.tls_context(cafile), timeout=10)
    async with client:
        await client.login(Credentials(settings.username, PASSWORD))
        return client.authenticated and client.tls


async def test_self_signed_server_needs_its_ca_or_the_explicit_opt_in() -> None:
    async with FakeImapServer(CONFIG) as server:
        imap = parse_server(f"imaps://127.0.0.1:{server.tls_port}")
        strict = AccountSettings(USER, imap)
        with pytest.raises(TlsError):
            await login_with(strict)
        assert await login_with(strict, cafile=str(server.ca_pem_path))
        lax = AccountSettings(USER, imap, allow_insecure_certificate=True)
        assert await login_with(lax)
