"""The fake provider's OAuth 2.0 authorisation server, sans-I/O: grants, access tokens, checks.

One ``TokenIssuer`` per store: the IMAP and SMTP servers ask it whether a bearer token
is good for a user (``check``), the loopback token endpoint (``fakeserver.oauth_http``)
issues tokens from refresh tokens and answers RFC 7662 introspection (what Dovecot's
oauth2 passdb calls), and scenario actions change its mind at a trigger:

- ``expire``: every access token issued so far is past its lifetime (a refresh works);
- ``revoke``: the user's grant is gone (password change, admin): its tokens stop
  working and the refresh token is refused with ``invalid_grant``;
- ``descope``: tokens issued from now on lack the mail scope (an admin removed the
  permission), and the ones already out lose it too.

Every user of the store has one grant from the start, whose refresh token is what a
token command presents (``fakeserver token``). Tokens are random (``secrets``), never
derived from the seed: they are the secrets the secrets tests look for.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

MAIL_SCOPE = "mail"
OTHER_SCOPE = "openid"
LIFETIME = 3600.0

Verdict = Literal["ok", "expired", "revoked", "scope", "invalid"]


class GrantRefused(Exception):
    """The token endpoint's refusal: an OAuth error code (RFC 6749 5.2) and its words."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


@dataclass
class Grant:
    user: str
    refresh_token: str = field(repr=False)
    scope: str = MAIL_SCOPE
    revoked: bool = False


@dataclass
class AccessToken:
    user: str
    value: str = field(repr=False)
    scope: str
    expires_at: float
    grant: Grant = field(repr=False)


class TokenIssuer:
    """Grants per user and the access tokens issued from them; clock injectable."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 lifetime: float = LIFETIME) -> None:
        self._clock = clock
        self.lifetime = lifetime
        self.grants: dict[str, Grant] = {}
        self._tokens: dict[str, AccessToken] = {}
        self.issued = 0

    def __repr__(self) -> str:
        return f"TokenIssuer(users={sorted(self.grants)!r}, issued={self.issued})"

    def grant(self, user: str) -> Grant:
        """The user's grant, created on first use."""
        if user not in self.grants:
            self.grants[user] = Grant(user, "rt-" + secrets.token_urlsafe(18))
        return self.grants[user]

    def refresh_token(self, user: str) -> str:
        return self.grant(user).refresh_token

    def issue(self, refresh_token: str) -> AccessToken:
        """A new access token for the grant behind ``refresh_token``; GrantRefused if none."""
        grant = next((g for g in self.grants.values()
                      if secrets.compare_digest(g.refresh_token, refresh_token)), None)
        if grant is None:
            raise GrantRefused("invalid_grant", "unknown refresh token")
        if grant.revoked:
            raise GrantRefused("invalid_grant", "Token has been expired or revoked.")
        token = AccessToken(grant.user, "at-" + secrets.token_urlsafe(24), grant.scope,
                            self._clock() + self.lifetime, grant)
        self._tokens[token.value] = token
        self.issued += 1
        return token

    def issue_for(self, user: str) -> AccessToken:
        """Issue straight for ``user`` (tests, the scenario runner)."""
        return self.issue(self.refresh_token(user))

    def issued_values(self) -> tuple[str, ...]:
        """Every access token issued so far (tests scan what the client wrote for them)."""
        return tuple(self._tokens)

    def lookup(self, value: str) -> AccessToken | None:
        return self._tokens.get(value)

    def check(self, value: str, user: str) -> Verdict:
        """Whether ``value`` lets ``user`` read mail now, and if not, why."""
        token = self._tokens.get(value)
        if token is None or token.user.lower() != user.lower():
            return "invalid"
        if token.grant.revoked:
            return "revoked"
        if self._clock() >= token.expires_at:
            return "expired"
        if MAIL_SCOPE not in token.scope.split():
            return "scope"
        return "ok"

    def introspect(self, value: str) -> dict[str, object]:
        """RFC 7662 introspection: ``active`` plus, when active, who and what for."""
        token = self._tokens.get(value)
        if token is None or token.grant.revoked or self._clock() >= token.expires_at:
            return {"active": False}
        return {"active": True, "username": token.user, "scope": token.scope,
                "token_type": "Bearer", "exp": int(token.expires_at)}

    # -- scenario actions ------------------------------------------------------------------

    def _users(self, user: str | None) -> list[str]:
        return [u for u in self.grants if user is None or u.lower() == user.lower()]

    def expire(self, user: str | None = None) -> int:
        """Every live token of ``user`` (all users: None) expires now; returns how many."""
        now = self._clock()
        users = self._users(user)
        hit = [t for t in self._tokens.values() if t.user in users and t.expires_at > now]
        for token in hit:
            token.expires_at = now
        return len(hit)

    def revoke(self, user: str | None = None) -> int:
        users = self._users(user)
        for u in users:
            self.grants[u].revoked = True
        return len(users)

    def descope(self, user: str | None = None) -> int:
        users = self._users(user)
        for u in users:
            self.grants[u].scope = OTHER_SCOPE
        for token in self._tokens.values():
            if token.user in users:
                token.scope = OTHER_SCOPE
        return len(users)


__all__ = ["LIFETIME", "MAIL_SCOPE", "AccessToken", "Grant", "GrantRefused", "TokenIssuer",
           "Verdict"]
