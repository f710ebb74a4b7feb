"""Protocol faults on TLS connections arrive as IMAP, inside TLS, not as bytes in the TLS stream.

The fault proxy relays TLS without decrypting it, so a BYE (or a malformed line) the
proxy wrote itself would reach the client as cleartext inside the TLS stream and fail
the record layer (``WRONG_VERSION_NUMBER``). These tests drive a verifying client
(stdlib imaplib, the fake CA trusted, the hostname checked) over implicit TLS and over
STARTTLS, and fire the faults from every place that has no command in hand: the
control endpoint, a time trigger, a connection trigger and a byte-count trigger.
"""

from __future__ import annotations

import asyncio
import imaplib
import ssl
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from control_client import post_action
from scenario_helpers import PASSWORD, USER, event, scenario_with

from inboxlab.fakeserver.scenario.model import Scenario
from inboxlab.fakeserver.scenario.serve import ScenarioServer

T = TypeVar("T")

BYE_TEXT = "[maintenance] Server restarting for an upgrade, reconnect in a moment"
BYE_LINE = f"* BYE [ALERT] {BYE_TEXT}\r\n".encode()
BYE_ACTION = f'{{ type = "bye", code = "ALERT", text = "{BYE_TEXT}" }}'


async def in_thread(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


def verifying_context(srv: ScenarioServer) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(srv.ca_pem_path))
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    return context


def connect(srv: ScenarioServer, how: str) -> imaplib.IMAP4:
    """A verifying TLS client: implicit TLS (IMAPS) or STARTTLS on the plain port."""
    if how == "imaps":
        client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            "localhost", srv.tls_port, ssl_context=verifying_context(srv), timeout=10)
    else:
        client = imaplib.IMAP4("localhost", srv.port, timeout=10)
        client.starttls(verifying_context(srv))
    assert isinstance(client.sock, ssl.SSLSocket)
    return client


def logged_in(srv: ScenarioServer, how: str) -> imaplib.IMAP4:
    client = connect(srv, how)
    client.login(USER, PASSWORD)
    client.select("INBOX")
    return client


def next_lines(client: imaplib.IMAP4, count: int) -> list[bytes]:
    """Read what the server sends next (TLS-decrypted), ``count`` lines or until EOF."""
    lines = []
    for _ in range(count):
        line = client.readline()
        lines.append(line)
        if not line:
            break
    return lines


def serve(scenario: Scenario, **kwargs: Any) -> ScenarioServer:
    return ScenarioServer(scenario, smtp=False, **kwargs)


@pytest.mark.parametrize("how", ["imaps", "starttls"])
async def test_bye_from_the_control_endpoint_arrives_inside_tls(how: str) -> None:
    async with serve(scenario_with()) as srv:
        assert srv.control_port is not None
        client = await in_thread(lambda: logged_in(srv, how))
        bystander = await in_thread(lambda: logged_in(srv, how))
        reply = await in_thread(lambda: post_action(srv, {
            "type": "bye", "code": "ALERT", "text": BYE_TEXT, "conn": 1}))
        assert reply == {"ok": True, "action": "Bye", "conn": 1}
        assert await in_thread(lambda: next_lines(client, 2)) == [BYE_LINE, b""]
        assert (await in_thread(bystander.noop))[0] == "OK"  # only conn 1 was told


async def test_bye_to_every_connection_from_the_control_endpoint() -> None:
    async with serve(scenario_with()) as srv:
        clients = [await in_thread(lambda: logged_in(srv, "imaps")) for _ in range(2)]
        reply = await in_thread(lambda: post_action(srv, {
            "type": "bye", "code": "ALERT", "text": BYE_TEXT}))
        assert reply["ok"] is True and reply["conn"] is None
        for client in clients:
            assert await in_thread(lambda c=client: next_lines(c, 2)) == [BYE_LINE, b""]


async def test_bye_from_a_time_trigger_arrives_inside_tls() -> None:
    now = [0.0]
    scenario = scenario_with(event("{ at = 100 }", BYE_ACTION))
    async with serve(scenario, control_port=None, clock=lambda: now[0]) as srv:
        client = await in_thread(lambda: logged_in(srv, "imaps"))
        now[0] = 150.0
        srv.runtime.tick()  # the timer's own step, on the injected clock
        assert await in_thread(lambda: next_lines(client, 2)) == [BYE_LINE, b""]
        assert [r.action for r in srv.runtime.fired] == ["Bye"]


async def test_bye_from_a_connection_trigger_replaces_the_greeting_inside_tls() -> None:
    scenario = scenario_with(event("{ connection = 1 }", BYE_ACTION))
    async with serve(scenario, control_port=None) as srv:
        def greeting() -> BaseException | None:
            try:
                connect(srv, "imaps")
            except BaseException as exc:
                return exc
            return None

        error = await in_thread(greeting)
        assert isinstance(error, imaplib.IMAP4.error), repr(error)  # a BYE greeting
        assert BYE_TEXT in str(error)
        second = await in_thread(lambda: logged_in(srv, "imaps"))  # fired once only
        assert (await in_thread(second.noop))[0] == "OK"


async def test_bye_from_a_byte_trigger_arrives_inside_tls() -> None:
    # Where SELECT's answer ends on the wire depends on the TLS library (handshake and
    # certificate sizes), so measure it on a probe server first; the trigger then fires
    # while SELECT's answer is being relayed: the BYE follows that answer.
    async with serve(scenario_with(), control_port=None) as probe:
        client = await in_thread(lambda: connect(probe, "imaps"))
        await in_thread(lambda: client.login(USER, PASSWORD))
        after_login = probe.proxy.links[1].totals["to_client"] if probe.proxy else 0
        await in_thread(lambda: client.select("INBOX"))
        after_select = probe.proxy.links[1].totals["to_client"] if probe.proxy else 0
        await in_thread(client.logout)
    assert after_select - after_login > 60
    at = (after_login + after_select) // 2
    scenario = scenario_with(event(f"{{ bytes = {at}, direction = \"to_client\" }}",
                                   BYE_ACTION))
    async with serve(scenario, control_port=None) as srv:
        def client_run() -> list[bytes]:
            c = logged_in(srv, "imaps")  # SELECT completes: its answer was already relayed
            return next_lines(c, 2)

        assert await in_thread(client_run) == [BYE_LINE, b""]
        assert [(r.action, r.conn) for r in srv.runtime.fired] == [("Bye", 1)]


async def test_malformed_line_from_the_control_endpoint_arrives_inside_tls() -> None:
    async with serve(scenario_with()) as srv:
        client = await in_thread(lambda: logged_in(srv, "imaps"))
        line = "* 1 FETCH (UID 1 FLAGS (\\Seen"
        reply = await in_thread(lambda: post_action(srv, {
            "type": "malformed", "line": line, "conn": 1}))
        assert reply["ok"] is True
        assert await in_thread(lambda: next_lines(client, 1)) == [line.encode() + b"\r\n"]
        assert (await in_thread(client.noop))[0] == "OK"  # the session goes on
