"""The engine's exception tree: every failure the connector can meet, typed once.

::

    EngineError(code, permanent, server_text, stage, remediation)
     ├── ConfigError            bad settings; permanent
     ├── ConnectError           DNS, refused, unreachable, connect timeout; transient
     │    └── TlsError          handshake, untrusted certificate, hostname mismatch
     ├── ProtocolViolation      the server sent something unparseable; transient;
     │    │                     keeps the offending bytes (truncated)
     │    ├── SecurityError     bytes that can only be an attack on the connection
     │    │                     (plaintext injected after STARTTLS); permanent
     │    └── LimitExceeded     a response bigger than the engine accepts where it
     │                          came (``limit`` names which); permanent
     ├── ServerRefused          NO/BAD/BYE, with the server's own words and RFC 5530 code
     │    ├── AuthFailed        AUTHENTICATIONFAILED and friends; permanent
     │    │    └── TokenRejected an OAuth bearer token refused (keeps the decoded
     │    │                      error challenge); the account refreshes it once
     │    └── Throttled         THROTTLED, "Request is throttled"; transient
     ├── TokenUnavailable       no OAuth access token could be had (the token command
     │                          failed: grant revoked...); permanent
     ├── Disconnected           EOF/reset mid-command, BYE then close; transient
     └── TimedOut               no answer within the deadline; transient

Why one tree: the supervisor decides "retry or stop" from ``permanent`` alone, the
diagnostics screen shows ``code``/``stage``/``server_text``/``remediation`` as they
are, and nobody re-guesses a cause from a message string. ``stage`` names where in the
session it happened (see ``STAGES``).

``code`` vocabulary: short, stable, lowercase strings; the cause catalogue
(``engine.catalogue``, evidence ``codes``) is keyed on exactly these spellings.

- A server refusal (``engine.imap.results.refusal``): the response code it carried,
  lower-cased (RFC 5530 ``authenticationfailed``, ``unavailable``, ``nonexistent``...;
  others as sent: Gmail's ``throttled``, RFC 3501's ``alert``); without one,
  ``server_no`` / ``server_bad`` (``server_bye`` for a BYE answer), ``auth_failed`` for
  a LOGIN NO, ``throttled`` when the words say so (the catalogue's phrasings).
- Recoded by the supervisor (``engine.supervise.classify``) from the server's words: a
  catalogue cause code, ``imap_disabled`` or ``too_many_connections``; ``unexpected``
  for anything raised outside this tree.
- The connection: ``dns``, ``connect_refused``, ``connect_timeout``, ``connect_failed``;
  ``tls_hostname_mismatch``, ``tls_untrusted``, ``tls_expired``, ``tls_verify_failed``,
  ``tls_handshake``, ``tls_read``; ``eof``, ``connection_reset``, ``server_bye`` (BYE then
  close: ``Disconnected.response_code`` keeps the BYE's code), ``closed``, ``timeout``.
- Otherwise the class's ``default_code`` or a code naming the engine's own check
  (``config``, ``no_username``, ``connection_budget``, ``starttls_injection``...).
"""

from __future__ import annotations

STAGES = (
    "config",
    "imap_connect",
    "imap_tls",
    "imap_greeting",
    "imap_capability",
    "imap_starttls",
    "imap_login",
    "oauth_token",
    "imap_list",
    "imap_status",
    "imap_select",
    "imap_fetch",
    "imap_search",
    "imap_append",
    "imap_idle",
    "imap_noop",
    "imap_logout",
    "imap_command",
)

_TRUNCATE = 300


def truncate(data: bytes | str | None, limit: int = _TRUNCATE) -> str | None:
    """Server text for humans: decoded leniently, cut to ``limit`` characters."""
    if data is None:
        return None
    text = data.decode("utf-8", "replace") if isinstance(data, bytes | bytearray) else data
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more]"


class EngineError(Exception):
    """Base of the tree; ``permanent`` tells the supervisor whether retrying can help."""

    default_code = "engine_error"
    default_permanent = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        permanent: bool | None = None,
        server_text: str | None = None,
        stage: str = "imap_command",
        remediation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.permanent = self.default_permanent if permanent is None else permanent
        self.server_text = server_text
        self.stage = stage
        self.remediation = remediation

    @property
    def transient(self) -> bool:
        return not self.permanent

    def as_dict(self) -> dict[str, object]:
        """Plain data for traces, the diagnostics screen and bundles (no secrets inside:
        messages are built by the engine, server text is the server's own words)."""
        return {
            "type": type(self).__name__,
            "code": self.code,
            "permanent": self.permanent,
            "stage": self.stage,
            "message": self.message,
            "server_text": self.server_text,
            "remediation": self.remediation,
        }

    def __str__(self) -> str:
        text = f"[{self.stage}/{self.code}] {self.message}"
        if self.server_text:
            text += f" (server said: {self.server_text})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, permanent={self.permanent}, "
            f"stage={self.stage!r}, message={self.message!r}, server_text={self.server_text!r})"
        )


class ConfigError(EngineError):
    """The settings cannot work as given; fixing them is the only remedy."""

    default_code = "config"
    default_permanent = True

    def __init__(self, message: str, **kw: object) -> None:
        kw.setdefault("stage", "config")
        super().__init__(message, **kw)  # type: ignore[arg-type]


class ConnectError(EngineError):
    """No IMAP session could be opened: name resolution, refusal, unreachable host."""

    default_code = "connect_failed"


class TlsError(ConnectError):
    """The TLS handshake failed or the certificate does not vouch for the host."""

    default_code = "tls_failed"

    def __init__(self, message: str, **kw: object) -> None:
        kw.setdefault("stage", "imap_tls")
        super().__init__(message, **kw)  # type: ignore[arg-type]


class ProtocolViolation(EngineError):
    """The server's bytes do not parse as IMAP; ``data`` holds them (truncated)."""

    default_code = "protocol_violation"

    def __init__(self, message: str, data: bytes | None = None, **kw: object) -> None:
        self.data = None if data is None else bytes(data[:_TRUNCATE])
        kw.setdefault("server_text", truncate(data))
        super().__init__(message, **kw)  # type: ignore[arg-type]


class SecurityError(ProtocolViolation):
    """The connection was tampered with: the engine stops rather than carry on.

    Raised for plaintext that arrived between the server's STARTTLS OK and the TLS
    handshake (it would otherwise be read as if it came over TLS: "STARTTLS command
    injection"). Permanent: retrying into the same network path cannot help, a person
    must look at it.
    """

    default_code = "security"
    default_permanent = True


class LimitExceeded(ProtocolViolation):
    """A response broke a size limit for its context (``limit`` is its name, e.g.
    ``pre_auth_literal``, see ``engine.imap.limits``); the connection is closed before
    the bytes are held. Permanent: the same server sends the same bytes again, so a
    person must look (retrying would loop on them)."""

    default_code = "limit_exceeded"
    default_permanent = True

    def __init__(self, message: str, data: bytes | None = None, *, limit: str = "",
                 **kw: object) -> None:
        self.limit = limit
        super().__init__(message, data, **kw)


class ServerRefused(EngineError):
    """The server answered NO, BAD or BYE; ``response_code`` is its RFC 5530 code, if any."""

    default_code = "server_refused"

    def __init__(
        self, message: str, *, status: str = "NO", response_code: str | None = None, **kw: object
    ) -> None:
        self.status = status
        self.response_code = response_code
        super().__init__(message, **kw)  # type: ignore[arg-type]


class AuthFailed(ServerRefused):
    """The server rejected the credentials; retrying the same ones will not help."""

    default_code = "auth_failed"
    default_permanent = True


class TokenRejected(AuthFailed):
    """The server refused an OAuth access token (XOAUTH2 / OAUTHBEARER).

    ``challenge`` is the decoded error the server sent before its NO (``engine.oauth``),
    whose words are also in ``server_text``. Permanent as an ``AuthFailed``: the account
    refreshes the token once and retries once before it lets this through.
    """

    default_code = "oauth_token_rejected"

    def __init__(self, message: str, *, challenge: object = None, **kw: object) -> None:
        self.challenge = challenge
        super().__init__(message, **kw)  # type: ignore[arg-type]


class TokenUnavailable(EngineError):
    """No access token could be had: the token command failed or printed nothing, the
    environment variable or keyring entry is missing, or a refresh gave the same token."""

    default_code = "oauth_grant_revoked"
    default_permanent = True
    revoked_fix = ("reconnect the inbox in the CRM; the grant was revoked (a password change, "
                   "an admin or its expiry), so the saved authorisation no longer works")

    def __init__(self, message: str, **kw: object) -> None:
        kw.setdefault("stage", "oauth_token")
        if kw.get("code") in (None, self.default_code):
            kw.setdefault("remediation", self.revoked_fix)
        super().__init__(message, **kw)  # type: ignore[arg-type]


class Throttled(ServerRefused):
    """The server asks us to slow down; back off and retry."""

    default_code = "throttled"


class Disconnected(EngineError):
    """The connection ended (EOF, reset) while we still expected an answer.

    After ``* BYE [CODE] text`` the server's code and words are kept (``response_code``,
    ``server_text``), so a diagnosis needs nothing but the error itself.
    """

    default_code = "disconnected"

    def __init__(self, message: str, *, response_code: str | None = None,
                 **kw: object) -> None:
        self.response_code = response_code
        super().__init__(message, **kw)  # type: ignore[arg-type]


class TimedOut(EngineError):
    """No answer arrived within the command's deadline."""

    default_code = "timeout"


__all__ = [
    "STAGES",
    "AuthFailed",
    "ConfigError",
    "ConnectError",
    "Disconnected",
    "EngineError",
    "LimitExceeded",
    "ProtocolViolation",
    "SecurityError",
    "ServerRefused",
    "Throttled",
    "TimedOut",
    "TlsError",
    "TokenRejected",
    "TokenUnavailable",
    "truncate",
]
