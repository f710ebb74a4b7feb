"""Serve a scenario: the fake IMAP server behind the fault proxy, SMTP, timer, control.

    async with ScenarioServer(load("scenarios/demo.toml")) as srv:
        imaplib.IMAP4(srv.host, srv.port)  # through the proxy, faults and all

Clients connect to the proxy's ports (``port``, ``tls_port``); the IMAP server itself
listens on private loopback ports behind it. Everything starts or nothing does: if a
piece fails to start, the ones already running are stopped before the error surfaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from inboxlab.fakeserver.control import ControlServer
from inboxlab.fakeserver.faults.proxy import FaultProxy
from inboxlab.fakeserver.imap.hooks import ConnectionInfo
from inboxlab.fakeserver.imap.server import FakeImapServer
from inboxlab.fakeserver.lifecycle import Served
from inboxlab.fakeserver.oauth_http import TokenEndpoint
from inboxlab.fakeserver.scenario.model import Scenario
from inboxlab.fakeserver.scenario.runtime import ScenarioRuntime
from inboxlab.fakeserver.smtp.server import FakeSmtpServer
from inboxlab.fakeserver.store import Store
from inboxlab.fakeserver.tls import LOOPBACK_NAMES, TlsMaterial, mint


class ScenarioServer(Served):
    """One running scenario. ``control_port=None`` disables the control endpoint.

    ``transcripts=True`` keeps every connection's (redacted) bytes in
    ``runtime.transcripts``, for determinism tests; off by default, as a long-running
    server would otherwise hold every byte it ever sent.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_port: int = 0,
        control_port: int | None = 0,
        smtp: bool = True,
        clock: Callable[[], float] = time.monotonic,
        tls_dir: Path | None = None,
        transcripts: bool = False,
    ) -> None:
        self.scenario = scenario
        self.host = host
        self.runtime = ScenarioRuntime(scenario, clock=clock, record_transcripts=transcripts)
        self._want = (port, tls_port, control_port, smtp)
        self._tls_dir = tls_dir
        self.imap: FakeImapServer | None = None
        self.proxy: FaultProxy | None = None
        self.smtp: FakeSmtpServer | None = None
        self.control: ControlServer | None = None
        self.oauth: TokenEndpoint | None = None  # when the server offers XOAUTH2/OAUTHBEARER
        self.tls: TlsMaterial | None = None
        self._timer: asyncio.Task[None] | None = None
        self._owned_tls_dir: Path | None = None  # the CA's temp dir, removed at stop

    # -- endpoints ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self.proxy is not None, "start the scenario first"
        return self.proxy.port

    @property
    def tls_port(self) -> int:
        assert self.proxy is not None, "start the scenario first"
        return self.proxy.tls_port

    @property
    def store(self) -> Store:
        assert self.imap is not None, "start the scenario first"
        return self.imap.store

    @property
    def ca_pem_path(self) -> Path:
        assert self.tls is not None, "start the scenario first"
        return self.tls.ca_pem_path

    @property
    def control_port(self) -> int | None:
        return None if self.control is None else self.control.port

    @property
    def control_token(self) -> str | None:
        """The bearer token every control request must carry (None without control)."""
        return None if self.control is None else self.control.token

    def peer_port(self, conn: ConnectionInfo) -> int | None:
        """The remote port of the server's connection ``conn`` (our proxy's upstream socket)."""
        served = self.imap.connections.get(conn.conn_id) if self.imap else None
        if served is None:
            return None
        peer = served.writer.get_extra_info("peername")
        return int(peer[1]) if peer else None

    def endpoints(self) -> dict[str, object]:
        """Everything a client needs, as plain data (printed by the CLI, served by control)."""
        out: dict[str, object] = {
            "scenario": self.scenario.name,
            "host": self.host,
            "imap_port": self.port,
            "imaps_port": self.tls_port,
            "ca_file": str(self.ca_pem_path),
            "accounts": [a.username for a in self.scenario.accounts],
        }
        if self.smtp is not None:
            out["smtp_port"] = self.smtp.port
            out["smtps_port"] = self.smtp.tls_port
        if self.control_port is not None:
            out["control"] = f"http://{self.host}:{self.control_port}/"
            out["control_token"] = self.control_token
        if self.oauth is not None:
            out["token_endpoint"] = self.oauth.url
            out["token_commands"] = {a.username: shlex.join(self.token_command(a.username))
                                     for a in self.scenario.accounts}
        return out

    @property
    def oauth_mechanisms(self) -> tuple[str, ...]:
        caps = self.scenario.config.capabilities
        return tuple(m for m, on in (("XOAUTH2", caps.xoauth2),
                                     ("OAUTHBEARER", caps.oauthbearer)) if on)

    def token_command(self, user: str) -> list[str]:
        """A token command for ``user`` (prints a fresh access token from our endpoint)."""
        assert self.oauth is not None, "the scenario's server offers no OAuth mechanism"
        return [sys.executable, "-m", "inboxlab.fakeserver.oauth_http", self.oauth.url,
                "--refresh-token", self.store.oauth.refresh_token(user)]

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        port, tls_port, control_port, want_smtp = self._want
        try:
            names = (self.host, *LOOPBACK_NAMES)
            if self._tls_dir is None:
                self._owned_tls_dir = Path(tempfile.mkdtemp(prefix="inboxlab-tls-"))
            self.tls = mint(self._tls_dir or self._owned_tls_dir, names=names,
                            wrong_hostname=self.scenario.wrong_hostname)
            self.imap = FakeImapServer(self.scenario.config, host=self.host, port=0, tls_port=0,
                                       hooks=self.runtime, tls=self.tls)
            await self.imap.start()
            self.runtime.store = self.imap.store
            self.runtime.peer_port = self.peer_port
            imap = self.imap
            self.runtime.server_connections = lambda: list(imap.connections.values())
            assert self.imap.tls_port is not None
            self.proxy = FaultProxy(upstream_host=self.host, upstream_port=self.imap.port,
                                    upstream_tls_port=self.imap.tls_port, host=self.host,
                                    observer=self.runtime)
            self.runtime.proxy = self.proxy
            await self.proxy.start(port, tls_port)
            if self.oauth_mechanisms:
                self.oauth = TokenEndpoint(self.imap.store.oauth, host=self.host)
                await self.oauth.start()
            if want_smtp and self.scenario.smtp is not None:
                caps = self.scenario.config.capabilities
                self.smtp = FakeSmtpServer.for_store(
                    self.scenario.smtp, self.imap.store, tls=self.tls,
                    oauth_mechanisms=self.oauth_mechanisms,
                    oauth_style=self.scenario.config.oauth_errors, basic_auth=caps.basic_auth)
                await self.smtp.start()
            if control_port is not None:
                control = ControlServer(self, host=self.host, port=control_port)
                await control.start()
                self.control = control
            self._timer = asyncio.ensure_future(self._run_timer())
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        stop = getattr(self.control, "stop", None)
        if stop is not None:
            await stop()
        self.control = None
        if self.smtp is not None:
            await self.smtp.stop()
            self.smtp = None
        if self.oauth is not None:
            await self.oauth.stop()
            self.oauth = None
        if self.proxy is not None:
            await self.proxy.stop()
        if self.imap is not None:
            await self.imap.stop()
        if self._owned_tls_dir is not None:
            shutil.rmtree(self._owned_tls_dir, ignore_errors=True)
            self._owned_tls_dir = None

    async def _run_timer(self) -> None:
        """Fire time triggers at their deadlines (the clock is the runtime's, injected)."""
        while True:
            deadline = self.runtime.tick()
            if deadline is None:
                return
            await asyncio.sleep(max(0.0, deadline - self.runtime.now()))
