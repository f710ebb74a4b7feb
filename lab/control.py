"""A small client for the fake servers' control endpoint (``inboxlab.fakeserver.control``).

    client = lab.control                      # or ControlClient(url, token)
    client.sessions()                         # live IMAP connections
    client.action("reset", conn=3)            # POST /actions: break connection 3 now
    await client.arequest("GET", "/counters") # from async code (runs in a worker thread)

Every request carries what the endpoint demands: the bearer token, a loopback-literal
``Host`` and, on POST, ``Content-Type: application/json``. stdlib only (urllib).
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

__all__ = ["ControlClient", "ControlError"]


class ControlError(Exception):
    """The endpoint answered with an error: ``status`` and its own words (``reason``)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"control endpoint answered {status}: {reason}")
        self.status = status
        self.reason = reason


class ControlClient:
    """Requests to one running lab's control endpoint. The token never shows in ``repr``."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ControlClient({self.url!r}, token=[hidden])"

    @property
    def token(self) -> str:
        """The bearer token (for a hand-written request, e.g. ``curl -H``)."""
        return self._token

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One request; the decoded JSON reply. ControlError on a non-2xx answer."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/" + path.lstrip("/"), data=data,
                                     method=method.upper())
        req.add_header("Authorization", f"Bearer {self._token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            try:
                reason = str(json.loads(err.read()).get("error", err.reason))
            except ValueError:
                reason = str(err.reason)
            raise ControlError(err.code, reason) from None

    async def arequest(self, method: str, path: str, body: Any = None) -> Any:
        """``request`` from async code, in a worker thread: the event loop (which may be
        the one serving the lab) keeps running meanwhile."""
        return await asyncio.to_thread(self.request, method, path, body)

    def sessions(self) -> list[dict[str, Any]]:
        """Live IMAP connections: conn, peer, tls, bytes each way, user, state."""
        found: list[dict[str, Any]] = self.request("GET", "/sessions")["sessions"]
        return found

    def counters(self) -> dict[str, int]:
        """Connections, commands, logins, fired actions, resets... by name."""
        found: dict[str, int] = self.request("GET", "/counters")["counters"]
        return found

    def events(self) -> list[dict[str, Any]]:
        """What fired so far: time, event name, action, connection."""
        found: list[dict[str, Any]] = self.request("GET", "/events")["events"]
        return found

    def action(self, type: str, *, conn: int | None = None, **keys: Any) -> dict[str, Any]:
        """Run one action now (the keys of a scenario timeline action table); ``conn``
        targets one connection (default: every live connection / the whole server)."""
        body: dict[str, Any] = {"type": type, **keys}
        if conn is not None:
            body["conn"] = conn
        reply: dict[str, Any] = self.request("POST", "/actions", body)
        return reply
