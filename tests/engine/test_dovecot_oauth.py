"""The engine's OAuth path against a real server: Dovecot's oauth2 passdb, validating every
token by RFC 7662 introspection at the fake provider's token endpoint (tests/dovecot_oauth.py).

Login by both mechanisms (SASL-IR, and the continuation path), a token expiring
mid-session refreshed once (the endpoint counts Dovecot's introspections: one per
AUTHENTICATE, so no retry storm can hide), a revoked grant turning into a permanent,
named cause, and a token without the mail scope named. Tokens come from a real token
command (``python -m inboxlab.fakeserver.oauth_http``), re-run on refresh.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from account_helpers import FAST_BACKOFF, Recorder, settings_for
from dovecot import DovecotHandle
from dovecot_oauth import OAUTH_USER, oauth2_config
from dovecot_setup import remove_tree
from waiting import async_wait_until

from inboxlab.engine.account import Account, AccountOptions
from inboxlab.engine.errors import TokenRejected
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.secrets import Secret
from inboxlab.engine.states import State
from inboxlab.engine.supervise import DisconnectNotice
from inboxlab.engine.tokens import CommandToken, TokenProvider
from inboxlab.fakeserver.oauth import TokenIssuer
from inboxlab.fakeserver.oauth_http import TokenEndpoint

pytestmark = pytest.mark.dovecot


@dataclass
class OAuthLab:
    dovecot: DovecotHandle
    issuer: TokenIssuer
    endpoint: TokenEndpoint

    def provider(self, mech: str) -> TokenProvider:
        command = CommandToken([sys.executable, "-m", "inboxlab.fakeserver.oauth_http",
                                self.endpoint.url,
                                "--refresh-token", self.issuer.refresh_token(OAUTH_USER)])
        return TokenProvider(command, mech)  # type: ignore[arg-type]


@asynccontextmanager
async def oauth_dovecot(factory: Callable[..., DovecotHandle]) -> AsyncIterator[OAuthLab]:
    issuer = TokenIssuer()
    issuer.grant(OAUTH_USER)
    where = Path(tempfile.mkdtemp(prefix="inboxlab-oauth2-"))
    try:
        async with TokenEndpoint(issuer) as endpoint:
            extra = oauth2_config(where, endpoint.url + "/introspect")
            handle = await asyncio.to_thread(factory, extra_config=extra,
                                             users=((OAUTH_USER, "not-used-here"),))
            yield OAuthLab(handle, issuer, endpoint)
    finally:
        remove_tree(where)


def account_on(lab: OAuthLab, provider: TokenProvider, tmp_path: Path,
               rec: Recorder) -> Account:
    account = Account(settings_for(lab.dovecot.host, lab.dovecot.port, OAUTH_USER), provider,
                      tmp_path / "engine.db", rng=random.Random(5), trace=rec.trace,
                      options=AccountOptions(backoff=FAST_BACKOFF, connect_timeout=5,
                                             command_timeout=10, poll_interval=30))
    account.subscribe(rec.event)
    return account


@pytest.mark.parametrize("sasl_ir", [True, False], ids=["sasl-ir", "continuation"])
@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
async def test_login_by_both_mechanisms(dovecot_factory: Any, mech: str, sasl_ir: bool) -> None:
    async with oauth_dovecot(dovecot_factory) as lab:
        lines: list[str] = []
        client = ImapClient(lab.dovecot.host, lab.dovecot.port, security="plain",
                            trace=lambda name, **info: lines.append(str(info)))
        await client.connect()
        if not sasl_ir:  # Dovecot always offers SASL-IR: take the '+' path as if it did not
            client._conn.set_caps(client.caps - {"SASL-IR"})
        token = lab.issuer.issue_for(OAUTH_USER).value
        await client.authenticate_oauth(mech, OAUTH_USER, Secret(token))  # type: ignore[arg-type]
        assert client.authenticated
        await client.select("INBOX")
        await client.logout()
        assert lab.endpoint.requests == 1  # Dovecot introspected the token once
        assert not any(token in line for line in lines)


async def test_expiry_mid_session_is_refreshed_once(dovecot_factory: Any,
                                                    tmp_path: Path) -> None:
    async with oauth_dovecot(dovecot_factory) as lab:
        provider = lab.provider("XOAUTH2")
        rec = Recorder()
        account = account_on(lab, provider, tmp_path, rec)
        await account.start()
        try:
            await async_wait_until(lambda: account.state is State.IDLE, 20)
            assert lab.endpoint.requests == 2 + 1  # one token issued, two logins checked
            lab.issuer.expire()
            await asyncio.to_thread(lab.dovecot.kick, OAUTH_USER)
            await async_wait_until(
                lambda: account.reconnects >= 1 and account.state is State.IDLE, 20)
            # after the kick: the old token refused once, one refresh, two logins with the
            # new one; the endpoint saw exactly that (3 introspections + 1 token issued)
            assert provider.refreshes == 1 and provider.fetches == 2
            assert account.login_attempts == 2 + 3 and account.logins == 4
            assert lab.endpoint.requests == 3 + 3 + 1
        finally:
            await account.stop()


async def test_a_revoked_grant_is_permanent_and_named(dovecot_factory: Any,
                                                      tmp_path: Path) -> None:
    async with oauth_dovecot(dovecot_factory) as lab:
        provider = lab.provider("OAUTHBEARER")
        rec = Recorder()
        account = account_on(lab, provider, tmp_path, rec)
        await account.start()
        try:
            await async_wait_until(lambda: account.state is State.IDLE, 20)
            lab.issuer.revoke()  # the password changed at the provider
            await asyncio.to_thread(lab.dovecot.kick, OAUTH_USER)
            await async_wait_until(lambda: not account.running, 20)
            notice = rec.of(DisconnectNotice)[-1]
            assert (notice.code, notice.permanent) == ("oauth_grant_revoked", True)
            assert "invalid_grant" in (notice.server_text or "")
            assert account.state is State.AUTH_ERROR
            # 3 before; then one refused login (1 introspection) and one refused refresh
            assert lab.endpoint.requests == 3 + 2 and account.login_attempts == 3
        finally:
            await account.stop()


async def test_a_token_without_the_scope_is_named(dovecot_factory: Any) -> None:
    async with oauth_dovecot(dovecot_factory) as lab:
        lab.issuer.descope()
        client = ImapClient(lab.dovecot.host, lab.dovecot.port, security="plain")
        await client.connect()
        from inboxlab.engine.diag.probe import oauth_login
        with pytest.raises(TokenRejected) as caught:
            await oauth_login(client, lab.provider("XOAUTH2"), OAUTH_USER)
        await client.close()
        err = caught.value
        # Dovecot's oauth2 mechanism answers every refusal {"status":"401",...,"scope":"mail"}:
        # the words cannot tell scope from expiry. A freshly refreshed token refused too is
        # what names it: oauth_token_rejected, whose remedy is the scope/permission.
        assert err.code == "oauth_token_rejected" and err.permanent
        assert err.challenge is not None and err.challenge.scope == "mail"
        assert '"status":"401"' in (err.server_text or "")
