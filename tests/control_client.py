"""The tests' client for the fake servers' control endpoint (one copy for every test).

Every request carries what the endpoint demands (``fakeserver.control``): the bearer
token the server minted, a loopback-literal ``Host`` (urllib sends ``127.0.0.1:PORT``),
and ``Content-Type: application/json`` on POST. ``headers`` adds or overrides headers
(``None`` as a value removes one), for the tests that check the refusals.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Protocol


class HasControl(Protocol):
    @property
    def control_port(self) -> int | None: ...

    @property
    def control_token(self) -> str | None: ...


def control_headers(srv: HasControl) -> dict[str, str]:
    return {"Authorization": f"Bearer {srv.control_token}", "Content-Type": "application/json"}


def raw_headers(srv: HasControl) -> bytes:
    """The same headers for a hand-written request (``Host`` included)."""
    lines = [f"Host: 127.0.0.1:{srv.control_port}"]
    lines += [f"{k}: {v}" for k, v in control_headers(srv).items()]
    return ("\r\n".join(lines) + "\r\n").encode()


def control_request(srv: HasControl, method: str, path: str, body: Any = None, *,
                    headers: dict[str, str | None] | None = None,
                    timeout: float = 10.0) -> tuple[int, Any]:
    """One request; (status, decoded JSON reply)."""
    assert srv.control_port is not None, "the scenario runs without a control endpoint"
    data = None if body is None else json.dumps(body).encode()
    merged: dict[str, str | None] = {**control_headers(srv), **(headers or {})}
    request = urllib.request.Request(f"http://127.0.0.1:{srv.control_port}{path}", data=data,
                                     method=method)
    for name, value in merged.items():
        if value is not None:
            request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def post_action(srv: HasControl, body: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """POST /actions, expecting 200; the reply."""
    status, reply = control_request(srv, "POST", "/actions", body, timeout=timeout)
    assert status == 200, (status, reply)
    result: dict[str, Any] = reply
    return result


__all__ = ["control_headers", "control_request", "post_action", "raw_headers"]
