"""The fake provider's token endpoint on loopback (asyncio, stdlib only), and a token command.

    POST /token        grant_type=refresh_token&refresh_token=R   (RFC 6749 6)
                       -> 200 {"access_token", "token_type", "expires_in", "scope"}
                       -> 400 {"error": "invalid_grant", "error_description"}  (RFC 6749 5.2)
    POST /introspect   token=T                                      (RFC 7662)
    GET  /introspect?token=T  or  Authorization: Bearer T
                       -> 200 {"active": true, "username", "scope", ...} | {"active": false}

Introspection is what Dovecot's oauth2 passdb calls (``introspection_mode = post``) to
validate the tokens it is handed. The endpoint listens on loopback only and answers one
request per connection (``Connection: close``); the issuer behind it is the store's
``fakeserver.oauth.TokenIssuer``.

``python -m inboxlab.fakeserver.oauth_http URL --refresh-token R`` is a token command (mbsync's
``PassCmd`` idea): it prints a fresh access token, or the endpoint's error on stderr with
exit status 1 (``invalid_grant`` when the grant was revoked).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from inboxlab.fakeserver.lifecycle import Served
from inboxlab.fakeserver.oauth import GrantRefused, TokenIssuer

MAX_REQUEST = 64 * 1024


class TokenEndpoint(Served):
    """``async with TokenEndpoint(issuer) as ep: ep.url`` -> ``http://127.0.0.1:PORT``."""

    def __init__(self, issuer: TokenIssuer, *, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the fake token endpoint listens on loopback only")
        self.issuer = issuer
        self.host = host
        self.port = port
        self.requests = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"TokenEndpoint({self.url})"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                status, body = await self._answer(reader)
        except (TimeoutError, ValueError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, ConnectionError):
            status, body = 400, {"error": "invalid_request"}
        data = json.dumps(body).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
        head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nCache-Control: no-store\r\n"
                "Connection: close\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            writer.write(head.encode() + data)
            await writer.drain()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, object]]:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_REQUEST:
            raise ValueError("request head too large")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (ln.partition(":") for ln in lines[1:] if ln)}
        length = int(headers.get("content-length", "0") or 0)
        if not 0 <= length <= MAX_REQUEST:
            raise ValueError("bad Content-Length")
        body = (await reader.readexactly(length)).decode("utf-8") if length else ""
        self.requests += 1
        path, _, query = target.partition("?")
        form = dict(urllib.parse.parse_qsl(body if method == "POST" else query))
        if path == "/token" and method == "POST":
            return self._token(form)
        if path == "/introspect":
            auth = headers.get("authorization", "")
            token = form.get("token") or form.get("access_token") or (
                auth[7:].strip() if auth.lower().startswith("bearer ") else "")
            return 200, self.issuer.introspect(token)
        return 404, {"error": "not_found"}

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, object]]:
        if form.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type"}
        try:
            token = self.issuer.issue(form.get("refresh_token", ""))
        except GrantRefused as exc:
            return 400, {"error": exc.error, "error_description": exc.description}
        return 200, {"access_token": token.value, "token_type": "Bearer",
                     "expires_in": int(self.issuer.lifetime), "scope": token.scope}


def fetch_token(url: str, refresh_token: str, timeout: float = 10.0) -> str:
    """Ask the endpoint at ``url`` for an access token; GrantRefused on its error."""
    data = urllib.parse.urlencode({"grant_type": "refresh_token",
                                   "refresh_token": refresh_token}).encode()
    request = urllib.request.Request(url.rstrip("/") + "/token", data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
        raise GrantRefused(str(body.get("error", exc.code)),
                           str(body.get("error_description", ""))) from None
    return str(body["access_token"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inboxlab.fakeserver.oauth_http",
                                     description="print a fresh access token (a token command)")
    parser.add_argument("url", help="the fake token endpoint, e.g. http://127.0.0.1:8080")
    parser.add_argument("--refresh-token", required=True)
    args = parser.parse_args(argv)
    try:
        print(fetch_token(args.url, args.refresh_token))
    except GrantRefused as exc:
        print(f"error: {exc.error}: {exc.description}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: the token endpoint is unreachable: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["TokenEndpoint", "fetch_token", "main"]
