"""How each provider refuses a bearer token (and a password, once basic auth is off).

Data with sources, like the profile texts; ``failure(style, verdict)`` gives the error
challenge to send before the refusal (base64 JSON, or None when the provider sends none)
and the refusal's words for IMAP and SMTP.

- ``gmail``: Google sends ``{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}``
  then ``NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)``
  (https://developers.google.com/gmail/imap/xoauth2-protocol); a token without the mail
  scope gets status ``"400"`` and ``NO Invalid SASL argument.``
  (https://github.com/mscdex/node-imap/issues/233, https://github.com/emersion/go-imap/issues/213);
  SMTP says ``535 5.7.8 Username and Password not accepted`` (one line here; Gmail splits it)
  (https://github.com/PHPMailer/PHPMailer/issues/2850).
- ``office365``: no challenge, ``NO AUTHENTICATE failed.`` whatever the reason
  (https://github.com/MicrosoftDocs/office-developer-exchange-docs/issues/87); an
  expired token ends a live session with ``* BYE Session invalidated - AccessTokenExpired``
  (https://github.com/iroco-co/aioimaplib/issues/83); with basic auth off, LOGIN gets
  ``NO LOGIN failed.`` and SMTP ``535 5.7.139 Authentication unsuccessful, basic
  authentication is disabled.`` (https://github.com/rpremraj/mailR/issues/107).
- ``rfc7628``: the RFC's own shape (section 3.2.2, RFC 6750 error codes), as Dovecot
  sends it: ``{"status":"invalid_token"|"insufficient_scope","schemes":"bearer","scope":"mail"}``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from inboxlab.fakeserver.oauth import Verdict

STYLES = ("gmail", "office365", "rfc7628")

OFFICE365_EXPIRED_BYE = "Session invalidated - AccessTokenExpired"
BASIC_AUTH_OFF_IMAP = ("LOGIN failed.", None)
BASIC_AUTH_OFF_SMTP = "535 5.7.139 Authentication unsuccessful, basic authentication is disabled."


@dataclass(frozen=True)
class Failure:
    challenge: bytes | None  # base64 JSON for the "+ " / "334 " line, or None
    imap_text: str
    imap_code: str | None
    smtp_reply: str


def _b64(obj: dict[str, str]) -> bytes:
    return base64.b64encode(json.dumps(obj, separators=(",", ":")).encode())


def failure(style: str, verdict: Verdict) -> Failure:
    scope = verdict == "scope"
    if style == "gmail":
        status = "400" if scope else "401"
        challenge = _b64({"status": status, "schemes": "bearer",
                          "scope": "https://mail.google.com/"})
        if scope:
            return Failure(challenge, "Invalid SASL argument.", None,
                           "535 5.7.8 Username and Password not accepted. Learn more at "
                           "https://support.google.com/mail/?p=BadCredentials")
        return Failure(challenge, "Invalid credentials (Failure)", "AUTHENTICATIONFAILED",
                       "535 5.7.8 Username and Password not accepted. Learn more at "
                           "https://support.google.com/mail/?p=BadCredentials")
    if style == "office365":
        return Failure(None, "AUTHENTICATE failed.", None,
                       "535 5.7.3 Authentication unsuccessful")
    status = "insufficient_scope" if scope else "invalid_token"
    return Failure(_b64({"status": status, "schemes": "bearer", "scope": "mail"}),
                   "Authentication failed.", "AUTHENTICATIONFAILED",
                   "535 5.7.8 Authentication credentials invalid")


def parse_response(mechanism: str, b64: bytes) -> tuple[str, str] | None:
    """(user, token) from an XOAUTH2 / OAUTHBEARER client response, or None if malformed."""
    try:
        raw = base64.b64decode(b64, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    parts = raw.split("\x01")
    user = ""
    if mechanism == "OAUTHBEARER":
        gs2 = parts[0].split(",")
        if len(gs2) < 2 or not gs2[1].startswith("a="):
            return None
        user = gs2[1][2:].replace("=2C", ",").replace("=3D", "=")
        parts = parts[1:]
    fields = dict(p.split("=", 1) for p in parts if "=" in p)
    user = fields.get("user", user)
    auth = fields.get("auth", "")
    if not user or not auth.lower().startswith("bearer "):
        return None
    return user, auth[7:].strip()


__all__ = ["BASIC_AUTH_OFF_IMAP", "BASIC_AUTH_OFF_SMTP", "OFFICE365_EXPIRED_BYE", "STYLES",
           "Failure", "failure", "parse_response"]
