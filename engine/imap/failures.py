"""Socket and TLS failures translated into the engine's error tree, with a remedy.

The ``ssl`` module reports certificate problems as OpenSSL verify codes; a person needs
"the certificate is not valid for 'imap.example.com'" and what to do about it.
"""

from __future__ import annotations

import socket
import ssl

from engine.errors import ConnectError, EngineError, TlsError

# X509_V_ERR_* codes: self-signed / unknown issuer, expiry, host name.
_VERIFY_UNTRUSTED = {18, 19, 20, 21, 27}
_VERIFY_EXPIRED = {9, 10}
_VERIFY_HOSTNAME = {62, 64}


def tls_error(exc: ssl.SSLError, expected_host: str) -> TlsError:
    """An ``ssl`` failure as a ``TlsError`` with a code a person can act on."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        vc = exc.verify_code
        said = exc.verify_message
        if vc in _VERIFY_HOSTNAME:
            return TlsError(
                f"the server's certificate is not valid for {expected_host!r} ({said})",
                code="tls_hostname_mismatch", permanent=True, server_text=said,
                remediation=f"connect with a host name the certificate covers instead of "
                f"{expected_host!r}, or have the certificate reissued",
            )
        if vc in _VERIFY_UNTRUSTED:
            return TlsError(
                f"the certificate for {expected_host!r} is not signed by a trusted CA ({said})",
                code="tls_untrusted", permanent=True, server_text=said,
                remediation="install the server's CA certificate (cafile) or fix the chain",
            )
        if vc in _VERIFY_EXPIRED:
            return TlsError(
                f"the certificate for {expected_host!r} has expired or is not yet valid",
                code="tls_expired", permanent=True, server_text=said,
                remediation="the server's certificate must be renewed",
            )
        return TlsError(f"certificate verification failed: {said}", code="tls_verify_failed",
                        permanent=True, server_text=said)
    return TlsError(f"TLS handshake failed: {exc}", code="tls_handshake", server_text=str(exc))


def connect_error(
    exc: BaseException, host: str, port: int, expected_host: str, limit: float
) -> EngineError:
    """Why ``open_connection`` failed, as ``ConnectError``/``TlsError``."""
    if isinstance(exc, ssl.SSLError):
        return tls_error(exc, expected_host)
    if isinstance(exc, TimeoutError):
        return ConnectError(
            f"no connection to {host}:{port} within {limit}s", code="connect_timeout",
            stage="imap_connect", remediation="check the host, port and firewall")
    if isinstance(exc, socket.gaierror):
        return ConnectError(
            f"cannot resolve {host!r}: {exc.strerror}", code="dns", stage="imap_connect",
            remediation="check the host name")
    if isinstance(exc, ConnectionRefusedError):
        return ConnectError(
            f"{host}:{port} refused the connection", code="connect_refused",
            stage="imap_connect", remediation="check the port and that IMAP is enabled")
    return ConnectError(f"cannot connect to {host}:{port}: {exc}", code="connect_failed",
                        stage="imap_connect")
