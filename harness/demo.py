"""The bundled fake servers, run in-process for the demo and the Scenarios screen.

This module sees ``fakeserver`` and never ``textual`` or ``engine``: the bridge starts
it on the engine's loop thread, so the servers and the engine share one event loop
while still meeting only over loopback sockets, like a real client and server.

Faults are triggered through the scenario's control endpoint over real HTTP (the
same door ``curl`` or a test would use), not by reaching into the runtime.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from inboxlab.fakeserver.errors import ScenarioError
from inboxlab.fakeserver.scenario.load import load
from inboxlab.fakeserver.scenario.model import Scenario
from inboxlab.fakeserver.scenario.serve import ScenarioServer
from inboxlab.scenarios import DEFAULT, bundled, path_of

# Faults offered on the Scenarios screen, as control-endpoint action tables.
FAULTS: Mapping[str, Mapping[str, Any]] = {
    "reset": {"type": "reset"},
    "bye [ALERT] (plain IMAP only)": {
        "type": "bye", "code": "ALERT",
        "text": "[maintenance] Server restarting for an upgrade, reconnect in a moment"},
    "down 5 s": {"type": "down", "seconds": 5},
    "password changed": {"type": "password_changed"},
    "deliver 3 messages": {"type": "deliver", "folder": "INBOX", "count": 3, "seed": 7},
    "uidvalidity reset": {"type": "uidvalidity_reset", "folder": "INBOX"},
    "latency 300 ms": {"type": "latency", "ms": 300},
}


@dataclass(frozen=True)
class ScenarioInfo:
    """One bundled scenario as the Scenarios screen lists it."""

    name: str
    description: str
    profile: str
    path: Path
    error: str | None = None


def list_scenarios() -> list[ScenarioInfo]:
    """Every bundled scenario; an invalid one is listed with its error, never raised."""
    out: list[ScenarioInfo] = []
    for name, path in bundled().items():
        try:
            sc = load(path)
        except ScenarioError as exc:
            out.append(ScenarioInfo(name, "", "?", path, error=str(exc)))
            continue
        out.append(ScenarioInfo(name, sc.description, sc.profile.name, path))
    return out


def scenario_problem(name: str) -> str | None:
    """Why ``name`` (bundled name or TOML file) cannot run, as ``scenario check`` says it
    (file, line, key, reason); None when it loads."""
    try:
        load(path_of(name))
    except (FileNotFoundError, ScenarioError) as exc:
        return str(exc)
    return None


@dataclass(frozen=True)
class SendPlan:
    """One ``[[send]]`` block of the scenario: who (address, name) gets which template."""

    name: str
    subject: str
    body: str
    to: tuple[tuple[str, str], ...]


def send_plans(sc: Scenario) -> tuple[SendPlan, ...]:
    """The scenario's sends as written; a persona's name is used when one matches."""
    names = {p.address.lower(): p.name for p in (sc.smtp.personas if sc.smtp else ())}
    return tuple(SendPlan(s.name or f"send-{i + 1}", s.subject, s.body,
                          tuple((a, names.get(a.lower()) or "") for a in s.to))
                 for i, s in enumerate(sc.sends))


@dataclass(frozen=True)
class Endpoints:
    """Where the running fake servers listen and how to log in (demo data, not secrets)."""

    scenario: str
    description: str
    host: str
    imap_port: int
    imaps_port: int
    ca_file: str
    username: str
    password: str = ""
    control_port: int | None = None
    smtps_port: int | None = None
    sends: tuple[SendPlan, ...] = ()  # the scenario's [[send]] blocks, run once it settles
    control_token: str | None = None

    def serves(self, host: str, port: int) -> bool:
        """Whether ``host:port`` is one of these servers' IMAP addresses."""
        return host == self.host and port in (self.imap_port, self.imaps_port)

    def __repr__(self) -> str:
        return (f"Endpoints(scenario={self.scenario!r}, host={self.host!r}, "
                f"imaps_port={self.imaps_port}, username={self.username!r}, password=[hidden], "
                "control_token=[hidden])")


class DemoServers:
    """A ``ScenarioServer`` plus the control client; start and stop on one loop."""

    def __init__(self, scenario: str | Path | Scenario = DEFAULT, *,
                 timeline: bool = True) -> None:
        self._scenario = scenario
        self._timeline = timeline
        self.server: ScenarioServer | None = None

    @property
    def running(self) -> bool:
        return self.server is not None

    async def start(self) -> Endpoints:
        sc = self._scenario
        loaded = sc if isinstance(sc, Scenario) else load(path_of(str(sc)))
        if not self._timeline:  # tests that want a quiet server: no scripted events
            loaded = replace(loaded, timeline=())
        server = ScenarioServer(loaded)
        await server.start()
        self.server = server
        account = loaded.accounts[0]
        return Endpoints(
            scenario=loaded.name, description=loaded.description, host=server.host,
            imap_port=server.port, imaps_port=server.tls_port,
            ca_file=str(server.ca_pem_path), username=account.username,
            password=account.password or "", control_port=server.control_port,
            smtps_port=server.smtp.tls_port if server.smtp is not None else None,
            sends=send_plans(loaded) if server.smtp is not None else (),
            control_token=server.control_token,
        )

    async def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            await server.stop()

    async def fire(self, action: Mapping[str, Any]) -> dict[str, Any]:
        """POST one action table to the control endpoint; the reply, or ``{"error": ...}``."""
        if self.server is None or self.server.control_port is None:
            return {"error": "no scenario is running"}
        return await post_json(self.server.host, self.server.control_port, "/actions",
                               dict(action), token=self.server.control_token or "")

    async def get(self, path: str) -> dict[str, Any]:
        if self.server is None or self.server.control_port is None:
            return {"error": "no scenario is running"}
        return await post_json(self.server.host, self.server.control_port, path, None,
                               token=self.server.control_token or "")


CONTROL_TIMEOUT = 5.0


async def post_json(host: str, port: int, path: str,
                    body: Mapping[str, Any] | None, *, token: str) -> dict[str, Any]:
    """A minimal HTTP/1.1 client for the loopback control endpoint (GET when no body),
    with the endpoint's bearer ``token`` (``fakeserver.control`` says what it checks).

    Never hangs the caller: no answer within ``CONTROL_TIMEOUT`` is an error reply.
    """
    try:
        async with asyncio.timeout(CONTROL_TIMEOUT):
            return await _exchange(host, port, path, body, token)
    except TimeoutError:
        return {"error": f"the control endpoint did not answer within {CONTROL_TIMEOUT:g} s"}
    except OSError as exc:
        return {"error": f"cannot reach the control endpoint: {exc}"}


async def _exchange(host: str, port: int, path: str,
                    body: Mapping[str, Any] | None, token: str) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        data = b"" if body is None else json.dumps(body).encode()
        method = "GET" if body is None else "POST"
        shown_host = f"[{host}]" if ":" in host else host
        writer.write(f"{method} {path} HTTP/1.1\r\nHost: {shown_host}:{port}\r\n"
                     f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
    _, _, payload = raw.partition(b"\r\n\r\n")
    try:
        result = json.loads(payload.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"error": f"unreadable reply from the control endpoint: {raw[:80]!r}"}
    return result if isinstance(result, dict) else {"error": "reply is not a JSON object"}
