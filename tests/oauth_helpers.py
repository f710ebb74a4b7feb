"""Shared pieces of the OAuth tests: a fake server with XOAUTH2/OAUTHBEARER, an in-process
token source on its issuer, and the secret scan over what the engine wrote."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from inboxlab.engine.errors import TokenUnavailable
from inboxlab.engine.secrets import Secret
from inboxlab.fakeserver.config import AccountConfig, Capabilities, FolderConfig, ServerConfig
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.imap.server import FakeImapServer
from inboxlab.fakeserver.oauth import GrantRefused, TokenIssuer

USER, PASSWORD = "oauth@example.com", "not-the-way-in"


def oauth_config(*, sasl_ir: bool = True, style: str = "rfc7628", basic_auth: bool = True,
                 count: int = 12) -> ServerConfig:
    caps = dataclasses.replace(Capabilities(), xoauth2=True, oauthbearer=True,
                               sasl_ir=sasl_ir, basic_auth=basic_auth)
    folders = (FolderConfig("INBOX", generated=GenSpec(count=count, seed=3, owner=USER)),
               FolderConfig("Sent", special_use=("\\Sent",)))
    return ServerConfig(accounts=(AccountConfig(USER, PASSWORD, folders),), capabilities=caps,
                        oauth_errors=style)


@asynccontextmanager
async def oauth_server(**kw: object) -> AsyncIterator[FakeImapServer]:
    async with FakeImapServer(oauth_config(**kw)) as srv:  # type: ignore[arg-type]
        yield srv


class IssuerSource:
    """A token source asking the fake issuer directly (what a token command would print);
    counts its fetches, and fails like a token command when the grant is revoked."""

    origin = "test issuer"

    def __init__(self, issuer: TokenIssuer, user: str = USER) -> None:
        self.issuer = issuer
        self.user = user
        self.fetches = 0
        self.handed: list[str] = []

    async def fetch(self) -> Secret:
        self.fetches += 1
        try:
            token = self.issuer.issue_for(self.user).value
        except GrantRefused as exc:
            raise TokenUnavailable("the token command failed (exit status 1)",
                                   server_text=str(exc)) from None
        self.handed.append(token)
        return Secret(token)
