"""OAuth 2.0 bearer-token SASL, sans-I/O: XOAUTH2 (Google, Microsoft) and OAUTHBEARER (RFC 7628).

Two jobs, no sockets: build the client's initial response for a username and an access
token, and read the error a server sends instead of accepting it. Both IMAP
(``AUTHENTICATE``) and SMTP (``AUTH``) use the same bytes; the shells that speak them are
``engine.imap.session.ImapSession.authenticate_oauth`` and ``engine.crm.send``.

The failure shape is the same for both mechanisms (RFC 7628 3.2.2, Google's XOAUTH2
document): instead of the tagged NO the server first sends a continuation whose payload is
base64 JSON, ``{"status": ..., "schemes": ..., "scope": ...}``; the client answers with a
dummy response (XOAUTH2: an empty line; OAUTHBEARER: a single ``%x01``) and only then gets
the NO / 535. ``read_challenge`` decodes that JSON so the failure carries the server's own
words, and ``challenge_cause`` names what it means:

- RFC 6750 ``insufficient_scope``, or Gmail's HTTP-style ``"400"`` (seen when the token
  lacks ``https://mail.google.com/``: https://github.com/emersion/go-imap/issues/213):
  the token's scope does not cover mail; a refresh gives the same scope.
- ``invalid_token`` / ``"401"`` (Google: https://developers.google.com/gmail/imap/xoauth2-protocol):
  the token is expired or revoked; one refresh may help.

The token itself is a ``Secret``; it is revealed only inside ``initial_response`` and
the bytes built there go only to the wire (traces show ``[redacted]``).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Literal

from inboxlab.engine.secrets import Secret

Mechanism = Literal["XOAUTH2", "OAUTHBEARER"]
MECHANISMS: tuple[Mechanism, ...] = ("XOAUTH2", "OAUTHBEARER")

# What the client sends after an error challenge to get the final NO (see module doc).
DUMMY_RESPONSE: dict[Mechanism, bytes] = {"XOAUTH2": b"", "OAUTHBEARER": b"AQ=="}

# The error statuses that say "the token's scope", in RFC 6750 and Gmail's spelling.
_SCOPE_STATUSES = frozenset({"insufficient_scope", "400"})


def _gs2_name(username: str) -> str:
    """RFC 5801 saslname: ``,`` and ``=`` escaped as ``=2C`` / ``=3D``."""
    return username.replace("=", "=3D").replace(",", "=2C")


def initial_response(mechanism: Mechanism, username: str, token: Secret,
                     host: str = "", port: int = 0) -> bytes:
    """The base64 client response that carries ``token`` (the only place it is revealed).

    XOAUTH2: ``user=U ^A auth=Bearer T ^A ^A``. OAUTHBEARER (RFC 7628 3.1): the GS2
    header ``n,a=U,`` then ``host=``/``port=`` (when known) and ``auth=Bearer T``, each
    ended by ``^A``, and a final ``^A``.
    """
    if "\x01" in username or "\x01" in token.reveal():
        raise ValueError("a username or token cannot contain ^A (0x01)")
    bearer = "auth=Bearer " + token.reveal()
    if mechanism == "XOAUTH2":
        raw = f"user={username}\x01{bearer}\x01\x01"
    elif mechanism == "OAUTHBEARER":
        fields = ([f"host={host}"] if host else []) + ([f"port={port}"] if port else [])
        raw = f"n,a={_gs2_name(username)},\x01" + "".join(f + "\x01" for f in fields) \
            + bearer + "\x01\x01"
    else:
        raise ValueError(f"unknown OAuth mechanism {mechanism!r}")
    return base64.b64encode(raw.encode())


@dataclass(frozen=True)
class Challenge:
    """A server's OAuth error challenge, decoded (``text`` is the JSON as sent)."""

    status: str
    scope: str
    schemes: str
    text: str

    @property
    def scope_problem(self) -> bool:
        return self.status.lower() in _SCOPE_STATUSES


def read_challenge(payload: str) -> Challenge | None:
    """The decoded error challenge, or None when ``payload`` is not base64 JSON
    (a bare ``+`` before the client's response, or a server's free text)."""
    data = payload.strip()
    if not data:
        return None
    try:
        raw = base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
        obj = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(obj, dict):
        return None
    text = raw.decode("utf-8").strip()

    def field(name: str) -> str:
        value = obj.get(name, "")
        return value if isinstance(value, str) else json.dumps(value)

    return Challenge(field("status"), field("scope"), field("schemes"), text)


def challenge_cause(challenge: Challenge | None) -> str:
    """The engine's code for a rejected token: scope, or rejected (expired/revoked)."""
    if challenge is not None and challenge.scope_problem:
        return "oauth_insufficient_scope"
    return "oauth_token_rejected"


__all__ = [
    "DUMMY_RESPONSE",
    "MECHANISMS",
    "Challenge",
    "Mechanism",
    "challenge_cause",
    "initial_response",
    "read_challenge",
]
