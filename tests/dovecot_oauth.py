"""The second Dovecot configuration: OAuth 2.0 logins through Dovecot's oauth2 passdb.

Dovecot validates every XOAUTH2 / OAUTHBEARER token by asking a token endpoint's RFC 7662
introspection (``introspection_mode = post``); here that endpoint is the fake provider's
(``fakeserver.oauth_http.TokenEndpoint``) on loopback, so the engine's OAuth path meets a
real server's SASL code while tokens expire, lose their scope or are revoked at the fake
issuer. Appended to the generated dovecot.conf (later settings win); the passwd-file
passdb stays first and answers password logins as before.
"""

from __future__ import annotations

from pathlib import Path

OAUTH_USER = "user@example.com"


def oauth2_config(where: Path, introspection_url: str) -> str:
    """The extra dovecot.conf lines; writes the oauth2 passdb's settings file in ``where``
    (a directory of its own: Dovecot's root must start empty), readable by Dovecot's auth
    process."""
    where.chmod(0o755)
    ext = where / "dovecot-oauth2.conf.ext"
    ext.write_text(
        f"introspection_mode = post\n"
        f"introspection_url = {introspection_url}\n"
        "username_attribute = username\n"
        "active_attribute = active\n"
        "active_value = true\n"
        "scope = mail\n"
    )
    ext.chmod(0o644)
    return f"""
auth_mechanisms = plain login xoauth2 oauthbearer
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {ext}
}}
"""
