"""Commands valid in any state plus login: CAPABILITY NOOP LOGOUT ID STARTTLS LOGIN
AUTHENTICATE ENABLE NAMESPACE IDLE.

Each handler is a generator of response lines returning a ``Done`` (see session.py).
"""

from __future__ import annotations

import base64
import binascii

from inboxlab.fakeserver.errors import CommandFailed, ProtocolError
from inboxlab.fakeserver.imap import responses as r
from inboxlab.fakeserver.imap.handlers.auth import logged_in
from inboxlab.fakeserver.imap.handlers.oauth import authenticate_oauth, oauth_response, offered
from inboxlab.fakeserver.imap.session import Answered, Done, ImapSession, State, Steps
from inboxlab.fakeserver.imap.syntax.commands import (
    AuthenticateArgs,
    Command,
    Credentials,
    EnableArgs,
    IdArgs,
)
from inboxlab.fakeserver.oauth_errors import BASIC_AUTH_OFF_IMAP


def capability(s: ImapSession, c: Command) -> Steps:
    yield r.untagged("CAPABILITY " + " ".join(s.capabilities()))
    return Done("CAPABILITY completed")


def noop(s: ImapSession, c: Command) -> Steps:
    return Done("NOOP completed")
    yield b""  # a generator, like every handler


def check(s: ImapSession, c: Command) -> Steps:
    return Done("CHECK completed")
    yield b""


def logout(s: ImapSession, c: Command) -> Steps:
    yield r.untagged("BYE Logging out")
    s.deselect()
    s.state = State.LOGOUT
    return Done("LOGOUT completed")


def id_(s: ImapSession, c: Command) -> Steps:
    assert isinstance(c.args, IdArgs)
    yield r.untagged('ID ("name" "inboxlab-fakeserver" "vendor" "inboxlab")')
    return Done("ID completed")


def starttls(s: ImapSession, c: Command) -> Steps:
    if s.tls_active:
        raise ProtocolError("TLS is already active")
    return Done("Begin TLS negotiation now")
    yield b""


def login(s: ImapSession, c: Command) -> Steps:
    assert isinstance(c.args, Credentials)
    if s.caps.logindisabled_before_tls and not s.tls_active:
        raise CommandFailed(
            "Plaintext authentication disallowed on non-secure connections",
            code="PRIVACYREQUIRED",
        )
    return (yield from _authenticate(s, c, c.args.username, c.args.password))


def authenticate(s: ImapSession, c: Command) -> Steps:
    args = c.args
    assert isinstance(args, AuthenticateArgs)
    if offered(s, args.mechanism.upper()):
        return (yield from authenticate_oauth(s, c))
    if args.mechanism.upper() != "PLAIN":
        raise CommandFailed(f"Unsupported authentication mechanism {args.mechanism}",
                            code="CANNOT")
    if s.caps.logindisabled_before_tls and not s.tls_active:
        raise CommandFailed("Plaintext authentication disallowed on non-secure connections",
                            code="PRIVACYREQUIRED")
    if args.initial_response is None:
        yield b"+ \r\n"
        return s.hold("auth", c)
    if not s.caps.sasl_ir:
        raise ProtocolError("SASL-IR is not supported: send the response after '+'")
    return (yield from _plain(s, c, args.initial_response.encode("ascii", "replace")))


def sasl_response(s: ImapSession, c: Command, line: bytes) -> Steps:
    """The client's line after our ``+`` in AUTHENTICATE (PLAIN, or an OAuth mechanism;
    after an OAuth error challenge, whatever the client answers ends in the NO)."""
    refused, s.sasl_failure = s.sasl_failure, None
    if refused is not None:
        raise CommandFailed(refused[0], code=refused[1])
    if line.strip() == b"*":
        raise ProtocolError("AUTHENTICATE cancelled")
    assert isinstance(c.args, AuthenticateArgs)
    if offered(s, c.args.mechanism.upper()):
        return (yield from oauth_response(s, c, line.strip()))
    return (yield from _plain(s, c, line.strip()))


def _plain(s: ImapSession, c: Command, b64: bytes) -> Steps:
    try:
        decoded = base64.b64decode(b64, validate=True) if b64 not in (b"", b"=") else b""
        _authzid, user, password = decoded.split(b"\0")
        username, secret = user.decode(), password.decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ProtocolError("Invalid AUTHENTICATE PLAIN response") from None
    return (yield from _authenticate(s, c, username, secret))


def _authenticate(s: ImapSession, c: Command, username: str, password: str) -> Steps:
    account = s.store.authenticate(username, password)
    override = s.hooks.on_login(s, username, account is not None)
    if override is not None:
        yield override.data
        # The hook answered; nothing more from us. A tagged line from the hook ends it.
        raise Answered(close=override.close)
    if not s.caps.basic_auth:  # the provider switched password logins off
        text, code = BASIC_AUTH_OFF_IMAP
        raise CommandFailed(text if c.name == "LOGIN" else "AUTHENTICATE failed.", code=code)
    if account is None:
        raise CommandFailed("Invalid credentials (Failure)", code="AUTHENTICATIONFAILED")
    return (yield from logged_in(s, account))


def enable(s: ImapSession, c: Command) -> Steps:
    assert isinstance(c.args, EnableArgs)
    newly = []
    for name in c.args.capabilities:
        if s.caps.enabled(name) and name not in s.enabled:
            s.enabled.add(name)
            newly.append(name)
    if "QRESYNC" in s.enabled:  # RFC 7162: QRESYNC implies CONDSTORE
        s.enabled.add("CONDSTORE")
    if "CONDSTORE" in s.enabled:
        s.condstore_active = True
    yield r.untagged("ENABLED" + "".join(" " + n for n in newly))
    return Done("ENABLE completed")


def namespace(s: ImapSession, c: Command) -> Steps:
    yield r.untagged('NAMESPACE (("" "/")) NIL NIL')
    return Done("NAMESPACE completed")


def idle(s: ImapSession, c: Command) -> Steps:
    yield b"+ idling\r\n"
    return s.hold("idle", c)
