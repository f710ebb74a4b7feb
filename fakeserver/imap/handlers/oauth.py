"""AUTHENTICATE XOAUTH2 / OAUTHBEARER on the fake IMAP server (RFC 7628, Google's XOAUTH2).

The token is checked by the store's ``TokenIssuer`` (``fakeserver.oauth``). A good one
logs in like a password would (``auth.logged_in``); a bad one gets the provider's
failure (``fakeserver.oauth_errors``): an error challenge ``+ <base64 JSON>`` the client
must answer (any line, usually empty or ``AQ==``) before the NO, or the NO at once when
the provider sends no challenge (Microsoft). Scenario login hooks see OAuth logins too.
"""

from __future__ import annotations

from inboxlab.fakeserver.errors import CommandFailed, ProtocolError
from inboxlab.fakeserver.imap.handlers.auth import logged_in
from inboxlab.fakeserver.imap.session import Answered, ImapSession, Steps
from inboxlab.fakeserver.imap.syntax.commands import AuthenticateArgs, Command
from inboxlab.fakeserver.oauth_errors import failure, parse_response

MECHANISMS = ("XOAUTH2", "OAUTHBEARER")


def offered(s: ImapSession, mechanism: str) -> bool:
    return (mechanism == "XOAUTH2" and s.caps.xoauth2) or (
        mechanism == "OAUTHBEARER" and s.caps.oauthbearer)


def authenticate_oauth(s: ImapSession, c: Command) -> Steps:
    args = c.args
    assert isinstance(args, AuthenticateArgs)
    if args.initial_response is None:
        yield b"+ \r\n"
        return s.hold("auth", c)
    if not s.caps.sasl_ir:
        raise ProtocolError("SASL-IR is not supported: send the response after '+'")
    return (yield from oauth_response(s, c, args.initial_response.encode("ascii", "replace")))


def oauth_response(s: ImapSession, c: Command, b64: bytes) -> Steps:
    assert isinstance(c.args, AuthenticateArgs)
    mechanism = c.args.mechanism.upper()
    parsed = parse_response(mechanism, b64.strip())
    if parsed is None:
        raise CommandFailed(f"Invalid {mechanism} response", code="AUTHENTICATIONFAILED")
    user, token = parsed
    verdict = s.store.oauth.check(token, user)
    account = s.store.accounts.get(user) if verdict == "ok" else None
    override = s.hooks.on_login(s, user, account is not None)
    if override is not None:
        yield override.data
        raise Answered(close=override.close)
    if account is None:
        found = failure(s.config.oauth_errors, verdict)
        if found.challenge is None:
            raise CommandFailed(found.imap_text, code=found.imap_code)
        s.sasl_failure = (found.imap_text, found.imap_code)
        yield b"+ " + found.challenge + b"\r\n"
        return s.hold("auth", c)
    return (yield from logged_in(s, account))


__all__ = ["MECHANISMS", "authenticate_oauth", "oauth_response", "offered"]
