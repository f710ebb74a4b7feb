"""SMTP failures as the engine's typed errors: the one mapping for every SMTP client.

The probe (``engine.diag.probe_smtp``) and the outbox's submitter (``engine.crm.send``)
both translate aiosmtplib's exceptions here, so a failure has the same cause code and
the same permanence wherever it happens, and the cause catalogue (``engine.catalogue``)
explains it by that code: STARTTLS not offered, a refused AUTH, an untrusted certificate,
a 5xx are permanent (retrying the same settings cannot work); 421, other 4xx, a refused
or dropped connection, a timeout are transient.
"""

from __future__ import annotations

import re
import ssl

import aiosmtplib

from inboxlab.engine.errors import (
    AuthFailed,
    ConfigError,
    ConnectError,
    Disconnected,
    EngineError,
    ServerRefused,
    TlsError,
)
from inboxlab.engine.imap.failures import connect_error, tls_error


def smtp_error(exc: BaseException, host: str, port: int, stage: str, limit: float) -> EngineError:
    """An aiosmtplib (or socket) failure as the engine's typed error."""
    if isinstance(exc, ssl.SSLError):
        return tls_error(exc, host)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return AuthFailed(f"SMTP AUTH refused: {exc.code}", status=str(exc.code),
                          server_text=exc.message, stage=stage, code="auth_failed",
                          remediation="check the username and password (an app password "
                          "may be needed)")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        said = (exc.message or "").removeprefix("Malformed SMTP response line: ").strip()
        if exc.code < 0 and re.match(r"^\* (OK|PREAUTH|BYE)\b", said):
            return ConfigError("the server greeted like IMAP, not SMTP", code="imap_on_smtp_port",
                               server_text=said, stage=stage)
        if exc.code == 421 or (stage == "smtp_connect" and 400 <= exc.code < 500):
            # 421 (RFC 5321 4.2.3): "service not available, closing transmission channel"
            return ServerRefused(f"SMTP {exc.code}: the server is not taking mail now",
                                 status=str(exc.code), server_text=said, stage=stage,
                                 code="unavailable", permanent=False)
    if type(exc) is aiosmtplib.SMTPException and "STARTTLS extension not supported" in str(exc):
        return TlsError("the SMTP server does not offer STARTTLS", code="starttls_unavailable",
                        permanent=True, stage=stage,
                        remediation="use implicit TLS (smtps://, port 465) or ask for STARTTLS "
                        "to be enabled")
    if isinstance(exc, aiosmtplib.SMTPConnectTimeoutError | aiosmtplib.SMTPTimeoutError):
        return ConnectError(f"SMTP {host}:{port}: no answer within {limit}s",
                            code="connect_timeout", stage=stage)
    if isinstance(exc, aiosmtplib.SMTPConnectError):
        cause = exc.__cause__
        if isinstance(cause, OSError | TimeoutError):
            err = connect_error(cause, host, port, host, limit)
            err.stage = stage
            return err
        return ConnectError(f"cannot connect to SMTP {host}:{port}: {exc}",
                            code="connect_failed", stage=stage)
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return Disconnected(f"SMTP server disconnected: {exc}", code="eof", stage=stage)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        permanent = exc.code >= 500  # RFC 5321 4.2.1: 5yz permanent, 4yz transient
        return ServerRefused(f"SMTP {exc.code}", status=str(exc.code), server_text=exc.message,
                             stage=stage, permanent=permanent,
                             code="smtp_rejected" if permanent else "smtp_deferred")
    if isinstance(exc, OSError | TimeoutError):
        return connect_error(exc, host, port, host, limit)
    return EngineError(f"SMTP failure: {type(exc).__name__}: {exc}", stage=stage)


__all__ = ["smtp_error"]
