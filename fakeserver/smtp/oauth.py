"""SMTP ``AUTH XOAUTH2`` / ``AUTH OAUTHBEARER`` on the fake submission server (aiosmtpd).

aiosmtpd runs a handler's ``auth_<MECHANISM>`` method as a SASL mechanism; the fake
server's handler forwards both OAuth ones here. The token is checked by the store's
``TokenIssuer``; a refused one gets the provider's failure (``fakeserver.oauth_errors``):
``334 <base64 JSON>``, the client's dummy response, then the 535 in the provider's words.
Which mechanisms exist, and whether passwords still work, is ``SmtpOAuth``'s to say
(the scenario's capabilities; Microsoft 365 with basic auth off refuses AUTH PLAIN/LOGIN
with ``535 5.7.139 ... basic authentication is disabled.``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from aiosmtpd.smtp import MISSING, SMTP, AuthResult

from inboxlab.fakeserver.oauth import TokenIssuer
from inboxlab.fakeserver.oauth_errors import BASIC_AUTH_OFF_SMTP, failure, parse_response

MECHANISMS = ("XOAUTH2", "OAUTHBEARER")


@dataclass(frozen=True)
class SmtpOAuth:
    issuer: TokenIssuer
    mechanisms: tuple[str, ...] = ()
    style: str = "rfc7628"
    basic_auth: bool = True

    def excluded(self) -> list[str]:
        """Mechanisms aiosmtpd must not offer (``auth_exclude_mechanism``)."""
        return [m for m in MECHANISMS if m not in self.mechanisms]

    def basic_refusal(self) -> str | None:
        """The reply to a password AUTH when the provider switched basic auth off."""
        if self.basic_auth:
            return None
        return BASIC_AUTH_OFF_SMTP if self.style == "office365" else \
            "535 5.7.8 Authentication credentials invalid"


async def authenticate(oauth: SmtpOAuth, server: SMTP, mechanism: str,
                       args: list[str]) -> AuthResult:
    """One OAuth exchange; the account name on success (like a password login)."""
    if len(args) > 1:
        b64 = args[1].encode("ascii", "replace")
    else:
        answer = await server.challenge_auth("", encode_to_b64=False)
        if answer is MISSING or not isinstance(answer, bytes):
            return AuthResult(success=False, handled=False, message="501 5.7.0 Auth aborted")
        b64 = base64.b64encode(answer)
    parsed = parse_response(mechanism, b64)
    if parsed is None:
        return AuthResult(success=False, handled=False,
                          message=f"501 5.5.2 Invalid {mechanism} response")
    user, token = parsed
    verdict = oauth.issuer.check(token, user)
    if verdict == "ok":
        return AuthResult(success=True, auth_data=user)
    found = failure(oauth.style, verdict)
    if found.challenge is not None:
        await server.challenge_auth(found.challenge.decode(), encode_to_b64=False)
    return AuthResult(success=False, handled=False, message=found.smtp_reply)


__all__ = ["MECHANISMS", "SmtpOAuth", "authenticate"]
