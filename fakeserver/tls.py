"""Throwaway TLS for the fake servers: a CA minted in memory at start, never a file secret.

The CA certificate (public, not secret) is written to a path so clients can verify the
server like a real one; the leaf key stays in memory. ``wrong_hostname`` issues the leaf
for a name the client will not ask for, for the TLS-mismatch scenario.
"""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import trustme

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass
class TlsMaterial:
    """A CA and a server context holding a leaf issued by it."""

    ca: trustme.CA = field(repr=False)
    server_context: ssl.SSLContext = field(repr=False)
    ca_pem_path: Path
    names: tuple[str, ...]

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this CA (for tests and the demo)."""
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx


def mint(
    directory: Path | None = None,
    *,
    names: tuple[str, ...] = LOOPBACK_NAMES,
    wrong_hostname: str | None = None,
) -> TlsMaterial:
    """Mint a CA and a server leaf for ``names`` (or only ``wrong_hostname``).

    The CA PEM is written to ``directory`` (a fresh temp dir when None) as ``ca.pem``.
    """
    ca = trustme.CA(organization_name="inboxlab fake CA")
    leaf_names = (wrong_hostname,) if wrong_hostname else names
    leaf = ca.issue_cert(*leaf_names)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    leaf.configure_cert(ctx)
    target = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="inboxlab-tls-"))
    target.mkdir(parents=True, exist_ok=True)
    pem_path = target / "ca.pem"
    ca.cert_pem.write_to_path(str(pem_path))
    return TlsMaterial(ca=ca, server_context=ctx, ca_pem_path=pem_path, names=leaf_names)
