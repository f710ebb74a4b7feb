"""SMTP AUTH XOAUTH2 / OAUTHBEARER: the engine's submitter against the fake submission
server over loopback (STARTTLS), tokens from the store's issuer; the refusals carry the
decoded error challenge, a rejected token gets one refresh, basic auth can be switched off.
Also the fake token endpoint itself: the token command, RFC 7662 introspection."""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from oauth_helpers import PASSWORD, USER, IssuerSource

from inboxlab.engine.crm.errors import SubmitFailed
from inboxlab.engine.crm.send import SmtpSubmitter
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import SmtpServer
from inboxlab.engine.tokens import CommandToken, TokenProvider
from inboxlab.fakeserver.config import AccountConfig, FolderConfig, ServerConfig
from inboxlab.fakeserver.oauth_http import TokenEndpoint
from inboxlab.fakeserver.smtp.config import SmtpConfig
from inboxlab.fakeserver.smtp.server import FakeSmtpServer
from inboxlab.fakeserver.store import Store
from inboxlab.fakeserver.tls import mint

RAW = b"From: oauth@example.com\r\nTo: bob@client.test\r\nSubject: x\r\n\r\nx\r\n"


def make_store() -> Store:
    from inboxlab.fakeserver.imap.server import build_store
    return build_store(ServerConfig(accounts=(AccountConfig(USER, PASSWORD, (
        FolderConfig("INBOX"), FolderConfig("Sent", special_use=("\\Sent",)))),)))


@asynccontextmanager
async def smtp_server(store: Store, **kw: object) -> AsyncIterator[FakeSmtpServer]:
    tls = mint()
    srv = FakeSmtpServer.for_store(SmtpConfig(), store, tls=tls,
                                   oauth_mechanisms=("XOAUTH2", "OAUTHBEARER"),
                                   **kw)  # type: ignore[arg-type]
    async with srv:
        yield srv


def submitter(srv: FakeSmtpServer, credential: Secret | TokenProvider) -> SmtpSubmitter:
    assert srv.tls is not None
    return SmtpSubmitter(SmtpServer("127.0.0.1", srv.port, "starttls"), USER, credential,
                         tls_context=srv.tls.client_context())


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
async def test_submission_with_a_token(mech: str) -> None:
    store = make_store()
    async with smtp_server(store) as srv:
        source = IssuerSource(store.oauth)
        sub = submitter(srv, TokenProvider(source, mech))  # type: ignore[arg-type]
        try:
            reply = await sub.submit(USER, ["bob@client.test"], RAW)
        finally:
            await sub.close()
        assert "OK queued" in reply and source.fetches == 1
        assert [d.rcpt for d in srv.log.outside("bob@client.test")] == ["bob@client.test"]


@pytest.mark.parametrize("style,words", [
    ("gmail", '"status":"400"'), ("rfc7628", '"status":"insufficient_scope"')])
async def test_a_token_without_the_scope_is_refused_once_refreshed(style: str,
                                                                   words: str) -> None:
    store = make_store()
    store.oauth.descope()
    async with smtp_server(store, oauth_style=style) as srv:
        source = IssuerSource(store.oauth)
        sub = submitter(srv, TokenProvider(source, "XOAUTH2"))
        with pytest.raises(SubmitFailed) as caught:
            await sub.submit(USER, ["bob@client.test"], RAW)
        await sub.close()
        err = caught.value
        assert err.code == "auth_failed" and err.permanent
        assert words in (err.server_text or "") and "535" in (err.server_text or "")
        assert source.fetches == 2  # one refresh, one retry, no more
        assert not srv.log.deliveries


async def test_an_expired_token_is_refreshed_and_the_mail_goes() -> None:
    store = make_store()
    async with smtp_server(store) as srv:
        source = IssuerSource(store.oauth)
        provider = TokenProvider(source, "OAUTHBEARER")
        await provider.token()
        store.oauth.expire()
        sub = submitter(srv, provider)
        try:
            assert "OK queued" in await sub.submit(USER, ["bob@client.test"], RAW)
        finally:
            await sub.close()
        assert provider.refreshes == 1 and source.fetches == 2


async def test_basic_auth_switched_off_says_so() -> None:
    async with smtp_server(make_store(), oauth_style="office365", basic_auth=False) as srv:
        sub = submitter(srv, Secret(PASSWORD))
        with pytest.raises(SubmitFailed) as caught:
            await sub.submit(USER, ["bob@client.test"], RAW)
        await sub.close()
        assert "basic authentication is disabled" in (caught.value.server_text or "")


def _post(url: str, form: dict[str, str]) -> tuple[int, dict[str, object]]:
    req = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_token_endpoint_command_and_introspection() -> None:
    store = make_store()
    async with TokenEndpoint(store.oauth) as ep:
        rt = store.oauth.refresh_token(USER)
        command = CommandToken([sys.executable, "-m", "inboxlab.fakeserver.oauth_http", ep.url,
                                "--refresh-token", rt])
        token = (await command.fetch()).reveal()
        assert store.oauth.check(token, USER) == "ok"
        status, body = await asyncio.to_thread(_post, ep.url + "/introspect", {"token": token})
        assert status == 200 and body["active"] is True and body["username"] == USER
        status, body = await asyncio.to_thread(_post, ep.url + "/introspect", {"token": "x"})
        assert body == {"active": False}
        store.oauth.revoke()
        status, body = await asyncio.to_thread(
            _post, ep.url + "/token", {"grant_type": "refresh_token", "refresh_token": rt})
        assert status == 400 and body["error"] == "invalid_grant"
        from inboxlab.engine.errors import TokenUnavailable
        with pytest.raises(TokenUnavailable) as caught:
            await command.fetch()
        assert "invalid_grant" in (caught.value.server_text or "")
    with pytest.raises(ValueError):
        TokenEndpoint(store.oauth, host="0.0.0.0")
