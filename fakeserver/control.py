"""The runtime control endpoint: small JSON over HTTP/1.1 on loopback, asyncio streams only.

Lets the TUI, a test or ``curl`` break a running scenario on demand::

    GET  /            endpoints and the list of routes
    GET  /sessions    live connections: number, peer, TLS, bytes each way, user, state
    GET  /counters    counters (connections, commands, logins, fired actions, resets...)
    GET  /events      what fired so far: time, event name, action, connection
    POST /actions     {"type": "reset", "conn": 3, ...}: run one action now; the body is a
                      timeline action table (same keys as in a scenario file) plus an
                      optional "conn" (omitted: every live connection / the whole server)

Replies are JSON; errors are ``{"error": "..."}`` with 400/404/405/408/413, 409 when the
store refused the action (a folder gone) and 500 when it failed otherwise: every request
is answered, within a deadline, whatever the action did. Loopback only: the
server refuses to bind elsewhere and drops requests from non-loopback peers. One request
per connection (``Connection: close``), bodies up to 64 KiB.

A web page in the user's browser can reach loopback too (a cross-site form POST, or DNS
rebinding an attacker's name to 127.0.0.1), so every request must also:

- carry ``Authorization: Bearer <token>``, the random token minted at start and printed
  by ``inboxlab fakeserver serve`` with the endpoints (401 without it);
- name a loopback address literal in ``Host`` (``127.0.0.1:PORT``, ``[::1]:PORT``): a
  rebound name is refused (403);
- have no ``Origin`` header: browsers send one on cross-origin requests, our clients
  never do (403);
- for POST, say ``Content-Type: application/json`` (415): a form cannot.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import secrets
from typing import TYPE_CHECKING, Any, Protocol

from inboxlab.fakeserver.errors import FakeServerError, ScenarioError
from inboxlab.fakeserver.scenario import actions as act
from inboxlab.fakeserver.scenario.model import COMMAND_BOUND
from inboxlab.fakeserver.scenario.reader import Context, Table

if TYPE_CHECKING:
    from inboxlab.fakeserver.faults.proxy import FaultProxy
    from inboxlab.fakeserver.imap.hooks import ConnectionInfo
    from inboxlab.fakeserver.imap.server import FakeImapServer
    from inboxlab.fakeserver.scenario.model import Scenario
    from inboxlab.fakeserver.scenario.runtime import ScenarioRuntime

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
READ_DEADLINE_S = 10.0  # the whole request must arrive within this
WRITE_DEADLINE_S = 10.0  # and the reply must be taken within this
ROUTES = ("GET /", "GET /sessions", "GET /counters", "GET /events", "POST /actions")
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
            409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type",
            500: "Internal Server Error"}
MAX_HEADERS = 64


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _is_loopback_literal(host_header: str) -> bool:
    """``Host``: a loopback IP literal with an optional port (no names: names rebind)."""
    host = host_header.strip()
    if host.startswith("["):
        host = host[1:host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Controlled(Protocol):
    """What the endpoint reads and drives of a running scenario (``ScenarioServer``, which
    starts this endpoint: it imports this module, so this module names only its surface)."""

    scenario: Scenario
    runtime: ScenarioRuntime
    proxy: FaultProxy | None
    imap: FakeImapServer | None

    def endpoints(self) -> dict[str, object]: ...

    def peer_port(self, conn: ConnectionInfo) -> int | None: ...


class ControlServer:
    """Serves the control API for one ``ScenarioServer``."""

    def __init__(self, served: Controlled, *, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None) -> None:
        if not _is_loopback(host):
            raise ValueError(f"the control endpoint only binds to loopback, not {host!r}")
        self.token = token or secrets.token_urlsafe(24)
        self.served = served
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    # -- HTTP -----------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer one request, whatever happens: a JSON reply or, at worst, a closed socket.

        Reading the request and writing the reply each have a deadline, and an action
        that fails becomes a JSON error: a client is never left waiting on this socket.
        """
        try:
            status, payload = await self._answer(reader, writer)
            data = json.dumps(payload, indent=1, sort_keys=True, default=str).encode() + b"\n"
            head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                    "Connection: close\r\n\r\n").encode()
            with contextlib.suppress(ConnectionError, TimeoutError):
                writer.write(head + data)
                await asyncio.wait_for(writer.drain(), timeout=WRITE_DEADLINE_S)
        except Exception:  # a bug here must cost one request, never leave it hanging
            log.exception("control: request failed")
        finally:
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> tuple[int, Any]:
        peer = writer.get_extra_info("peername")
        try:
            if not peer or not _is_loopback(str(peer[0])):
                raise HttpError(400, "loopback clients only")
            try:
                method, path, headers, body = await asyncio.wait_for(
                    self._read(reader), timeout=READ_DEADLINE_S)
            except TimeoutError:
                raise HttpError(408, f"request not received within {READ_DEADLINE_S:g} s"
                                ) from None
            except (asyncio.IncompleteReadError, ConnectionError):
                raise HttpError(400, "the request ended early") from None
            except ValueError:  # StreamReader: a line over its limit
                raise HttpError(413, "request line or header too long") from None
            self.check(method, headers)
            return 200, self.route(method, path, body)
        except HttpError as exc:
            return exc.status, {"error": str(exc)}
        except FakeServerError as exc:  # the action ran and the store refused it
            return 409, {"error": f"the action failed: {exc.text}", "code": exc.code}
        except Exception as exc:
            log.exception("control: %s failed", type(exc).__name__)
            return 500, {"error": f"the action failed: {type(exc).__name__}: {exc}"}

    async def _read(self, reader: asyncio.StreamReader
                    ) -> tuple[str, str, dict[str, str], bytes]:
        request = (await reader.readline()).decode("latin-1").strip()
        parts = request.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise HttpError(400, f"not an HTTP/1.x request line: {request[:80]!r}")
        headers: dict[str, str] = {}
        while True:
            line = (await reader.readline()).decode("latin-1")
            if line in ("\r\n", "\n", ""):
                break
            if len(headers) >= MAX_HEADERS:
                raise HttpError(413, f"more than {MAX_HEADERS} headers")
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise HttpError(400, "bad Content-Length") from None
        if not 0 <= length <= MAX_BODY:
            raise HttpError(413, f"body larger than {MAX_BODY} bytes")
        body = await reader.readexactly(length) if length else b""
        return parts[0].upper(), parts[1].split("?", 1)[0], headers, body

    def check(self, method: str, headers: dict[str, str]) -> None:
        """What a browser page cannot forge (see the module docstring); raises HttpError."""
        if "origin" in headers:
            raise HttpError(403, "requests with an Origin header (from a web page) are refused")
        if not _is_loopback_literal(headers.get("host", "")):
            raise HttpError(403, "Host must be a loopback address literal such as "
                                 "127.0.0.1:PORT")
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), self.token.encode()):
            raise HttpError(401, "missing or wrong token: send 'Authorization: Bearer TOKEN' "
                                 "(printed by 'inboxlab fakeserver serve')")
        if method == "POST" and headers.get("content-type", "").split(";")[0].strip().lower() \
                != "application/json":
            raise HttpError(415, "POST bodies must be sent as Content-Type: application/json")

    # -- routes ---------------------------------------------------------------------------

    def route(self, method: str, path: str, body: bytes) -> Any:
        """Dispatch one request (also callable directly from tests)."""
        path = path.rstrip("/") or "/"
        get = {"/": self._index, "/sessions": self.sessions, "/counters": self.counters,
               "/events": self.events}
        if path in get:
            if method != "GET":
                raise HttpError(405, f"{path} answers GET")
            return get[path]()
        if path == "/actions":
            if method != "POST":
                raise HttpError(405, "/actions answers POST")
            return self.post_action(body)
        raise HttpError(404, f"no route {path}; routes: {', '.join(ROUTES)}")

    def _index(self) -> Any:
        return {"endpoints": self.served.endpoints(), "routes": list(ROUTES),
                "action_types": sorted(act.ACTION_TYPES)}

    def sessions(self) -> Any:
        proxy, imap = self.served.proxy, self.served.imap
        by_port: dict[int, Any] = {}
        if imap is not None:
            for conn in imap.connections.values():
                port = self.served.peer_port(conn.info)
                if port is not None:
                    by_port[port] = conn.session
        out = []
        for link in (proxy.links.values() if proxy else ()):
            session = by_port.get(link.upstream_port)
            account = getattr(session, "account", None)
            state = getattr(session, "state", None)
            out.append({
                "conn": link.conn_id, "peer": link.peer, "tls": link.tls,
                "bytes_to_client": link.totals["to_client"],
                "bytes_to_server": link.totals["to_server"],
                "user": getattr(account, "username", None),
                "state": str(getattr(state, "value", state)) if state is not None else None,
            })
        return {"sessions": sorted(out, key=lambda s: s["conn"])}

    def counters(self) -> Any:
        runtime = self.served.runtime
        counters = dict(runtime.counters)
        if self.served.proxy is not None:
            counters.update({f"proxy.{k}": v for k, v in self.served.proxy.counters.items()})
            counters["proxy.live"] = len(self.served.proxy.links)
            counters["proxy.down"] = int(self.served.proxy.is_down)
        return {"counters": dict(sorted(counters.items()))}

    def events(self) -> Any:
        return {"events": [vars(r) for r in self.served.runtime.fired]}

    def post_action(self, body: bytes) -> Any:
        try:
            data = json.loads(body.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HttpError(400, f"body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise HttpError(400, "body must be a JSON object")
        conn = data.pop("conn", None)
        if conn is not None and (not isinstance(conn, int) or isinstance(conn, bool)):
            raise HttpError(400, "conn must be a connection number")
        proxy = self.served.proxy
        if conn is not None and (proxy is None or conn not in proxy.links):
            raise HttpError(404, f"no live connection {conn}")
        ctx = Context("<control>", json.dumps(data))
        try:
            action = act.parse(Table(data, ("action",), ctx), self.served.scenario.accounts)
        except ScenarioError as exc:
            raise HttpError(400, f"{exc.location}: {exc.what}") from None
        if isinstance(action, COMMAND_BOUND):
            raise HttpError(400, f"{data.get('type')} answers a command: script it in the "
                                 "timeline with a command trigger instead")
        self.served.runtime.fire(action, conn=conn)
        return {"ok": True, "action": type(action).__name__, "conn": conn}
