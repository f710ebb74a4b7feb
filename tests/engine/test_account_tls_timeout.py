"""The account's own connect path names a silent TLS handshake as such (issue 13).

A server that accepts TCP and never answers the ClientHello (stopped, overloaded, or a
plain service behind the TLS port) is not a network problem: "allow outbound TCP" would
send the customer to the wrong person. The account's error must carry the code that the
diagnose catalogue files as ``tls_handshake_timeout``, the same cause ``inboxlab diagnose``
names for it."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from account_helpers import Recorder, make_account, settings_for
from waiting import async_wait_until

from inboxlab.engine.catalogue import by_error_code
from inboxlab.engine.diag.classify import diagnose

USER, PASSWORD = "tls-silent@example.com", "tls-Silent-pw-13"


@asynccontextmanager
async def silent_after_accept(heard: list[bytes]) -> AsyncIterator[int]:
    """A port that accepts TCP, reads (into ``heard``) and never answers."""
    release = asyncio.Event()

    async def sit(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(4096):
            heard.append(chunk)
        await release.wait()
        writer.close()

    server = await asyncio.start_server(sit, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        release.set()
        server.close()
        await server.wait_closed()


async def first_error(port: int, tmp_path: Path, cafile: str | None = None) -> Any:
    retries: list[float] = []

    async def sleep(seconds: float) -> None:
        retries.append(seconds)
        await asyncio.sleep(0)

    rec = Recorder()
    ctx = ssl.create_default_context(cafile=cafile)
    account = make_account(settings_for("localhost", port, USER, "tls"), PASSWORD, tmp_path,
                           rec, sleep=sleep, ssl_context=ctx, connect_timeout=0.5)
    await account.start()
    try:
        await async_wait_until(lambda: account.errors, what="the first connect failure")
    finally:
        await account.stop()
    return account.errors[0], rec


def assert_tls_timeout(err: Any, rec: Recorder) -> None:
    assert err.code == "tls_timeout" and err.stage == "imap_tls", err
    assert not err.permanent
    assert by_error_code(err.code).code == "tls_handshake_timeout"
    assert diagnose(err).code == "tls_handshake_timeout"
    assert "TLS handshake" in err.message
    assert err.remediation == by_error_code("tls_timeout").owner_fix
    failed = rec.named("imap.connect.failed")
    assert failed and failed[0]["code"] == "tls_timeout"


async def test_a_port_that_accepts_tcp_and_never_answers_tls(tmp_path: Path) -> None:
    heard: list[bytes] = []
    async with silent_after_accept(heard) as port:
        err, rec = await first_error(port, tmp_path)
    assert_tls_timeout(err, rec)
    assert heard and heard[0][:1] == b"\x16"  # it did get a ClientHello (a TLS handshake record)


@pytest.mark.dovecot
async def test_a_stopped_dovecot_s_tls_port(dovecot_factory: Any, tmp_path: Path) -> None:
    server = dovecot_factory()
    server.pause()
    try:
        err, rec = await first_error(server.tls_port, tmp_path, str(server.ca_pem))
    finally:
        server.resume()
    assert_tls_timeout(err, rec)


async def test_a_closed_port_is_still_a_connect_failure(tmp_path: Path) -> None:
    """The split between TCP and TLS keeps TCP's own causes."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    err, _rec = await first_error(port, tmp_path)
    assert err.code == "connect_refused" and err.stage == "imap_connect"
