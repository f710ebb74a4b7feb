"""``* BYE [CODE] text`` then a close: the ``Disconnected`` the caller gets keeps the
server's code and words, so diagnostics decide the cause from the error alone (no trace)."""

from __future__ import annotations

import asyncio

import pytest

from inboxlab.engine.catalogue import BY_CODE
from inboxlab.engine.diag.classify import diagnose
from inboxlab.engine.errors import Disconnected
from inboxlab.engine.imap.client import ImapClient


async def _bye_on_noop(bye: bytes) -> Disconnected:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(b"* PREAUTH [CAPABILITY IMAP4rev1] ready\r\n")
            await writer.drain()
            await reader.readline()  # NOOP
            writer.write(bye)
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = ImapClient("127.0.0.1", port, security="plain", timeout=5, connect_timeout=5)
    try:
        await client.connect()
        with pytest.raises(Disconnected) as caught:
            await client.noop()
        return caught.value
    finally:
        await client.close()
        server.close()
        await server.wait_closed()


async def test_a_bye_code_rides_on_the_disconnect_and_decides_the_cause() -> None:
    err = await _bye_on_noop(b"* BYE [UNAVAILABLE] Back in 10 minutes\r\n")
    assert (err.code, err.response_code, err.server_text) == (
        "server_bye", "UNAVAILABLE", "Back in 10 minutes")
    d = diagnose(err)  # no response_code hint: the error carries it
    assert (d.code, d.response_code, d.matched_by) == (
        "unavailable", "UNAVAILABLE", "response code [UNAVAILABLE]")
    assert d.permanent is err.permanent is BY_CODE["unavailable"].permanent


async def test_a_bye_without_a_code_is_known_by_its_words() -> None:
    # Dovecot's words at shutdown: a restart, not a firewall cutting the line (issue 13)
    err = await _bye_on_noop(b"* BYE Server shutting down\r\n")
    assert (err.code, err.response_code, err.server_text) == (
        "server_bye", None, "Server shutting down")
    d = diagnose(err)
    assert d.code == "server_shutdown" and not d.permanent and not err.permanent


async def test_a_bye_without_a_code_or_known_words_is_a_plain_reset() -> None:
    err = await _bye_on_noop(b"* BYE see you\r\n")
    assert diagnose(err).code == "connection_reset"


async def test_a_bye_the_server_does_not_follow_with_a_close_ends_the_command_now() -> None:
    """RFC 9051 7.1.5: BYE says the server is closing. One that keeps the socket open (a
    stuck shutdown, a proxy holding it) must not turn into a wait for the command timeout,
    diagnosed as a tarpit: the command fails with the BYE's words at once."""
    hold = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(b"* PREAUTH [CAPABILITY IMAP4rev1] ready\r\n")
            await writer.drain()
            await reader.readline()  # NOOP
            writer.write(b"* BYE Server shutting down.\r\n")
            await writer.drain()
            await hold.wait()  # and never close
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    # a command timeout no test run reaches: only the BYE can end the NOOP
    client = ImapClient("127.0.0.1", port, security="plain", timeout=600, connect_timeout=5)
    try:
        await client.connect()
        with pytest.raises(Disconnected) as caught:
            async with asyncio.timeout(20):  # a guard, so a regression fails, not hangs
                await client.noop()
    finally:
        hold.set()
        await client.close()
        server.close()
        await server.wait_closed()
    err = caught.value
    assert (err.code, err.server_text) == ("server_bye", "Server shutting down.")
    assert diagnose(err).code == "server_shutdown"
