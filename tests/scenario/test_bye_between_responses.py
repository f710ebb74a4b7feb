"""A BYE fired while a big FETCH streams lands between two responses, never inside a literal.

Real servers finish the response they are writing before they say BYE. A raw-socket
client asks ``UID FETCH 1:* (BODY.PEEK[])`` over a few thousand generated messages,
stops reading after the first bytes (so the server is blocked mid-stream on a full
socket), a BYE is fired from the control endpoint, and the client then reads to EOF.
What it got must parse as whole FETCH responses, then exactly ``* BYE [CODE] text``,
then EOF: no cut-off literal, nothing after the BYE. The deliberate
``cut_mid_literal`` fault must still cut inside its literal.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Callable
from typing import TypeVar

import pytest
from control_client import post_action
from scenario_helpers import PASSWORD, USER, event, header, scenario_with

from inboxlab.fakeserver.imap.session import ends_between_responses
from inboxlab.fakeserver.scenario.actions import render_cut_literal
from inboxlab.fakeserver.scenario.serve import ScenarioServer

T = TypeVar("T")

DEADLINE = 20.0  # socket timeout: a hang fails the test instead of stalling the suite
COUNT = 3000  # messages: far more than loopback and proxy buffers hold
BYE_TEXT = "Server shutting down for maintenance"
BYE_LINE = f"* BYE [UNAVAILABLE] {BYE_TEXT}\r\n".encode()
_FETCH = re.compile(rb"\* \d+ FETCH \(")
_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


async def in_thread(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


def split_responses(data: bytes) -> tuple[list[bytes], bytes]:
    """Whole responses (literals included) and whatever is left unfinished at the end."""
    responses: list[bytes] = []
    start = at = 0
    while True:
        end = data.find(b"\r\n", at)
        if end < 0:
            return responses, data[start:]
        line_end = end + 2
        literal = _LITERAL.search(data, at, line_end)
        if literal is None:
            responses.append(data[start:line_end])
            start = at = line_end
            continue
        at = line_end + int(literal.group(1))
        if at > len(data):
            return responses, data[start:]


class RawClient:
    """A blocking IMAP client on a plain or TLS socket that reads bytes, not responses."""

    def __init__(self, srv: ScenarioServer, how: str) -> None:
        if how == "imaps":
            context = ssl.create_default_context(cafile=str(srv.ca_pem_path))
            raw = socket.create_connection(("localhost", srv.tls_port), timeout=DEADLINE)
            self.sock: socket.socket = context.wrap_socket(raw, server_hostname="localhost")
        else:
            self.sock = socket.create_connection(("127.0.0.1", srv.port), timeout=DEADLINE)
        self.data = bytearray()

    def read_until(self, marker: bytes) -> None:
        while marker not in self.data:
            chunk = self.sock.recv(65536)
            assert chunk, f"EOF before {marker!r}: {bytes(self.data[-200:])!r}"
            self.data += chunk

    def command(self, tag: str, text: str) -> None:
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        self.read_until(f"\r\n{tag} OK".encode())
        self.read_until(b"\r\n")

    def start_fetch(self, at_least: int) -> None:
        """Ask for every body, and read only the first bytes of the answer."""
        self.data.clear()
        self.sock.sendall(b"f UID FETCH 1:* (BODY.PEEK[])\r\n")
        while len(self.data) < at_least:
            chunk = self.sock.recv(65536)
            assert chunk, "EOF at the start of the FETCH"
            self.data += chunk

    def read_to_eof(self) -> bytes:
        while chunk := self.sock.recv(1 << 20):
            self.data += chunk
        self.sock.close()
        return bytes(self.data)


def logged_in(srv: ScenarioServer, how: str) -> RawClient:
    client = RawClient(srv, how)
    client.read_until(b"\r\n")
    client.command("l", f"LOGIN {USER} {PASSWORD}")
    client.command("s", "SELECT INBOX")
    return client


def serve(count: int = COUNT, timeline: str = "") -> ScenarioServer:
    return ScenarioServer(scenario_with(timeline, header=header(count=count)), smtp=False,
                          transcripts=True)


def assert_fetches_then_bye(data: bytes) -> int:
    """Whole FETCH responses, then exactly the BYE, then nothing; returns the FETCH count."""
    responses, rest = split_responses(data)
    assert rest == b"", f"cut off after {len(responses)} responses: {rest[:120]!r}"
    assert responses, "nothing received"
    assert responses[-1] == BYE_LINE, responses[-1][:200]
    fetches = responses[:-1]
    bad = [r[:120] for r in fetches
           if not (_FETCH.match(r) and b"BODY[] {" in r[:60] and r.endswith(b")\r\n"))]
    assert not bad, f"not a whole FETCH response before the BYE: {bad[:3]}"
    return len(fetches)


@pytest.mark.parametrize("how", ["plain", "imaps"])
async def test_bye_from_control_waits_for_the_response_in_flight(how: str) -> None:
    async with serve() as srv:
        client = await in_thread(lambda: logged_in(srv, how))
        await in_thread(lambda: client.start_fetch(100_000))
        reply = await in_thread(lambda: post_action(srv, {
            "type": "bye", "code": "UNAVAILABLE", "text": BYE_TEXT, "conn": 1}))
        assert reply == {"ok": True, "action": "Bye", "conn": 1}
        data = await in_thread(client.read_to_eof)
        fetched = assert_fetches_then_bye(data)
        assert 0 < fetched < COUNT  # the BYE came mid-stream, not after the FETCH ended
        assert b"\r\nf OK" not in data
        sent = bytes(srv.runtime.transcripts[1])  # the server wrote nothing after its BYE
        assert sent.endswith(BYE_LINE) and sent.count(BYE_LINE) == 1, sent[-300:]


async def test_bye_while_idle_is_sent_at_once_and_closes() -> None:
    async with serve(count=5) as srv:
        client = await in_thread(lambda: logged_in(srv, "plain"))
        client.data.clear()
        await in_thread(lambda: post_action(srv, {
            "type": "bye", "code": "UNAVAILABLE", "text": BYE_TEXT}))
        assert await in_thread(client.read_to_eof) == BYE_LINE


async def test_malformed_line_mid_fetch_lands_between_responses_and_the_fetch_goes_on() -> None:
    line = "* 1 FETCH (UID 1 FLAGS (\\Seen"
    async with serve() as srv:
        client = await in_thread(lambda: logged_in(srv, "imaps"))
        await in_thread(lambda: client.start_fetch(100_000))
        await in_thread(lambda: post_action(srv, {
            "type": "malformed", "line": line, "conn": 1}))
        await in_thread(lambda: client.read_until(b"\r\nf OK"))
        await in_thread(lambda: client.read_until(b"\r\n"))
        responses, rest = split_responses(bytes(client.data))
        assert rest == b""
        assert responses.count(line.encode() + b"\r\n") == 1
        assert responses[-1].startswith(b"f OK")
        fetches = [r for r in responses if r.startswith(b"* ") and b"BODY[]" in r]
        assert len(fetches) == COUNT  # nothing lost around the injected line


async def test_cut_mid_literal_still_cuts_inside_the_literal() -> None:
    timeline = event('{ command = "UID FETCH", regex = "BODY", nth = 1 }',
                     '{ type = "cut_mid_literal" }')
    async with serve(count=5, timeline=timeline) as srv:
        client = await in_thread(lambda: logged_in(srv, "plain"))
        client.data.clear()
        await in_thread(lambda: client.sock.sendall(b"f UID FETCH 1 (BODY.PEEK[])\r\n"))
        responses, rest = split_responses(await in_thread(client.read_to_eof))
        assert responses == []
        assert rest.startswith(b"* 1 FETCH (UID 1 BODY[] {")  # announced, then cut short


@pytest.mark.parametrize(("data", "between"), [
    (b"", True),
    (b"* 1 EXISTS\r\n", True),
    (b"* 1 EXISTS", False),
    (b"* 1 FETCH (BODY[] {5}\r\nab\r\nc)\r\n* 2 EXISTS\r\n", True),
    (b"* 1 FETCH (BODY[] {5}\r\nab\r\n", False),  # CRLF inside the literal
    (b"* 1 FETCH (BODY[] {5}\r\nab\r\nc", False),  # the literal ended, the line did not
    (b"* 1 FETCH (BODY[] {0}\r\n)\r\n", True),
    (b"a APPEND x {3+}\r\nabc\r\n", True),
])
def test_ends_between_responses(data: bytes, between: bool) -> None:
    assert ends_between_responses(data) is between


def test_a_cut_literal_reply_is_not_a_boundary() -> None:
    cut = render_cut_literal("UID FETCH")
    assert not ends_between_responses(cut)
