"""What a server's TLS certificate says, read when verification failed.

When the verified handshake fails, a person needs to know what the server actually
showed: whose certificate it is, the names it covers, who issued it, and when it is
valid. ``presented`` opens a second connection, handshakes *without* verification and
only reads the peer certificate from it; nothing is ever sent over that connection
(for STARTTLS, only the STARTTLS command itself), so no credential can leak through it.

The DER certificate is parsed with ``cryptography`` (already installed with ``trustme``,
and the stdlib parses a certificate into a dict only after it verified it).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from datetime import UTC, datetime
from typing import Any, Literal

from cryptography import x509


def describe(der: bytes, *, now: datetime | None = None) -> dict[str, Any]:
    """A certificate as plain data: subject, SANs, issuer, validity, self-signed."""
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [*san.get_values_for_type(x509.DNSName),
                 *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))]
    except x509.ExtensionNotFound:
        names = []
    begins, ends = cert.not_valid_before_utc, cert.not_valid_after_utc
    now = now or datetime.now(UTC)
    return {"subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "names": names, "not_before": begins.isoformat(), "not_after": ends.isoformat(),
            "expired": now > ends, "not_yet_valid": now < begins,
            "self_signed": cert.subject == cert.issuer}


def summary(info: dict[str, Any]) -> str:
    """One line: 'subject ...; names a, b; issued by ...; valid from X until Y (expired)'."""
    when = f"valid {info['not_before'][:10]} until {info['not_after'][:10]}"
    if info.get("expired"):
        when += " (expired)"
    elif info.get("not_yet_valid"):
        when += " (not yet valid)"
    names = ", ".join(info.get("names") or []) or "none"
    issuer = "itself (self-signed)" if info.get("self_signed") else info["issuer"]
    return f"subject {info['subject']}; names {names}; issued by {issuer}; {when}"


def _unverified() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # read-only look at the chain; never used to log in
    return ctx


async def presented(address: str, port: int, host: str, limit: float,
                    mode: Literal["tls", "starttls"] = "tls") -> dict[str, Any] | None:
    """The leaf certificate the server shows (``describe``), or None if none could be read."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(limit):
            reader, writer = await asyncio.open_connection(address, port)
            if mode == "starttls":
                await reader.readline()  # the greeting
                writer.write(b"T1 STARTTLS\r\n")
                while not (line := await reader.readline()).startswith(b"T1 "):
                    if not line:
                        return None
                if not line.startswith(b"T1 OK"):
                    return None
            await writer.start_tls(_unverified(), server_hostname=host)
            obj = writer.get_extra_info("ssl_object")
            der = obj.getpeercert(binary_form=True) if obj is not None else None
            return describe(der) if der else None
    except (OSError, TimeoutError, ssl.SSLError, ValueError):
        return None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def speaks_tls(address: str, port: int, host: str, limit: float) -> bool:
    """Whether a TLS handshake completes on the port (the implicit-TLS port test)."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(limit):
            _reader, writer = await asyncio.open_connection(address, port, ssl=_unverified(),
                                                            server_hostname=host)
            return True
    except (OSError, TimeoutError, ssl.SSLError):
        return False
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


__all__ = ["describe", "presented", "speaks_tls", "summary"]
