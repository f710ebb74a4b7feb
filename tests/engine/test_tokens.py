"""Token sources and the provider's one-refresh rule, without a server: a real subprocess
for the token command (mbsync's PassCmd idea), env and keyring sources, and the repr of
everything that holds a token."""

from __future__ import annotations

import sys

import pytest

from inboxlab.engine.errors import ConfigError, TokenUnavailable
from inboxlab.engine.oauth import initial_response
from inboxlab.engine.secrets import Secret
from inboxlab.engine.tokens import CommandToken, EnvToken, TokenProvider, token_source

PY = sys.executable


async def test_the_command_prints_the_token_and_is_rerun_on_refresh(tmp_path) -> None:
    counter = tmp_path / "n"
    counter.write_text("0")
    script = ("import pathlib,sys; p=pathlib.Path(sys.argv[1]); n=int(p.read_text())+1; "
              "p.write_text(str(n)); print(f'at-token-{n}')")
    provider = TokenProvider(CommandToken([PY, "-c", script, str(counter)]), "OAUTHBEARER")
    first = await provider.token()
    assert first.reveal() == "at-token-1" and await provider.token() is first
    fresh = await provider.refresh(first)
    assert fresh.reveal() == "at-token-2" and provider.refreshes == 1
    # a second connection refreshing after the same rejection gets the new token, no rerun
    assert (await provider.refresh(first)).reveal() == "at-token-2"
    assert counter.read_text() == "2"
    assert "at-token" not in repr(provider) + repr(provider.source)


async def test_a_failing_command_is_a_revoked_grant_with_its_words() -> None:
    script = ("import sys; sys.stderr.write('error: invalid_grant (Token has been revoked)\\n');"
              " sys.exit(1)")
    with pytest.raises(TokenUnavailable) as caught:
        await TokenProvider(CommandToken([PY, "-c", script])).token()
    err = caught.value
    assert err.code == "oauth_grant_revoked" and err.permanent and err.stage == "oauth_token"
    assert "invalid_grant" in (err.server_text or "")
    assert "reconnect the inbox in the CRM" in (err.remediation or "")


async def test_a_hanging_command_is_transient_and_a_missing_one_is_config() -> None:
    slow = CommandToken([PY, "-c", "import time; time.sleep(30)"], timeout=0.3)
    with pytest.raises(TokenUnavailable) as caught:
        await slow.fetch()
    assert caught.value.code == "oauth_token_timeout" and not caught.value.permanent
    with pytest.raises(ConfigError) as missing:
        await CommandToken(["/nonexistent/token-helper"]).fetch()
    assert missing.value.code == "oauth_token_command"
    with pytest.raises(ConfigError):
        CommandToken([])


async def test_a_static_token_that_was_rejected_cannot_be_refreshed() -> None:
    provider = TokenProvider(EnvToken("TOK", environ={"TOK": "at-static"}))
    used = await provider.token()
    with pytest.raises(TokenUnavailable) as caught:
        await provider.refresh(used)
    assert caught.value.code == "oauth_token_expired" and caught.value.permanent
    with pytest.raises(TokenUnavailable) as empty:
        await EnvToken("TOK", environ={}).fetch()
    assert empty.value.code == "oauth_no_token"


def test_source_choice_and_mechanism_check() -> None:
    assert isinstance(token_source("u", command=["x"]), CommandToken)
    assert isinstance(token_source("u"), EnvToken)
    with pytest.raises(ConfigError):
        TokenProvider(EnvToken(), "PLAIN")  # type: ignore[arg-type]


def test_initial_responses_follow_the_specs() -> None:
    import base64
    tok = Secret("at-1")
    x = base64.b64decode(initial_response("XOAUTH2", "a@b.c", tok))
    assert x == b"user=a@b.c\x01auth=Bearer at-1\x01\x01"
    o = base64.b64decode(initial_response("OAUTHBEARER", "a,b=c@d", tok, "imap.d", 993))
    assert o == b"n,a=a=2Cb=3Dc@d,\x01host=imap.d\x01port=993\x01auth=Bearer at-1\x01\x01"
    with pytest.raises(ValueError):
        initial_response("XOAUTH2", "a\x01b", tok)
