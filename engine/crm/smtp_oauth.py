"""SMTP ``AUTH XOAUTH2`` / ``AUTH OAUTHBEARER`` over aiosmtplib, with one token refresh.

aiosmtplib has ``auth_xoauth2`` but not OAUTHBEARER, and neither keeps the server's error
challenge; this speaks both through ``execute_command`` (its documented way to send any
command) with the bytes of ``engine.oauth``. A refused token answers ``334 <base64 JSON>``
first; we send the mechanism's dummy response and get the final 535, raised as
``SMTPAuthenticationError`` whose message quotes the decoded JSON.

``login_oauth`` is the SMTP side of the account's rule: a rejected token gets one refresh
(``TokenProvider.refresh``) and one retry on the same connection; a refresh that fails
raises ``TokenUnavailable`` (the grant was revoked) for the caller to report.
"""

from __future__ import annotations

import aiosmtplib

from inboxlab.engine.oauth import DUMMY_RESPONSE, Mechanism, initial_response, read_challenge
from inboxlab.engine.secrets import Secret
from inboxlab.engine.tokens import TokenProvider

AUTH_OK = 235
AUTH_CONTINUE = 334


async def auth_oauth(smtp: aiosmtplib.SMTP, mechanism: Mechanism, username: str,
                     token: Secret, host: str = "", port: int = 0) -> None:
    """One AUTH exchange; raises ``SMTPAuthenticationError`` with the server's words."""
    if smtp.last_ehlo_response is None:
        await smtp.ehlo()
    blob = initial_response(mechanism, username, token, host, port)
    response = await smtp.execute_command(b"AUTH", mechanism.encode(), blob)
    challenge = None
    if response.code == AUTH_CONTINUE:
        challenge = read_challenge(response.message)
        response = await smtp.execute_command(DUMMY_RESPONSE[mechanism])
    if response.code != AUTH_OK:
        words = response.message
        if challenge is not None:
            words = f"{words} (error challenge: {challenge.text})"
        raise aiosmtplib.SMTPAuthenticationError(response.code, words)


async def login_oauth(smtp: aiosmtplib.SMTP, provider: TokenProvider, username: str,
                      host: str = "", port: int = 0) -> None:
    """AUTH with the provider's token; on 535, one refresh and one retry."""
    used = await provider.token()
    try:
        await auth_oauth(smtp, provider.mechanism, username, used, host, port)
    except aiosmtplib.SMTPAuthenticationError:
        fresh = await provider.refresh(used)
        await auth_oauth(smtp, provider.mechanism, username, fresh, host, port)


__all__ = ["auth_oauth", "login_oauth"]
