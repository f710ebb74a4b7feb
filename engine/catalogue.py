"""The cause catalogue: every reason an inbox disconnects, in words a person can act on.

One table, the single source of truth for "why did it stop, will it heal, who must do
what". Each ``Cause`` names the evidence that identifies it (the engine's error code,
the server's RFC 5530 response code, the server's own words, the exception type, the
stage) and carries two remediations: one for the mailbox owner, one for their IT.

Order matters: ``classify`` takes the first cause whose evidence matches, so the
specific ones (Gmail's "Application-specific password required", which arrives as a
plain ``NO [ALERT]`` at LOGIN) come before the generic ones ("the login was refused").

Provider texts are matched lowercase, as substrings; each cites a public source where
the provider was seen saying it. The engine reads its phrasings and response codes from
here too (``engine.imap.results.refusal``, ``engine.supervise.classify``): no other module
keeps a list of server words, and ``RESPONSE_CODES`` says which IMAP codes heal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Evidence:
    """What identifies a cause; any one of the lists matching is enough (``stages``, when
    given, must also hold). Texts are lowercase substrings of the server's words."""

    codes: tuple[str, ...] = ()
    response_codes: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    exceptions: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    events: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in vars(self).items() if v}


@dataclass(frozen=True)
class Cause:
    """One entry of the catalogue."""

    code: str
    title: str
    permanent: bool
    owner_fix: str
    it_fix: str
    evidence: Evidence
    sources: tuple[str, ...] = field(default=())

    @property
    def heals(self) -> bool:
        """Whether waiting (the engine's backoff) can fix it without a person."""
        return not self.permanent

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "title": self.title, "permanent": self.permanent,
                "owner_fix": self.owner_fix, "it_fix": self.it_fix,
                "evidence": self.evidence.as_dict(), "sources": list(self.sources)}


_LOGIN = ("imap_login",)

CAUSES: tuple[Cause, ...] = (
    # -- reaching the server ---------------------------------------------------------------
    # Transient as the engine treats it: a resolver outage heals; a typo does not, which is
    # why the owner's fix says to check the name.
    Cause("dns", "The server's name does not resolve", False,
          "Check the IMAP server name in the inbox settings for typos.",
          "Check the DNS records for the mail host (A/AAAA) and the resolver of the CRM.",
          Evidence(codes=("dns",))),
    Cause("connect_refused", "The server refused the connection", False,
          "Check the port; if it is right the mail server may be down. It will be retried.",
          "Make sure the IMAP service listens on that port and no firewall rejects it.",
          Evidence(codes=("connect_refused",))),
    Cause("connect_timeout", "No connection could be opened in time", False,
          "Check the server name and port; a firewall may be dropping the connection.",
          "Allow outbound TCP to the IMAP port; check the host is reachable from the CRM.",
          Evidence(codes=("connect_timeout", "connect_failed"))),
    # -- TLS ------------------------------------------------------------------------------
    Cause("tls_hostname_mismatch", "The certificate is for another host name", True,
          "Use the server name your provider documents (the one on its certificate).",
          "Reissue the certificate to cover the name clients use, or publish the right name.",
          Evidence(codes=("tls_hostname_mismatch",))),
    Cause("tls_untrusted", "The server's certificate is not trusted", True,
          "Ask your IT team; the CRM refuses certificates it cannot verify.",
          "Serve the full chain from a public CA (or install the private CA on the CRM side);"
          " renew expired certificates.",
          Evidence(codes=("tls_untrusted", "tls_expired", "tls_verify_failed"))),
    # A plain or STARTTLS client on the implicit-TLS port: the server waits for a TLS
    # ClientHello, the client for a greeting, and nothing happens. The probe tells it from a
    # tarpit by trying TLS on the same port (engine.diag.probe).
    Cause("tls_port_plain", "This port expects TLS from the first byte", True,
          "This port expects TLS from the first byte: use imaps:// on it (or port 143 for "
          "STARTTLS; for SMTP, smtps:// on 465 or STARTTLS on 587).",
          "Nothing on the server: the client used plain or STARTTLS on the implicit-TLS "
          "port (usually 993, 465 for SMTP).",
          Evidence(codes=("tls_expected",))),
    # The TCP connection opened (the kernel accepts on behalf of a stopped or overloaded
    # server) but no TLS answer came: not a firewall, the service itself is stuck.
    Cause("tls_handshake_timeout", "The TLS handshake timed out after TCP connected", False,
          "Nothing to do: the server accepted the connection but did not answer; the CRM "
          "retries. If it lasts, the mail server may be down.",
          "The port accepts TCP but the IMAP service does not complete TLS: check that it "
          "is running and not stalled or overloaded.",
          Evidence(codes=("tls_timeout",))),
    Cause("starttls_unavailable", "STARTTLS was requested but the server does not offer it",
          True,
          "Use imaps:// (implicit TLS, usually port 993; smtps:// on 465 for SMTP) instead "
          "of STARTTLS.",
          "Enable STARTTLS on the IMAP (or SMTP) service, or tell users to use implicit TLS "
          "(993, 465).",
          Evidence(codes=("starttls_unavailable",))),
    Cause("tls_handshake", "The secure (TLS) handshake failed", False,
          "Check the port and security setting (993 = TLS, 143 = STARTTLS).",
          "Enable TLS 1.2 or later with modern ciphers on the IMAP service.",
          Evidence(codes=("tls_handshake", "tls_read", "tls_failed"))),
    # Security: the engine stopped because the connection or the server is hostile
    # (README "Security"). STARTTLS injection and a PREAUTH that skips the required
    # STARTTLS are someone on the path; a person must look, so permanent.
    Cause("tampering", "The connection was tampered with (STARTTLS injection)", True,
          "Do not retry from this network; tell your IT team the connection was tampered with.",
          "Plaintext was injected around STARTTLS (or TLS was skipped): check the network path "
          "for a man in the middle; prefer implicit TLS (port 993).",
          Evidence(codes=("starttls_injection", "starttls_preauth", "security")),
          ("https://www.usenix.org/conference/usenixsecurity21/presentation/poddebniak",)),
    Cause("limit_exceeded", "The server sent more than the engine accepts", True,
          "The CRM stopped this inbox; send the diagnostic bundle to support.",
          "A response broke a size limit (the error names it): a broken or hostile server, "
          "or a message larger than the provider's 50 MB rule.",
          Evidence(codes=("limit_exceeded",))),
    # -- not an IMAP server we can use ----------------------------------------------------
    Cause("pop3", "The server speaks POP3, not IMAP", True,
          "Enter the IMAP server and port (usually 993), not the POP3 one.",
          "Enable IMAP for the mailbox and give the user the IMAP host and port.",
          Evidence(codes=("pop3_unsupported",))),
    # The IMAP and SMTP ports swapped: the greeting names the other protocol ("220 ..."
    # where "* OK" was expected, or the other way round).
    Cause("wrong_protocol", "The port speaks the other protocol (IMAP and SMTP swapped)", True,
          "Check the ports: IMAP is usually 993 (TLS) or 143, SMTP 465 (TLS) or 587.",
          "Nothing on the server: the client was pointed at the wrong service's port.",
          Evidence(codes=("smtp_on_imap_port", "imap_on_smtp_port"))),
    Cause("courier", "Courier-IMAP is not supported", True,
          "Connect the inbox through another server or provider.",
          "Offer the mailbox over another IMAP server (Dovecot, Exchange, Gmail...).",
          Evidence(codes=("courier_unsupported",))),
    # -- logging in -----------------------------------------------------------------------
    # Gmail, 2FA on: https://github.com/LukeSmithxyz/mutt-wizard/issues/831
    #   "NO [ALERT] Application-specific password required: https://support.google.com/..."
    Cause("app_password_required", "An app password is required", True,
          "Create an app password in your account's security settings and enter it here.",
          "Allow app passwords for this user, or connect the inbox with OAuth.",
          Evidence(texts=("application-specific password required",
                          "app password required", "web login required: app password"),
                   stages=_LOGIN),
          ("https://github.com/LukeSmithxyz/mutt-wizard/issues/831",)),
    # Gmail: "* NO [WEBALERT https://accounts.google.com/...] Web login required." then
    # "NO [ALERT] Please log in via your web browser: ..." -
    # https://github.com/smiley22/S22.Imap/issues/116, https://github.com/jstedfast/MailKit/issues/1214
    Cause("web_login_required", "The provider wants a login in the web browser first", True,
          "Sign in to your webmail in a browser, confirm the security prompt, then reconnect.",
          "Check the provider's security alerts for this user (blocked sign-in attempt).",
          Evidence(response_codes=("WEBALERT",), codes=("webalert",),
                   texts=("log in via your web browser", "web login required")),
          ("https://github.com/smiley22/S22.Imap/issues/116",
           "https://github.com/jstedfast/MailKit/issues/1214")),
    # Gmail: "[ALERT] Your account is not enabled for IMAP use."; the other phrasings are
    # the ways admins' IMAP switches are worded (Microsoft 365, hosted Dovecot panels).
    Cause("imap_disabled", "IMAP is turned off for this mailbox", True,
          "Turn IMAP on in your mail settings (Gmail: Forwarding and POP/IMAP), then reconnect.",
          "Enable IMAP for the user (Microsoft 365: mailbox features > IMAP).",
          Evidence(codes=("imap_disabled",),
                   texts=("not enabled for imap", "imap access is disabled", "imap is disabled",
                          "imap access disabled", "imap is not enabled")),
          ("https://github.com/andreiaugustin/gmail_extractor/issues/4",)),
    Cause("expired", "The password or account has expired", True,
          "Set a new password with your provider, then enter it here.",
          "Renew the account or reset the password; check the password-age policy.",
          Evidence(response_codes=("EXPIRED",), codes=("expired",))),
    Cause("privacy_required", "The server requires an encrypted connection", True,
          "Choose TLS (port 993) or STARTTLS in the inbox settings.",
          "Nothing on the server: the client must use TLS before logging in.",
          # LOGINDISABLED in the capabilities (RFC 3501 6.2.3): the server says it before
          # anyone sends a password.
          Evidence(response_codes=("PRIVACYREQUIRED",),
                   codes=("privacyrequired", "login_disabled"))),
    Cause("contact_admin", "The server asks you to contact its administrator", True,
          "Contact your mail administrator; the server refuses this account for now.",
          "Check the account's status and the server log for why it asked (CONTACTADMIN).",
          Evidence(response_codes=("CONTACTADMIN",), codes=("contactadmin",))),
    # -- OAuth 2.0 (XOAUTH2 / OAUTHBEARER) -----------------------------------------------
    # The error challenge's JSON (engine.oauth) is quoted in the server text. Microsoft
    # ends a session whose token expired with "* BYE Session invalidated - AccessTokenExpired"
    # (https://github.com/iroco-co/aioimaplib/issues/83): a reconnect with a refreshed token
    # heals it. A refresh refused with invalid_grant (RFC 6749 5.2) does not.
    Cause("oauth_session_expired", "The access token expired during the session", False,
          "Nothing to do: the CRM gets a fresh token and reconnects.",
          "Nothing, unless it repeats within minutes (then check the token lifetime policy).",
          Evidence(texts=("accesstokenexpired",)),
          ("https://github.com/iroco-co/aioimaplib/issues/83",)),
    Cause("oauth_grant_revoked", "The mailbox's OAuth grant was revoked; the token cannot be "
          "refreshed", True,
          "Reconnect the inbox in the CRM; the grant was revoked (a password change, a "
          "sign-out of all sessions or an admin removed the app's access).",
          "Check the app's consent for this user and the sign-in logs of the identity "
          "provider (invalid_grant); re-consent if a policy removed it.",
          Evidence(codes=("oauth_grant_revoked",), texts=("invalid_grant",)),
          ("https://www.rfc-editor.org/rfc/rfc6749#section-5.2",)),
    Cause("oauth_token_expired", "The access token expired and no fresh one could be had",
          True,
          "Reconnect the inbox in the CRM so it can refresh its access on its own.",
          "Give the connector a refreshable token source (a token command), not a static "
          "access token; tokens live about an hour.",
          Evidence(codes=("oauth_token_expired",))),
    # Gmail answers a token without https://mail.google.com/ with status "400":
    # https://github.com/emersion/go-imap/issues/213 ; RFC 6750 "insufficient_scope".
    Cause("oauth_insufficient_scope", "The access token does not cover mail access (scope)",
          True,
          "Reconnect the inbox in the CRM and accept the mail permission when asked.",
          "Grant the app the mail scope (Google: https://mail.google.com/; Microsoft: "
          "IMAP.AccessAsUser.All and SMTP.Send) and have the user consent again.",
          Evidence(codes=("oauth_insufficient_scope",)),
          ("https://github.com/emersion/go-imap/issues/213",
           "https://www.rfc-editor.org/rfc/rfc6750#section-3.1")),
    # Microsoft's answer to any token it will not take: "AUTHENTICATE failed."
    # (https://github.com/MicrosoftDocs/office-developer-exchange-docs/issues/87); Dovecot's
    # oauth2 mechanism says {"status":"401",...} to an expired and a scope-less token alike.
    # A freshly refreshed token refused too is then a scope or permission problem.
    Cause("oauth_token_rejected", "A freshly refreshed access token is refused too (missing "
          "scope or permission)", True,
          "Reconnect the inbox in the CRM; if it happens again, ask your IT team.",
          "Check the app registration's permissions (IMAP.AccessAsUser.All / mail scope), "
          "that IMAP is enabled for the mailbox, and that the token is for this user.",
          Evidence(codes=("oauth_token_rejected",)),
          ("https://github.com/MicrosoftDocs/office-developer-exchange-docs/issues/87",)),
    Cause("oauth_setup", "OAuth is not set up for this inbox", True,
          "Choose how the CRM gets the access token (token command, keyring or variable).",
          "Offer the mechanism the server lists (AUTH=XOAUTH2 / OAUTHBEARER) and a token.",
          Evidence(codes=("oauth_no_token", "oauth_token_command", "oauth_mechanism_missing"))),
    Cause("oauth_token_timeout", "The token command did not answer in time", False,
          "Nothing to do if it passes; the CRM retries.",
          "Check that the identity provider's token endpoint is reachable from the CRM.",
          Evidence(codes=("oauth_token_timeout",))),
    # Microsoft with basic auth switched off: SMTP "535 5.7.139 Authentication unsuccessful,
    # basic authentication is disabled." (https://github.com/rpremraj/mailR/issues/107),
    # "SmtpClientAuthentication is disabled for the Tenant"
    # (https://github.com/nodemailer/nodemailer/issues/1484); IMAP LOGIN "NO LOGIN failed."
    # (Exchange Online has refused IMAP basic auth since 2022-2023).
    Cause("basic_auth_disabled", "Password login is switched off; the mailbox needs OAuth",
          True,
          "Connect the inbox with Microsoft / Google sign-in (OAuth) instead of a password.",
          "Basic authentication is disabled for the tenant; register the CRM for OAuth "
          "(XOAUTH2) or enable SMTP AUTH for this mailbox if policy allows.",
          Evidence(codes=("basic_auth_disabled",),
                   texts=("basic authentication is disabled",
                          "smtpclientauthentication is disabled", "login failed.")),
          ("https://github.com/rpremraj/mailR/issues/107",
           "https://github.com/nodemailer/nodemailer/issues/1484")),
    # Gmail "[AUTHENTICATIONFAILED] Invalid credentials (Failure)":
    #   https://github.com/eikek/docspell/issues/520 ; Dovecot "Authentication failed."
    # Yahoo "NO [AUTHENTICATIONFAILED] LOGIN Invalid credentials":
    #   https://github.com/Enough-Software/enough_mail/issues/246
    # iCloud "NO [AUTHENTICATIONFAILED] Authentication failed" (also what it says to an Apple
    #   ID password when an app-specific one is needed): https://github.com/lefcha/imapfilter/issues/125
    Cause("auth_failed", "The password was rejected (changed or wrong)", True,
          "Re-enter the mailbox password; if it changed recently, use the new one. iCloud and "
          "Yahoo accept only an app-specific password when two-step sign-in is on.",
          "Check the account is not locked and the user name is the login the server expects.",
          Evidence(response_codes=("AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED"),
                   codes=("authenticationfailed", "authorizationfailed", "auth_failed"),
                   exceptions=("AuthFailed",)),
          ("https://github.com/eikek/docspell/issues/520",
           "https://github.com/Enough-Software/enough_mail/issues/246",
           "https://github.com/lefcha/imapfilter/issues/125")),
    # -- the provider's limits ------------------------------------------------------------
    # Gmail "Too many simultaneous connections. (Failure)" (fakeserver/profiles/gmail.toml),
    # Dovecot "Maximum number of connections from user+IP exceeded",
    # https://github.com/MailCore/mailcore2/issues/587
    Cause("too_many_connections", "Too many simultaneous connections", False,
          "Close other mail programs or phones using this mailbox; the CRM retries.",
          "Raise the per-user connection limit (Dovecot mail_max_userip_connections) or find "
          "the client holding connections.",
          Evidence(codes=("too_many_connections",),
                   texts=("too many simultaneous connections", "maximum number of connections",
                          "too many concurrent connections", "too many connections",
                          "connection limit")),
          ("https://github.com/MailCore/mailcore2/issues/587",)),
    # Gmail [THROTTLED]: https://github.com/jstedfast/MailKit/issues/1396 ; Office 365
    # "Request is throttled. Suggested Backoff Time: N milliseconds":
    # https://github.com/ikvk/imap_tools/issues/135
    Cause("throttled", "The provider is rate-limiting this mailbox", False,
          "Nothing to do: the CRM slows down and retries.",
          "Check for other heavy clients on this mailbox; the provider limits its rate.",
          Evidence(response_codes=("THROTTLED",), codes=("throttled",),
                   # "throttled"/"throttling" alone: servers that say so without a code
                   # (a LOGIN refused that way must not read as a wrong password).
                   texts=("request is throttled", "throttled", "throttling"),
                   exceptions=("Throttled",)),
          ("https://github.com/jstedfast/MailKit/issues/1396",
           "https://github.com/ikvk/imap_tools/issues/135")),
    # Gmail "[OVERQUOTA] Account exceeded command or bandwidth limits.":
    # https://github.com/ljmerza/ha-email-sensor/issues/16 (2.5 GB/day IMAP download limit:
    # https://github.com/chatwoot/chatwoot/issues/6082)
    Cause("overquota", "Over the provider's bandwidth or storage quota", False,
          "Wait (Gmail resets its daily limit within 24 hours) or free space in the mailbox.",
          "Check the provider's per-user IMAP bandwidth limit and storage quota.",
          Evidence(response_codes=("OVERQUOTA", "LIMIT"), codes=("overquota", "limit"),
                   texts=("bandwidth limit",)),
          ("https://github.com/ljmerza/ha-email-sensor/issues/16",
           "https://github.com/chatwoot/chatwoot/issues/6082")),
    # Yahoo "NO [UNAVAILABLE] UID FETCH Service is temporarily not available":
    #   https://github.com/LukeSmithxyz/mutt-wizard/issues/764
    Cause("unavailable", "The server is temporarily unavailable", False,
          "Nothing to do: the CRM reconnects when the server is back.",
          "Check the mail server's maintenance or health (it answered UNAVAILABLE).",
          Evidence(response_codes=("UNAVAILABLE",), codes=("unavailable",)),
          ("https://github.com/LukeSmithxyz/mutt-wizard/issues/764",)),
    # RFC 5530 SERVERBUG: the server admits an internal fault; nothing the client does fixes
    # it, the provider must look. Transient as RFC 5530 has it (a retry may get through).
    Cause("server_bug", "The server reported an internal fault (SERVERBUG)", False,
          "Tell your mail provider, quoting the server's words; the CRM retries meanwhile.",
          "The IMAP server logged an internal error for this mailbox: check its log (index "
          "corruption, storage errors).",
          Evidence(response_codes=("SERVERBUG",), codes=("serverbug",))),
    Cause("inuse", "The mailbox is in use by another operation", False,
          "Nothing to do: the CRM retries shortly.",
          "A lock on the mailbox is held (migration, backup); check what holds it.",
          Evidence(response_codes=("INUSE",), codes=("inuse",))),
    # -- SMTP submission refused (engine.crm.smtp_failures) --------------------------------
    # RFC 5321 4.2.1: 5yz is a permanent negative reply (the same message will be refused
    # again), 4yz a transient one (421 is ``unavailable`` above, with the IMAP cases).
    Cause("smtp_rejected", "The mail server refused the message (5xx)", True,
          "Read the server's words: a recipient, the size or the sender was refused; change "
          "that and send again.",
          "Check the submission server's policy for this account (recipients, size limit, "
          "sender addresses it may use).",
          Evidence(codes=("smtp_rejected",))),
    Cause("smtp_deferred", "The mail server asked to send the message later (4xx)", False,
          "Nothing to do: the outbox sends it again later.",
          "The submission server deferred it (greylisting, a full queue, a rate limit): "
          "check its log if it lasts.",
          Evidence(codes=("smtp_deferred",))),
    # -- the connection dies --------------------------------------------------------------
    # Dovecot at shutdown or restart: "* BYE Server shutting down." (and the same words from
    # Courier and Cyrus); a restart brings it back, so transient.
    Cause("server_shutdown", "The server is shutting down or restarting", False,
          "Nothing to do: the mail server is restarting; the CRM reconnects when it is back.",
          "The IMAP service was stopped or restarted (maintenance, upgrade, crash recovery); "
          "check it came back.",
          Evidence(texts=("server shutting down", "shutting down", "server is restarting",
                          "server restarting"))),
    # Dovecot "Disconnected for inactivity.", RFC 3501 autologout; the fake says
    # "Autologout; idle for too long".
    Cause("idle_timeout", "The server closed an idle connection", False,
          "Nothing to do: the CRM reconnects.",
          "Normal server behaviour; if frequent, raise the server's idle timeout (>= 30 min).",
          Evidence(texts=("disconnected for inactivity", "autologout", "idle for too long",
                          "inactivity timeout"))),
    Cause("connection_reset", "The connection dropped in the middle of a command", False,
          "Nothing to do: the CRM reconnects and resumes where it stopped.",
          "Look for a proxy, firewall or load balancer that cuts long connections.",
          Evidence(codes=("connection_reset", "eof", "server_bye", "cut_mid_literal"))),
    Cause("tarpit", "The server stopped answering (no reply within the timeout)", False,
          "Nothing to do: the CRM gives up on that connection and retries.",
          "Something accepts the connection but never answers (firewall, overloaded server).",
          Evidence(codes=("timeout",), exceptions=("TimedOut",))),
    # -- the mailbox changed under us -----------------------------------------------------
    Cause("uidvalidity_reset", "The server renumbered a folder (UIDVALIDITY changed)", False,
          "Nothing to do: the CRM rescans the folder; no duplicates are logged.",
          "Usually a server migration or restore; frequent resets point to a server problem.",
          Evidence(events=("UidValidityChanged",))),
    # Permanent for that folder (it will not come back by itself); the account carries on
    # with the others.
    Cause("folder_vanished", "A watched folder was renamed or deleted", True,
          "Pick the folder again in the inbox settings (it was renamed or deleted).",
          "A client or rule renamed or deleted the folder.",
          Evidence(events=("FolderGone",), response_codes=("NONEXISTENT",),
                   codes=("nonexistent", "folder_override_missing"))),
    # -- fallbacks ------------------------------------------------------------------------
    Cause("config", "The inbox settings cannot work as given", True,
          "Correct the inbox settings as the message says.",
          "Check the host, port and security the mailbox should use.",
          Evidence(exceptions=("ConfigError",))),
    Cause("unknown", "An unexpected failure", False,
          "The CRM retries; if it keeps happening, send the diagnostic bundle to support.",
          "Send the diagnostic bundle (inboxlab diagnose, bundle export) to support.",
          Evidence()),
)

BY_CODE: dict[str, Cause] = {c.code: c for c in CAUSES}
UNKNOWN = BY_CODE["unknown"]


@dataclass(frozen=True)
class ResponseCode:
    """What an IMAP response code says about retrying: ``permanent`` (the same command will
    be refused again) and ``credentials`` (a LOGIN refused with it is about the account)."""

    permanent: bool
    credentials: bool = False


# RFC 5530 codes (and Gmail's THROTTLED). A cause naming one of these in its evidence has
# the same permanence (tests/diag/test_classify.py holds the two together).
RESPONSE_CODES: dict[str, ResponseCode] = {
    **dict.fromkeys(("AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "EXPIRED",
                     "PRIVACYREQUIRED", "CONTACTADMIN"), ResponseCode(True, credentials=True)),
    **dict.fromkeys(("UNAVAILABLE", "INUSE", "LIMIT", "OVERQUOTA", "SERVERBUG",
                     "EXPUNGEISSUED", "CORRUPTION", "THROTTLED"), ResponseCode(False)),
    **dict.fromkeys(("NONEXISTENT", "ALREADYEXISTS", "NOPERM", "CANNOT", "CLIENTBUG",
                     "TRYCREATE", "BADCHARSET"), ResponseCode(True)),
}


def cause(code: str) -> Cause:
    """The catalogue entry ``code``; ``KeyError`` names the known codes."""
    try:
        return BY_CODE[code]
    except KeyError:
        raise KeyError(f"no cause {code!r}; known: {', '.join(BY_CODE)}") from None


def said(c: Cause, text: str | None) -> bool:
    """Whether the server's words ``text`` contain one of ``c``'s provider phrasings."""
    lowered = (text or "").lower()
    return any(phrase in lowered for phrase in c.evidence.texts)


def by_words(text: str | None, stage: str = "") -> Cause | None:
    """The first cause (catalogue order) whose phrasings appear in ``text``; causes bound
    to stages count only at those stages."""
    for c in CAUSES:
        if c.evidence.texts and (not c.evidence.stages or stage in c.evidence.stages) \
                and said(c, text):
            return c
    return None


# Office 365 "Request is throttled. Suggested Backoff Time: N milliseconds" (throttled's
# source: https://github.com/ikvk/imap_tools/issues/135)
_ASKED_WAIT = re.compile(r"suggested backoff time:\s*(\d+)\s*milliseconds", re.IGNORECASE)


def asked_wait(text: str | None) -> float | None:
    """Seconds the server's words ask a client to wait, if they say; uncapped (the
    supervisor caps it)."""
    found = _ASKED_WAIT.search(text or "")
    return None if found is None else int(found.group(1)) / 1000


def by_error_code(code: str) -> Cause:
    """The cause whose evidence lists the engine's error code ``code`` (``UNKNOWN`` if none)."""
    return next((c for c in CAUSES if code in c.evidence.codes), UNKNOWN)


def by_response_code(response_code: str | None) -> Cause | None:
    """The first cause whose evidence names the response code (any case)."""
    upper = (response_code or "").upper()
    return next((c for c in CAUSES if upper and upper in c.evidence.response_codes), None)


__all__ = ["BY_CODE", "CAUSES", "RESPONSE_CODES", "UNKNOWN", "Cause", "Evidence",
           "ResponseCode", "asked_wait", "by_error_code", "by_response_code", "by_words",
           "cause", "said"]
