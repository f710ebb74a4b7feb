"""AUTHENTICATE XOAUTH2 / OAUTHBEARER from the engine's IMAP client to the fake server over
loopback: both mechanisms, with SASL-IR and without (continuation), and the refusals of
each provider style decoded into typed, named errors. The token never shows in a trace."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from oauth_helpers import USER, oauth_server

from inboxlab.engine.errors import ConfigError, TokenRejected
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.oauth import initial_response, read_challenge
from inboxlab.engine.secrets import Secret
from inboxlab.fakeserver.config import AccountConfig, ServerConfig
from inboxlab.fakeserver.imap.server import FakeImapServer

MECHS = ["XOAUTH2", "OAUTHBEARER"]


def client_for(port: int, lines: list[str]) -> ImapClient:
    def trace(name: str, **info: Any) -> None:
        lines.append(f"{name} {info}")
    return ImapClient("127.0.0.1", port, security="plain", timeout=5, connect_timeout=5,
                      trace=trace)


@pytest.mark.parametrize("sasl_ir", [True, False], ids=["sasl-ir", "continuation"])
@pytest.mark.parametrize("mech", MECHS)
async def test_login_by_token(mech: str, sasl_ir: bool) -> None:
    lines: list[str] = []
    async with oauth_server(sasl_ir=sasl_ir) as srv:
        token = srv.store.oauth.issue_for(USER).value
        client = client_for(srv.port, lines)
        await client.connect()
        assert ("SASL-IR" in client.caps) == sasl_ir
        await client.authenticate_oauth(mech, USER, Secret(token))  # type: ignore[arg-type]
        assert client.authenticated
        await client.select("INBOX")
        await client.logout()
    wire = "\n".join(lines)
    assert f"AUTHENTICATE {mech}" in wire
    assert token not in wire and base64.b64encode(token.encode()).decode() not in wire
    assert initial_response(mech, USER, Secret(token)).decode() not in wire  # type: ignore[arg-type]


@pytest.mark.parametrize("style,verdict,code,status", [
    ("rfc7628", "expired", "oauth_token_rejected", "invalid_token"),
    ("rfc7628", "scope", "oauth_insufficient_scope", "insufficient_scope"),
    ("gmail", "expired", "oauth_token_rejected", "401"),
    ("gmail", "scope", "oauth_insufficient_scope", "400"),
    ("gmail", "revoked", "oauth_token_rejected", "401"),
    ("office365", "expired", "oauth_token_rejected", None),
])
@pytest.mark.parametrize("sasl_ir", [True, False], ids=["sasl-ir", "continuation"])
@pytest.mark.parametrize("mech", MECHS)
async def test_refusals_are_named_with_the_servers_words(
        mech: str, sasl_ir: bool, style: str, verdict: str, code: str,
        status: str | None) -> None:
    async with oauth_server(sasl_ir=sasl_ir, style=style) as srv:
        issuer = srv.store.oauth
        token = issuer.issue_for(USER).value
        {"expired": issuer.expire, "scope": issuer.descope, "revoked": issuer.revoke}[verdict]()
        client = client_for(srv.port, [])
        await client.connect()
        with pytest.raises(TokenRejected) as caught:
            await client.authenticate_oauth(mech, USER, Secret(token))  # type: ignore[arg-type]
        err = caught.value
        assert err.code == code and err.permanent and err.stage == "imap_login"
        if status is None:  # Microsoft sends no challenge, only its words
            assert err.challenge is None and err.server_text == "AUTHENTICATE failed."
        else:
            assert err.challenge is not None and err.challenge.status == status
            assert json.loads(err.challenge.text)["status"] == status
            assert f'"status":"{status}"' in (err.server_text or "")
        # the exchange ended cleanly: the connection still answers
        await client.noop()
        await client.close()


async def test_a_mechanism_the_server_does_not_offer_is_a_config_error() -> None:
    async with FakeImapServer(ServerConfig(accounts=(AccountConfig(USER, "x"),))) as plain:
        client = client_for(plain.port, [])
        await client.connect()
        with pytest.raises(ConfigError) as caught:
            await client.authenticate_oauth("XOAUTH2", USER, Secret("at-whatever"))
        assert caught.value.code == "oauth_mechanism_missing"
        assert "PLAIN" in (caught.value.remediation or "")
        await client.close()


def test_challenge_decoding_is_lenient_about_padding_and_junk() -> None:
    raw = base64.b64encode(b'{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}')
    found = read_challenge(raw.decode().rstrip("="))
    assert found is not None and found.scope_problem and found.status == "400"
    assert read_challenge("") is None and read_challenge("not base64!") is None
    assert read_challenge(base64.b64encode(b"[1, 2]").decode()) is None
