"""``inboxlab record``: a loopback proxy that writes a redacted trace of a real session.

    inboxlab record --listen 127.0.0.1:1143 --upstream imap.example.com:993 --tls

A customer's mail program (or the engine) connects to the proxy in plain text on
loopback; the proxy speaks to the real server (TLS with ``--tls``) and writes every
line both ways to a JSON-lines trace (``engine.diag.tracefile``), redacted before it is
written (``engine.diag.redact``: LOGIN, AUTHENTICATE and SASL-IR, tokens; bodies as
their size unless ``bodies=True``). It also writes how the session ended: the server's
RST (``reset``), its FIN (``eof``), or the client giving up while a command was
unanswered (``client_closed`` with ``waiting``: a silent server). ``inboxlab scenario
from-trace`` turns the file into a scenario that fails the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import ssl
import sys
import time
from pathlib import Path
from typing import TextIO

from inboxlab.engine.diag.redact import Redactor
from inboxlab.engine.diag.tracefile import LineAssembler, Record
from inboxlab.engine.errors import ConfigError
from inboxlab.engine.exitcodes import Exit
from inboxlab.engine.files import open_private
from inboxlab.engine.imap.session import is_loopback
from inboxlab.engine.listener import LocalServer

_TAGGED = re.compile(r"^(\S+) (OK|NO|BAD)\b", re.I)
_COMMAND = re.compile(r"^([A-Za-z0-9.]+) ", re.I)


class Recorder(LocalServer):
    """The proxy. ``start()`` listens; ``done`` is set when ``once`` and a session ended."""

    def __init__(self, upstream_host: str, upstream_port: int, out: str | os.PathLike[str], *,
                 listen_host: str = "127.0.0.1", listen_port: int = 0,
                 tls: bool = False, ssl_context: ssl.SSLContext | None = None,
                 bodies: bool = False, once: bool = False, secrets: tuple[str, ...] = (),
                 allow_remote_listen: bool = False) -> None:
        if not is_loopback(listen_host) and not allow_remote_listen:
            raise ConfigError(
                f"refusing to listen on {listen_host}: the proxy's client side is plain text "
                "(passwords included) and would be open to the network",
                code="record_listen_not_loopback",
                remediation="listen on 127.0.0.1 (or ::1); if you really must, pass "
                            "--allow-remote-listen")
        self.upstream = (upstream_host, upstream_port)
        self.listen = (listen_host, listen_port)
        self.tls = tls
        self._ctx = ssl_context
        self.bodies = bodies
        self.once = once
        self.secrets = secrets
        self.path = Path(out)
        self.done = asyncio.Event()
        self._fh: TextIO | None = None
        self._t0 = time.monotonic()
        self._conns = 0
        self._sessions: set[asyncio.Task[None]] = set()

    async def _open(self) -> asyncio.Server:
        fd = open_private(self.path)
        self._fh = os.fdopen(fd, "w", encoding="utf-8")
        return await asyncio.start_server(self._session, *self.listen)

    async def stop(self) -> None:
        await super().stop()
        # Sessions still running (``once``: a second connection still reaching upstream)
        # end here, not at interpreter exit, where asyncio reports a cancelled connection
        # handler as "Exception in callback ... CancelledError".
        for task in list(self._sessions):
            task.cancel()
        await asyncio.gather(*self._sessions, return_exceptions=True)
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _write(self, record: Record) -> None:
        if self._fh is not None:
            self._fh.write(record.to_json() + "\n")
            self._fh.flush()  # a killed proxy still leaves every line it saw

    def _now(self) -> float:
        return round(time.monotonic() - self._t0, 6)

    async def _session(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            await self._proxy(creader, cwriter)
        except asyncio.CancelledError:
            # Only stop() cancels a session; asyncio's stream protocol would report a
            # handler that ends cancelled as an error, so it ends normally instead.
            cwriter.close()
        finally:
            self._sessions.discard(task)

    async def _proxy(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        self._conns += 1
        conn = self._conns
        peer = cwriter.get_extra_info("peername")
        host, port = self.upstream
        try:
            ctx = (self._ctx or ssl.create_default_context()) if self.tls else None
            ureader, uwriter = await asyncio.open_connection(
                host, port, ssl=ctx, server_hostname=host if ctx else None)
        except (OSError, ssl.SSLError) as exc:
            self._write(Record(self._now(), conn, "upstream_failed", info=str(exc)))
            cwriter.close()
            self._finish()
            return
        self._write(Record(self._now(), conn, "open", info=f"{peer[0]}:{peer[1]} -> {host}:{port}"))
        redactor = Redactor(self.secrets, bodies=self.bodies)
        open_tags: set[str] = set()
        up = asyncio.create_task(self._pump(conn, ureader, cwriter, "<", redactor, open_tags))
        down = asyncio.create_task(self._pump(conn, creader, uwriter, ">", redactor, open_tags))
        try:
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if down.done() and not up.done():  # the client left first
                self._write(Record(self._now(), conn, "client_closed",
                                   waiting=bool(open_tags)))
        finally:  # stop() may cancel us while both pumps run
            for task in (up, down):
                task.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
        for w in (cwriter, uwriter):
            w.close()
            with contextlib.suppress(Exception):
                await w.wait_closed()
        self._finish()

    def _finish(self) -> None:
        if self.once:
            self.done.set()

    async def _pump(self, conn: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    direction: str, redactor: Redactor, open_tags: set[str]) -> None:
        lines = LineAssembler()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    if direction == "<":
                        self._write(Record(self._now(), conn, "eof", partial=lines.partial))
                    return
                # Record before forwarding: the trace then never misses what the other
                # side reacted to.
                for raw in lines.feed(data):
                    self._line(conn, direction, raw, redactor, open_tags)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError) as exc:
            if direction == "<":
                kind = "reset" if isinstance(exc, ConnectionResetError) else "eof"
                self._write(Record(self._now(), conn, kind, partial=lines.partial,
                                   info=type(exc).__name__))
            return

    def _line(self, conn: int, direction: str, raw: bytes, redactor: Redactor,
              open_tags: set[str]) -> None:
        # the redactor gets the bytes: literal sizes count bytes, not characters
        text = raw.decode("utf-8", "replace")
        if direction == ">":
            shown = redactor.client(raw)
            m = _COMMAND.match(text)
            if m and text.strip() != "DONE":
                open_tags.add(m.group(1))
        else:
            shown = redactor.server(raw)
            t = _TAGGED.match(text)
            if t:
                open_tags.discard(t.group(1))
        self._write(Record(self._now(), conn, "line", dir=direction, text=shown))


async def record_main(listen: str, upstream: str, out: str, *, tls: bool = False,
                      cafile: str | None = None, bodies: bool = False, once: bool = False,
                      allow_remote_listen: bool = False) -> int:
    """The CLI: run until Ctrl-C (or, with ``once``, until the first session ends)."""
    lhost, _, lport = listen.rpartition(":")
    uhost, _, uport = upstream.rpartition(":")
    if not (lport.isdigit() and uport.isdigit() and lhost and uhost):
        print("error: --listen and --upstream are HOST:PORT", flush=True)
        return Exit.USAGE
    lhost = lhost.strip("[]")
    ctx = ssl.create_default_context(cafile=cafile) if tls else None
    try:
        rec = Recorder(uhost, int(uport), out, listen_host=lhost, listen_port=int(lport),
                       tls=tls, ssl_context=ctx, bodies=bodies, once=once,
                       allow_remote_listen=allow_remote_listen)
    except ConfigError as exc:
        print(f"error: {exc.message}; {exc.remediation}", file=sys.stderr, flush=True)
        return Exit.USAGE
    if not is_loopback(lhost):
        print(f"WARNING: listening on {lhost}: anyone who can reach this port can use the "
              "proxy, and its client side is plain text (passwords included)",
              file=sys.stderr, flush=True)
    async with rec:
        print(f"recording {lhost}:{rec.port} -> {uhost}:{uport}{' (TLS)' if tls else ''} "
              f"into {out}", flush=True)
        await rec.done.wait()
    return 0


__all__ = ["Recorder", "record_main"]
