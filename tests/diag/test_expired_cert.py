"""An expired certificate (a trustme fixture): the untrusted-certificate cause, with the
verify message as evidence, through the engine API and ``inboxlab diagnose --json``."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from inboxlab.cli.main import main as cli_main
from inboxlab.engine.catalogue import BY_CODE
from inboxlab.engine.diag.probe import ProbeOptions, probe
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer


@contextlib.asynccontextmanager
async def expired_imaps(tmp_path: Path) -> AsyncIterator[tuple[int, str]]:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", not_before=datetime.now(UTC) - timedelta(days=30),
                         not_after=datetime.now(UTC) - timedelta(days=1))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(ctx)
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            writer.write(b"* OK ready\r\n")
            await writer.drain()
            await reader.read()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    try:
        yield server.sockets[0].getsockname()[1], str(cafile)
    finally:
        server.close()
        await server.wait_closed()


async def test_an_expired_certificate_is_untrusted(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    async with expired_imaps(tmp_path) as (port, cafile):
        settings = AccountSettings(username="u@example.com",
                                   imap=ImapServer("localhost", port, "tls"))
        report = await probe(settings, Secret("pw"), ProbeOptions(cafile=cafile,
                                                                  connect_timeout=5))
        monkeypatch.setenv("INBOXLAB_PASSWORD", "pw")
        out = io.StringIO()

        def run() -> int:
            with contextlib.redirect_stdout(out):
                return cli_main(["diagnose", "--imap", f"imaps://localhost:{port}", "--user",
                                 "u@example.com", "--cafile", cafile, "--json"])

        code = await asyncio.to_thread(run)
    d = report.diagnosis
    assert d is not None and d.code == "tls_untrusted" and d.error_code == "tls_expired"
    assert d.permanent and "expired" in (d.message or "") and d.server_text is None
    assert report.step("tls") is not None and report.step("tls").status == "failed"  # type: ignore[union-attr]
    data = json.loads(out.getvalue())
    assert code == 2 and data["diagnosis"]["cause"] == "tls_untrusted"
    assert data["diagnosis"]["owner_fix"] == BY_CODE["tls_untrusted"].owner_fix
