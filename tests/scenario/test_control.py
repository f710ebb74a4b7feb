"""The control endpoint over real HTTP on loopback: list sessions, fire actions, read counters."""

from __future__ import annotations

import asyncio
import imaplib
import socket
from typing import Any

import pytest
from control_client import control_request, raw_headers
from scenario_helpers import PASSWORD, USER, scenario_with
from waiting import async_wait_until

from inboxlab.fakeserver.control import ControlServer
from inboxlab.fakeserver.scenario.serve import ScenarioServer


def http(srv: ScenarioServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    return control_request(srv, method, path, body)


async def call(srv: ScenarioServer, method: str, path: str, body: Any = None
               ) -> tuple[int, Any]:
    return await asyncio.to_thread(http, srv, method, path, body)


def login(srv: ScenarioServer) -> imaplib.IMAP4:
    client = imaplib.IMAP4(srv.host, srv.port, timeout=10)
    client.login(USER, PASSWORD)
    return client


async def test_index_lists_endpoints_and_routes() -> None:
    async with ScenarioServer(scenario_with(), smtp=False) as srv:
        assert srv.control_port is not None
        status, body = await call(srv, "GET", "/")
        assert status == 200
        assert body["endpoints"]["imap_port"] == srv.port
        assert "POST /actions" in body["routes"] and "reset" in body["action_types"]


async def test_sessions_show_who_is_connected() -> None:
    async with ScenarioServer(scenario_with(), smtp=False) as srv:
        assert srv.control_port is not None
        client = await asyncio.to_thread(login, srv)
        await asyncio.to_thread(client.select, "INBOX")
        status, body = await call(srv, "GET", "/sessions")
        assert status == 200
        (session,) = body["sessions"]
        assert session["conn"] == 1 and session["user"] == USER
        assert session["state"] == "selected" and not session["tls"]
        assert session["bytes_to_client"] > 100 and session["bytes_to_server"] > 10


async def test_post_reset_breaks_the_named_connection_now() -> None:
    async with ScenarioServer(scenario_with(), smtp=False) as srv:
        port = srv.control_port
        assert port is not None
        victim = await asyncio.to_thread(login, srv)
        bystander = await asyncio.to_thread(login, srv)
        status, body = await call(srv, "POST", "/actions", {"type": "reset", "conn": 1})
        assert (status, body) == (200, {"ok": True, "action": "Reset", "conn": 1})
        with pytest.raises((ConnectionResetError, imaplib.IMAP4.abort), match=r"reset|104"):
            await asyncio.to_thread(victim.noop)  # the send or the read sees the RST
        assert (await asyncio.to_thread(bystander.noop))[0] == "OK"
        _, counters = await call(srv, "GET", "/counters")
        assert counters["counters"]["proxy.resets"] == 1
        assert counters["counters"]["action.Reset"] == 1
        _, events = await call(srv, "GET", "/events")
        assert [(e["event"], e["action"], e["conn"]) for e in events["events"]] == [
            ("control", "Reset", 1)]


async def test_post_store_actions_and_password_change() -> None:
    async with ScenarioServer(scenario_with(), smtp=False) as srv:
        port = srv.control_port
        assert port is not None
        client = await asyncio.to_thread(login, srv)
        await asyncio.to_thread(client.select, "INBOX")
        status, _ = await call(srv, "POST", "/actions",
                               {"type": "deliver", "folder": "INBOX", "count": 2})
        assert status == 200
        await asyncio.to_thread(client.noop)
        assert client.response("EXISTS")[1][-1] == b"42"
        assert (await call(srv, "POST", "/actions", {"type": "password_changed"}))[0] == 200
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            await asyncio.to_thread(login, srv)
        assert (await asyncio.to_thread(client.noop))[0] == "OK"


async def test_post_down_refuses_new_connections() -> None:
    async with ScenarioServer(scenario_with(), smtp=False) as srv:
        port = srv.control_port
        assert port is not None and srv.proxy is not None
        proxy = srv.proxy
        gate = asyncio.Event()

        async def held(delay: float) -> None:
            await gate.wait()

        proxy.sleep = held
        assert (await call(srv, "POST", "/actions", {"type": "down", "seconds": 60}))[0] == 200
        await async_wait_until(lambda: proxy.is_down, what="the server down")
        with pytest.raises(ConnectionRefusedError):
            await asyncio.to_thread(socket.create_connection, (srv.host, srv.port), 5)
        gate.set()
        await async_wait_until(lambda: not proxy.is_down, what="the server back")
        assert (await asyncio.to_thread(lambda: login(srv).noop()))[0] == "OK"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "fragment"),
    [
        ("GET", "/nope", None, 404, "no route /nope"),
        ("GET", "/actions", None, 405, "answers POST"),
        ("POST", "/counters", {}, 405, "answers GET"),
        ("POST", "/actions", {"type": "explode"}, 400, "'explode' is not one of"),
        ("POST", "/actions", {"type": "reset", "conn": 99}, 404, "no live connection 99"),
        ("POST", "/actions", {"type": "reset", "direction": 3}, 400, "expected a string"),
        ("POST", "/actions", {"type": "no", "text": "x"}, 400, "answers a command"),
        ("POST", "/actions", [1, 2], 400, "must be a JSON object"),
    ],
)
async def test_bad_requests_are_clear_errors(
    method: str, path: str, body: Any, status: int, fragment: str
) -> None:
    async with ScenarioServer(scenario_with(), smtp=False) as srv:
        assert srv.control_port is not None
        got, payload = await call(srv, method, path, body)
        assert got == status and fragment in payload["error"]
        # the server is unharmed
        assert (await asyncio.to_thread(lambda: login(srv).noop()))[0] == "OK"


async def test_garbage_and_non_json_bodies() -> None:
    async with ScenarioServer(scenario_with(), smtp=False) as srv:
        port = srv.control_port
        assert port is not None

        def raw(data: bytes) -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(data)
                out = b""
                while chunk := sock.recv(4096):
                    out += chunk
                return out

        got = await asyncio.to_thread(raw, b"HELLO\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 400 ") and b"not an HTTP/1.x request line" in got
        got = await asyncio.to_thread(
            raw, b"POST /actions HTTP/1.1\r\n" + raw_headers(srv) + b"Content-Length: 3\r\n\r\n{x}")
        assert got.startswith(b"HTTP/1.1 400 ") and b"not JSON" in got


def test_control_refuses_non_loopback_binding() -> None:
    with pytest.raises(ValueError, match="loopback"):
        ControlServer(object(), host="0.0.0.0")  # type: ignore[arg-type]


# -- what a web page cannot do (issue 12) -----------------------------------------------------


async def test_a_browser_page_cannot_drive_the_endpoint() -> None:
    """A cross-site form POST (text/plain, Origin, no token) and DNS rebinding (Host: a
    name) are each refused, and nothing fires; the same request with what our clients
    send passes."""
    async with ScenarioServer(scenario_with(), smtp=False) as srv:
        token = srv.control_token
        assert token and len(token) >= 24
        other = ScenarioServer(scenario_with(), smtp=False)
        async with other:
            assert other.control_token != token  # minted per start, not a constant
        body = {"type": "down", "seconds": 60}
        refused = [
            ({"Authorization": None}, 401, "token"),
            ({"Authorization": "Bearer wrong"}, 401, "token"),
            ({"Authorization": f"Basic {token}"}, 401, "token"),
            ({"Origin": "http://127.0.0.1:9"}, 403, "Origin"),
            ({"Origin": "null"}, 403, "Origin"),
            ({"Host": "attacker.example:80"}, 403, "Host"),
            ({"Host": "localhost"}, 403, "Host"),
            ({"Content-Type": "text/plain"}, 415, "application/json"),
            ({"Content-Type": "application/x-www-form-urlencoded"}, 415, "application/json"),
        ]
        for headers, status, words in refused:
            got, reply = await asyncio.to_thread(
                control_request, srv, "POST", "/actions", body, headers=headers)
            assert (got, words in reply["error"]) == (status, True), (headers, reply)
        got, reply = await asyncio.to_thread(
            control_request, srv, "GET", "/counters", None, headers={"Authorization": None})
        assert got == 401  # reads need the token too
        assert srv.proxy is not None and not srv.proxy.is_down  # nothing fired
        assert srv.runtime.fired == []
        got, _ = await asyncio.to_thread(
            control_request, srv, "POST", "/actions", body, headers={"Host": "[::1]:1"})
        assert got == 200 and srv.proxy.is_down


def test_serve_prints_the_token_with_the_endpoints() -> None:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "inboxlab.cli.main",
                             "fakeserver", "serve", "demo"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = "".join(lines)
    token = next(x.split()[1] for x in lines if x.strip().startswith("token:"))
    assert "control:" in text and len(token) >= 24, text
