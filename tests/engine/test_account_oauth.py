"""The account's OAuth rule against the fake server: a rejected token gets one refresh and
one retry; a refresh that fails is permanent and named; nothing storms (the server's
login attempts are counted, not just the engine's)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from account_helpers import FAST_BACKOFF, Recorder, settings_for
from oauth_helpers import USER, IssuerSource, oauth_server
from waiting import async_wait_until

from inboxlab.engine.account import Account, AccountOptions
from inboxlab.engine.states import State
from inboxlab.engine.supervise import DisconnectNotice
from inboxlab.engine.tokens import TokenProvider
from inboxlab.fakeserver.imap.hooks import Reply, ServerHooks
from inboxlab.fakeserver.imap.server import FakeImapServer
from inboxlab.fakeserver.imap.session import ImapSession
from inboxlab.fakeserver.oauth_errors import OFFICE365_EXPIRED_BYE


class CountingHooks(ServerHooks):
    """Counts every login the server sees (password or token, accepted or not)."""

    def __init__(self) -> None:
        self.attempts = 0
        self.accepted = 0

    def on_login(self, session: ImapSession, username: str,
                 ok: bool) -> Reply | None:
        self.attempts += 1
        self.accepted += ok
        return None


def account_on(srv: FakeImapServer, provider: TokenProvider, tmp_path: Path,
               rec: Recorder) -> Account:
    account = Account(settings_for("127.0.0.1", srv.port, USER), provider,
                      tmp_path / "engine.db", rng=random.Random(3), trace=rec.trace,
                      options=AccountOptions(backoff=FAST_BACKOFF, connect_timeout=5,
                                             command_timeout=10, poll_interval=30))
    account.subscribe(rec.event)
    return account


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
async def test_expiry_mid_session_is_refreshed_once(mech: str, tmp_path: Path) -> None:
    hooks = CountingHooks()
    async with oauth_server(style="office365") as srv:
        srv.hooks = hooks
        source = IssuerSource(srv.store.oauth)
        provider = TokenProvider(source, mech)  # type: ignore[arg-type]
        rec = Recorder()
        account = account_on(srv, provider, tmp_path, rec)
        await account.start()
        try:
            await async_wait_until(lambda: account.state is State.IDLE, 10)
            assert (hooks.attempts, hooks.accepted, source.fetches) == (2, 2, 1)
            # Office 365 at the token's end of life: every token dead, every session told so
            srv.store.oauth.expire()
            for conn in list(srv.connections.values()):
                conn.inject(f"* BYE {OFFICE365_EXPIRED_BYE}\r\n".encode(), close=True)
            await async_wait_until(
                lambda: account.reconnects >= 1 and account.state is State.IDLE, 10)
            # after the BYE: the old token once (rejected), one refresh, then both
            # connections log in with the new one. Four logins in all, never more.
            assert source.fetches == 2 and provider.refreshes == 1
            assert (hooks.attempts, hooks.accepted) == (5, 4)
            assert account.login_attempts == 5 and account.logins == 4
            assert [i["code"] for i in rec.named("oauth.refresh")] == ["oauth_token_rejected"]
        finally:
            await account.stop()


async def test_a_revoked_grant_is_permanent_and_named(tmp_path: Path) -> None:
    hooks = CountingHooks()
    async with oauth_server(style="gmail") as srv:
        srv.hooks = hooks
        source = IssuerSource(srv.store.oauth)
        provider = TokenProvider(source, "XOAUTH2")
        rec = Recorder()
        account = account_on(srv, provider, tmp_path, rec)
        await account.start()
        try:
            await async_wait_until(lambda: account.state is State.IDLE, 10)
            srv.store.oauth.revoke()  # the user changed their password
            for conn in list(srv.connections.values()):
                conn.abort()
            await async_wait_until(lambda: not account.running, 10)
            assert account.state is State.AUTH_ERROR
            notice = rec.of(DisconnectNotice)[-1]
            assert notice.code == "oauth_grant_revoked" and notice.permanent
            assert "reconnect the inbox in the CRM" in (notice.remediation or "")
            assert "invalid_grant" in (notice.server_text or "")
            # one rejected login after the drop, one failed refresh, then silence
            assert hooks.attempts == 3 and source.fetches == 2 and provider.refreshes == 1
        finally:
            await account.stop()


async def test_a_fresh_token_without_the_scope_stops_with_the_scope_cause(
        tmp_path: Path) -> None:
    hooks = CountingHooks()
    async with oauth_server(style="gmail") as srv:
        srv.hooks = hooks
        srv.store.oauth.descope()  # an admin removed the mail permission before we start
        source = IssuerSource(srv.store.oauth)
        rec = Recorder()
        account = account_on(srv, TokenProvider(source, "OAUTHBEARER"), tmp_path, rec)
        await account.start()
        try:
            await async_wait_until(lambda: not account.running, 10)
            notice = rec.of(DisconnectNotice)[-1]
            assert notice.code == "oauth_insufficient_scope" and notice.permanent
            assert '"status":"400"' in (notice.server_text or "")
            assert hooks.attempts == 2 and source.fetches == 2  # one refresh, one retry
        finally:
            await account.stop()
