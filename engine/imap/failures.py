"""Socket and TLS failures translated into the engine's error tree, with a remedy.

The ``ssl`` module reports certificate problems as OpenSSL verify codes; a person needs
"the certificate is not valid for 'imap.example.com'" and what to do about it. What to
do comes from the cause catalogue (``engine.catalogue``), the one place remedies
are written, so the engine's errors and ``inboxlab diagnose`` never say two things.
"""

from __future__ import annotations

import socket
import ssl

from inboxlab.engine.catalogue import by_error_code
from inboxlab.engine.errors import ConnectError, EngineError, TlsError


def _fix(code: str) -> str:
    """The owner's remedy for the cause the catalogue files error code ``code`` under."""
    return by_error_code(code).owner_fix


# X509_V_ERR_* codes: self-signed / unknown issuer, expiry, host name.
_VERIFY_UNTRUSTED = {18, 19, 20, 21, 27}
_VERIFY_EXPIRED = {9, 10}
_VERIFY_HOSTNAME = {62, 64}


def tls_error(exc: ssl.SSLError, expected_host: str) -> TlsError:
    """An ``ssl`` failure as a ``TlsError`` with a code a person can act on.

    OpenSSL's words (``verify_message``, the handshake reason) are local text, not the
    server's: they go into the message, never into ``server_text``."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        vc = exc.verify_code
        said = exc.verify_message
        if vc in _VERIFY_HOSTNAME:
            return TlsError(
                f"the server's certificate is not valid for {expected_host!r} ({said})",
                code="tls_hostname_mismatch", permanent=True,
                remediation=_fix("tls_hostname_mismatch"),
            )
        if vc in _VERIFY_UNTRUSTED:
            return TlsError(
                f"the certificate for {expected_host!r} is not signed by a trusted CA ({said})",
                code="tls_untrusted", permanent=True,
                remediation=_fix("tls_untrusted"),
            )
        if vc in _VERIFY_EXPIRED:
            return TlsError(
                f"the certificate for {expected_host!r} has expired or is not yet valid "
                f"({said})",
                code="tls_expired", permanent=True,
                remediation=_fix("tls_expired"),
            )
        return TlsError(f"certificate verification failed: {said}", code="tls_verify_failed",
                        permanent=True, remediation=_fix("tls_verify_failed"))
    return TlsError(f"TLS handshake failed: {exc}", code="tls_handshake",
                    remediation=_fix("tls_handshake"))


def connect_error(
    exc: BaseException, host: str, port: int, expected_host: str, limit: float
) -> EngineError:
    """Why ``open_connection`` failed, as ``ConnectError``/``TlsError``."""
    if isinstance(exc, ssl.SSLError):
        return tls_error(exc, expected_host)
    if isinstance(exc, TimeoutError):
        return ConnectError(
            f"no connection to {host}:{port} within {limit}s", code="connect_timeout",
            stage="imap_connect", remediation=_fix("connect_timeout"))
    if isinstance(exc, socket.gaierror):
        return ConnectError(
            f"cannot resolve {host!r}: {exc.strerror}", code="dns", stage="imap_connect",
            remediation=_fix("dns"))
    if isinstance(exc, ConnectionRefusedError):
        return ConnectError(
            f"{host}:{port} refused the connection", code="connect_refused",
            stage="imap_connect", remediation=_fix("connect_refused"))
    return ConnectError(f"cannot connect to {host}:{port}: {exc}", code="connect_failed",
                        stage="imap_connect", remediation=_fix("connect_failed"))


def handshake_timeout(exc: BaseException, host: str, port: int, limit: float,
                      stage: str = "imap_tls") -> TlsError | None:
    """TCP connected but the TLS handshake got no answer in time, else None.

    asyncio reports its own ``ssl_handshake_timeout`` as ``ConnectionAbortedError``."""
    if not isinstance(exc, TimeoutError | ConnectionAbortedError):
        return None
    where = f"{host}:{port}" if port else host
    return TlsError(f"TCP connected to {where}, but the TLS handshake got no answer within "
                    f"{limit:.3g}s", code="tls_timeout", stage=stage,
                    remediation=_fix("tls_timeout"))
