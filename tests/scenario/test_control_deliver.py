"""Every control request answers within a deadline: deliveries while a client IDLEs, failures.

The TUI's engine account keeps one connection in IDLE on INBOX and polls STATUS on
another; a ``deliver`` POSTed meanwhile must answer at once and the IDLE client must
hear ``EXISTS``. An action that fails (the store refuses it), a request that never
finishes or one too long for the reader all get a JSON error, never a silent socket.
"""

from __future__ import annotations

import asyncio
import imaplib
import json
import socket
import ssl
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from control_client import control_request
from scenario_helpers import PASSWORD, USER, event, header, scenario_with

from inboxlab.fakeserver import control
from inboxlab.fakeserver.errors import CommandFailed
from inboxlab.fakeserver.scenario import store_actions
from inboxlab.fakeserver.scenario.load import load
from inboxlab.fakeserver.scenario.serve import ScenarioServer
from inboxlab.scenarios import path_of

DEADLINE = 10.0  # seconds a control request may take before the test calls it a hang


def http(srv: ScenarioServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    return control_request(srv, method, path, body, timeout=DEADLINE)


async def post(srv: ScenarioServer, body: Any) -> tuple[int, Any]:
    """POST /actions; a reply later than the deadline fails the test (a hang)."""
    return await asyncio.wait_for(asyncio.to_thread(http, srv, "POST", "/actions", body),
                                  timeout=DEADLINE + 1)


def imaps(srv: ScenarioServer, user: str, password: str) -> imaplib.IMAP4:
    context = ssl.create_default_context(cafile=str(srv.ca_pem_path))
    client = imaplib.IMAP4_SSL("localhost", srv.tls_port, ssl_context=context, timeout=DEADLINE)
    client.login(user, password)
    return client


class Idler:
    """A client parked in IDLE on INBOX (raw IDLE over imaplib), reading what is pushed."""

    def __init__(self, srv: ScenarioServer, user: str, password: str) -> None:
        self.client = imaps(srv, user, password)
        self.client.select("INBOX")
        self.client.send(b"i1 IDLE\r\n")
        assert self.client.readline().startswith(b"+ ")

    def exists(self) -> int:
        """The next ``* n EXISTS`` pushed while idling (``* n RECENT`` may follow one)."""
        line = self.client.readline()
        while line.endswith(b" RECENT\r\n"):
            line = self.client.readline()
        assert line.endswith(b" EXISTS\r\n"), line
        return int(line.split()[1])

    def exists_until(self, count: int) -> int:
        """Read pushes until EXISTS reaches ``count`` (close changes may be coalesced)."""
        seen = self.exists()
        while seen < count:
            seen = self.exists()
        return seen

    def done(self) -> None:
        self.client.send(b"DONE\r\n")
        line = self.client.readline()
        while line.startswith(b"* "):  # pushes still on their way (EXISTS, RECENT)
            line = self.client.readline()
        assert line.startswith(b"i1 OK"), line
        self.client.logout()


class StatusPoller:
    """Another connection asking STATUS INBOX in a loop, as the engine's pool does."""

    def __init__(self, srv: ScenarioServer, user: str, password: str) -> None:
        self.client = imaps(srv, user, password)
        self.polls = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                typ, _ = self.client.status("INBOX", "(MESSAGES UIDNEXT UNSEEN)")
                assert typ == "OK"
                self.polls += 1
        except BaseException as exc:
            self.errors.append(exc)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(DEADLINE)
        self.client.logout()


@pytest.fixture
async def demo() -> AsyncIterator[ScenarioServer]:
    async with ScenarioServer(load(path_of("demo"))) as srv:
        yield srv


async def test_deliver_answers_while_a_client_idles_and_another_polls_status(
        demo: ScenarioServer) -> None:
    srv = demo
    account = srv.scenario.accounts[0]
    port = srv.control_port
    assert port is not None
    before = len(srv.store.accounts[account.username].get("INBOX"))
    idler = await asyncio.to_thread(Idler, srv, account.username, account.password or "")
    poller = await asyncio.to_thread(StatusPoller, srv, account.username,
                                     account.password or "")
    try:
        for n in range(1, 6):
            status, reply = await post(srv, {"type": "deliver", "folder": "INBOX",
                                              "count": 1, "seed": n})
            assert (status, reply) == (200, {"ok": True, "action": "Deliver", "conn": None})
            assert await asyncio.to_thread(idler.exists) == before + n
        # several at once, as a user pressing a key repeatedly
        replies = await asyncio.gather(*[
            post(srv, {"type": "deliver", "count": 2, "seed": 10 + i}) for i in range(4)])
        assert [status for status, _ in replies] == [200] * 4
        assert await asyncio.to_thread(idler.exists_until, before + 5 + 8) == before + 5 + 8
        status, counters = await asyncio.to_thread(http, srv, "GET", "/counters")
        assert status == 200 and counters["counters"]["action.Deliver"] == 9
    finally:
        await asyncio.to_thread(poller.stop)
        await asyncio.to_thread(idler.done)
    assert not poller.errors and poller.polls > 0


async def test_a_delivery_the_store_refuses_answers_with_a_json_error(
        monkeypatch: Any) -> None:
    async with ScenarioServer(scenario_with(), smtp=False) as srv:
        port = srv.control_port
        assert port is not None
        idler = await asyncio.to_thread(Idler, srv, USER, PASSWORD)

        def refuse(*args: Any, **kwargs: Any) -> int:
            raise CommandFailed("Mailbox does not exist", code="NONEXISTENT")

        monkeypatch.setattr(store_actions, "apply", refuse)
        status, reply = await post(srv, {"type": "deliver", "count": 1})
        assert status == 409
        assert reply == {"error": "the action failed: Mailbox does not exist",
                         "code": "NONEXISTENT"}
        assert srv.runtime.counters["action_errors"] == 1
        monkeypatch.undo()
        status, reply = await post(srv, {"type": "deliver", "count": 1})  # and it recovers
        assert status == 200 and await asyncio.to_thread(idler.exists) == 41
        await asyncio.to_thread(idler.done)


async def test_an_unexpected_failure_is_a_500_json_error(monkeypatch: Any) -> None:
    async with ScenarioServer(scenario_with(), smtp=False) as srv:
        port = srv.control_port
        assert port is not None

        def boom(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("the generator broke")

        monkeypatch.setattr(store_actions, "deliver", boom)
        status, reply = await post(srv, {"type": "deliver", "count": 1})
        assert status == 500
        assert reply == {"error": "the action failed: RuntimeError: the generator broke"}


def raw_request(port: int, data: bytes, *, finish: bool) -> bytes:
    """Send ``data``; keep the socket open (an unfinished request) unless ``finish``."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
        sock.sendall(data)
        if finish:
            sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        return reply


def status_and_body(reply: bytes) -> tuple[int, Any]:
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def test_an_unfinished_request_is_answered_at_the_read_deadline(
        monkeypatch: Any) -> None:
    monkeypatch.setattr(control, "READ_DEADLINE_S", 0.2)
    async with ScenarioServer(scenario_with(), smtp=False) as srv:
        port = srv.control_port
        assert port is not None
        request = b"POST /actions HTTP/1.1\r\nContent-Length: 40\r\n\r\n{\"type\": "
        reply = await asyncio.to_thread(raw_request, port, request, finish=False)
        status, body = status_and_body(reply)
        assert status == 408 and "not received within 0.2 s" in body["error"]
        reply = await asyncio.to_thread(raw_request, port, request, finish=True)
        assert status_and_body(reply) == (400, {"error": "the request ended early"})


async def test_a_header_line_over_the_reader_limit_is_refused() -> None:
    async with ScenarioServer(scenario_with(), smtp=False) as srv:
        port = srv.control_port
        assert port is not None
        long = b"a" * 70_000  # over the reader's 64 KiB line limit, under what it buffers
        request = b"GET / HTTP/1.1\r\nX-Long: " + long + b"\r\n\r\n"
        reply = await asyncio.to_thread(raw_request, port, request, finish=True)
        assert status_and_body(reply) == (413, {"error": "request line or header too long"})


ARCHIVE = header() + '\n[[accounts.folders]]\nname = "Archive"\n'


async def test_a_delivery_into_a_deleted_folder_is_a_409_and_the_server_goes_on() -> None:
    timeline = event("{ login = 1 }", '{ type = "deliver", folder = "Archive" }')
    async with ScenarioServer(scenario_with(timeline, header=ARCHIVE), smtp=False) as srv:
        port = srv.control_port
        assert port is not None
        assert (await post(srv, {"type": "delete_folder", "folder": "Archive"}))[0] == 200
        status, reply = await post(srv, {"type": "deliver", "folder": "Archive"})
        assert (status, reply) == (409, {"error": "the action failed: Mailbox doesn't exist: "
                                                  "Archive", "code": "NONEXISTENT"})
        idler = await asyncio.to_thread(Idler, srv, USER, PASSWORD)  # the timeline's try
        assert srv.runtime.counters["action_errors"] == 2
        assert (await post(srv, {"type": "deliver"}))[0] == 200
        assert await asyncio.to_thread(idler.exists) == 41
        await asyncio.to_thread(idler.done)
