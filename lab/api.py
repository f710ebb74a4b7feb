"""The lab as a library: a scenario's fake IMAP/SMTP servers, started from Python.

    async with Lab("no-special-use") as lab:      # on the running event loop
        ...
    with Lab("reset-mid-fetch") as lab:           # blocking: the servers get their own thread
        imaplib.IMAP4_SSL(lab.imaps.host, lab.imaps.port, ssl_context=lab.ssl_context())

A ``Lab`` serves one scenario (a bundled name such as ``"demo"``, or a TOML file) on
loopback, on free ports, with a private state directory (the throwaway CA), and offers
what a test needs: the endpoints, the CA file, the login, the control client, and helpers
to deliver a message, fire a fault, read the SMTP outbox, read a folder, and wait for a
condition with a deadline. Helpers are plain calls; in the blocking form they run on the
lab's thread (so they are safe from any thread), in the async form on the caller's loop.

This module and its package's ``__all__`` are the stable surface
(tests/lab/test_lab_api_compat.py lists every documented name); the classes behind it
(``inboxlab.fakeserver.scenario.serve.ScenarioServer``...) are internal and may change.
Importing this module is cheap: the servers are imported when a lab starts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.policy
import ipaddress
import json
import os
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

from inboxlab.lab.control import ControlClient
from inboxlab.lab.data import (
    Endpoint,
    FolderState,
    Login,
    MessageState,
    SentMessage,
    ServerSession,
)
from inboxlab.lab.errors import (
    ActionRefused,
    LabError,
    LabStartError,
    ScenarioInvalid,
    WaitTimeout,
)

if TYPE_CHECKING:
    from inboxlab.fakeserver.scenario.serve import ScenarioServer
    from inboxlab.fakeserver.store import Account

__all__ = ["Lab"]

T = TypeVar("T")

START_TIMEOUT_S = 60.0  # a 100k-message scenario generates lazily; start is quick
CALL_TIMEOUT_S = 30.0   # one helper call marshalled onto the lab's thread
_POLL_S = 0.01          # between two looks at a condition (not a wait for an outcome)


def _as_bytes(message: bytes | str | Message) -> bytes:
    if isinstance(message, Message):
        return message.as_bytes(policy=email.policy.SMTP)
    if isinstance(message, str):
        message = message.encode("utf-8")
    if not isinstance(message, bytes | bytearray):
        raise TypeError(f"a message is bytes, str or email.message.Message, "
                        f"not {type(message).__name__}")
    # the server stores what it is given; IMAP wants CRLF line ends
    return bytes(message).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class Lab:
    """One running scenario: ``async with Lab(...)`` or ``with Lab(...)`` (blocking).

    ``scenario``: a bundled scenario name (``inboxlab scenario list``) or a TOML file.
    ``state_dir``: where the lab keeps its files (the CA); a fresh temporary directory,
    removed at stop, when None. ``host`` must be loopback: the control endpoint can break
    sessions and the demo password is public. Ports are free ports unless given.
    ``control=False`` leaves out the HTTP control endpoint (``fire`` still works).
    """

    def __init__(self, scenario: str | os.PathLike[str] = "demo", *, host: str = "127.0.0.1",
                 imap_port: int = 0, imaps_port: int = 0, control: bool = True,
                 state_dir: str | os.PathLike[str] | None = None) -> None:
        self._scenario_ref = os.fspath(scenario)
        self._host = host
        self._ports = (imap_port, imaps_port)
        self._control_on = control
        self._state_dir = None if state_dir is None else Path(state_dir)
        self._srv: ScenarioServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None

    def __repr__(self) -> str:
        where = f" imap={self.imap} imaps={self.imaps}" if self._srv is not None else ""
        return f"Lab({self._scenario_ref!r}{where})"

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the scenario (ScenarioInvalid before any socket opens), then start every
        server on the running loop (LabStartError when one cannot)."""
        if self._srv is not None:
            raise LabError("this lab is already running")
        self._check_address()
        from inboxlab.fakeserver.errors import ScenarioError
        from inboxlab.fakeserver.scenario.load import load
        from inboxlab.fakeserver.scenario.serve import ScenarioServer
        from inboxlab.scenarios import path_of

        try:
            scenario = load(path_of(self._scenario_ref))
        except (FileNotFoundError, ScenarioError) as exc:
            raise ScenarioInvalid(str(exc)) from exc
        if self._state_dir is not None:
            self._state_dir.mkdir(parents=True, exist_ok=True)
        imap_port, imaps_port = self._ports
        srv = ScenarioServer(scenario, host=self._host, port=imap_port, tls_port=imaps_port,
                             control_port=0 if self._control_on else None,
                             tls_dir=self._state_dir)
        try:
            await srv.start()
        except (OSError, ValueError) as exc:  # a port in use; a non-loopback control host
            raise LabStartError(f"cannot serve {scenario.name!r} on {self._host}: {exc}"
                                ) from exc
        self._srv = srv
        self._loop = asyncio.get_running_loop()

    def _check_address(self) -> None:
        if not _is_loopback(self._host):
            raise LabStartError(
                f"{self._host!r}: the lab listens on loopback only (127.0.0.1, ::1, localhost): "
                "its control endpoint can break sessions and the demo password is public")
        for name, port in zip(("imap_port", "imaps_port"), self._ports, strict=True):
            if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
                raise LabStartError(f"{name} {port!r} is not a TCP port (0-65535; 0 = any free)")

    async def stop(self) -> None:
        """Stop every server and close every connection (idempotent)."""
        srv, self._srv = self._srv, None
        if srv is not None:
            await srv.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __enter__(self) -> Self:
        """Blocking form: the servers run on a thread of their own with their own loop."""
        if self._thread is not None or self._srv is not None:
            raise LabError("this lab is already running")
        started: concurrent.futures.Future[None] = concurrent.futures.Future()

        async def serve() -> None:
            self._stopping = asyncio.Event()
            try:
                await self.start()
            except BaseException as exc:
                started.set_exception(exc)
                return
            started.set_result(None)
            try:
                await self._stopping.wait()
            finally:
                await self.stop()

        self._thread = threading.Thread(target=asyncio.run, args=(serve(),),
                                        name=f"inboxlab-lab-{self._scenario_ref}", daemon=True)
        self._thread.start()
        try:
            started.result(timeout=START_TIMEOUT_S)
        except BaseException:
            self._thread.join(timeout=START_TIMEOUT_S)
            self._thread = None
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None or stopping is None:
            return
        loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=START_TIMEOUT_S)
        self._thread = None
        if thread.is_alive():
            raise LabError(f"the lab's thread did not stop within {START_TIMEOUT_S:g} s")

    # -- endpoints ------------------------------------------------------------------------

    def _server(self) -> ScenarioServer:
        if self._srv is None:
            raise LabError("the lab is not running: use `async with Lab(...)` or "
                           "`with Lab(...)` first")
        return self._srv

    @property
    def running(self) -> bool:
        return self._srv is not None

    @property
    def scenario(self) -> str:
        """The scenario's name (its ``name`` key, or the file's stem)."""
        return self._server().scenario.name

    @property
    def description(self) -> str:
        return self._server().scenario.description

    @property
    def profile(self) -> str:
        """The server profile the scenario uses (dovecot, gmail, generic-no-special-use...)."""
        return self._server().scenario.profile.name

    @property
    def host(self) -> str:
        return self._host

    @property
    def imap(self) -> Endpoint:
        """IMAP, plain (STARTTLS when the profile offers it), through the fault proxy."""
        return Endpoint(self._host, self._server().port, tls=False)

    @property
    def imaps(self) -> Endpoint:
        """IMAP over implicit TLS, through the fault proxy."""
        return Endpoint(self._host, self._server().tls_port, tls=True)

    @property
    def smtp(self) -> Endpoint | None:
        """SMTP submission (STARTTLS; AUTH needs TLS), or None when the scenario has none."""
        smtp = self._server().smtp
        return None if smtp is None else Endpoint(smtp.host, smtp.port, tls=False)

    @property
    def smtps(self) -> Endpoint | None:
        """SMTP over implicit TLS, or None."""
        smtp = self._server().smtp
        if smtp is None or smtp.tls_port is None:
            return None
        return Endpoint(smtp.host, smtp.tls_port, tls=True)

    @property
    def ca_file(self) -> Path:
        """The PEM file of the lab's throwaway CA: trust it to verify every server."""
        return self._server().ca_pem_path

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only the lab's CA (hostname checked)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    @property
    def logins(self) -> tuple[Login, ...]:
        return tuple(Login(a.username, a.password) for a in self._server().scenario.accounts)

    @property
    def login(self) -> Login:
        """The scenario's first account."""
        return self.logins[0]

    @property
    def control(self) -> ControlClient:
        """An HTTP client for the control endpoint (LabError with ``control=False``)."""
        srv = self._server()
        if srv.control_port is None or srv.control_token is None:
            raise LabError("this lab runs without its control endpoint (control=False)")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return ControlClient(f"http://{host}:{srv.control_port}/", srv.control_token)

    @property
    def token_endpoint(self) -> str | None:
        """The OAuth token endpoint's URL when the scenario's server offers OAuth."""
        oauth = self._server().oauth
        return None if oauth is None else oauth.url

    def token_command(self, user: str | None = None) -> list[str]:
        """A command printing a fresh OAuth access token for ``user`` (first account)."""
        srv = self._server()
        if srv.oauth is None:
            raise LabError(f"scenario {srv.scenario.name!r} offers no OAuth mechanism")
        return srv.token_command(user or self.login.username)

    # -- helpers --------------------------------------------------------------------------

    def _call(self, fn: Callable[[ScenarioServer], T]) -> T:
        """Run ``fn`` where the servers live: directly on their loop's thread, else
        marshalled onto it (the blocking form) and waited for."""
        srv = self._server()
        thread, loop = self._thread, self._loop
        if thread is None or threading.current_thread() is thread or loop is None:
            return fn(srv)
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(fn(srv))
            except BaseException as exc:
                done.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return done.result(timeout=CALL_TIMEOUT_S)

    def _account(self, srv: ScenarioServer, user: str | None) -> Account:
        name = user or self.login.username
        for username, account in srv.store.accounts.items():
            if username.lower() == name.lower():
                return account
        raise ActionRefused(f"{name!r} is not an account of scenario {srv.scenario.name!r}; "
                            f"accounts: {', '.join(sorted(srv.store.accounts))}")

    def deliver(self, message: bytes | str | Message, *, folder: str = "INBOX",
                user: str | None = None, flags: Iterable[str] = (),
                when: datetime | None = None) -> int:
        """Put a message into ``folder`` of ``user`` (first account) as if it had arrived;
        sessions that watch the folder (IDLE, NOOP) see it. Returns its UID."""
        raw = _as_bytes(message)
        wanted = frozenset(flags)

        def go(srv: ScenarioServer) -> int:
            account = self._account(srv, user)
            target = account.folder(folder)
            if target is None:
                raise ActionRefused(f"{account.username} has no folder {folder!r}; folders: "
                                    f"{', '.join(sorted(account.folders))}")
            return target.append(raw, wanted, when)

        return self._call(go)

    def fire(self, type: str, *, conn: int | None = None, **keys: Any) -> None:
        """Run one action now, as the control endpoint would: ``type`` and ``keys`` are a
        scenario timeline action table (``fire("reset", direction="to_client")``,
        ``fire("bye", text="...")``, ``fire("deliver", count=3)``); ``conn`` targets one
        connection (``sessions()``), default every live one / the whole server."""
        body: dict[str, Any] = {"type": type, **keys}
        if conn is not None:
            body["conn"] = conn

        def go(srv: ScenarioServer) -> None:
            from inboxlab.fakeserver.control import ControlServer, HttpError

            try:
                (srv.control or ControlServer(srv)).post_action(json.dumps(body).encode())
            except HttpError as exc:
                raise ActionRefused(str(exc)) from None

        self._call(go)

    def smtp_fault(self, kind: str, stage: str, *, times: int = 1,
                   message: str | None = None) -> None:
        """Arm an SMTP fault: ``kind`` (421, 451, 535, 552, drop_mid_data, drop_after_data,
        stall_after_data) at ``stage`` (connect, ehlo, auth, mail, rcpt, data) for the next
        ``times`` arrivals there; ``message`` replaces the server's default words."""

        def go(srv: ScenarioServer) -> None:
            from inboxlab.fakeserver.errors import ScenarioError
            from inboxlab.fakeserver.smtp.config import SmtpFault

            if srv.smtp is None:
                raise ActionRefused(f"scenario {srv.scenario.name!r} has no SMTP server")
            try:
                fault = SmtpFault(kind, stage, times, message)  # type: ignore[arg-type]
            except ScenarioError as exc:
                raise ActionRefused(str(exc)) from None
            srv.smtp.faults.arm(fault)

        self._call(go)

    def outbox(self, rcpt: str | None = None, *, kind: str | None = "outside"
               ) -> list[SentMessage]:
        """What the SMTP server accepted, oldest first: by default what left for the
        outside world (``kind=None``: every delivery), to ``rcpt`` if given."""

        def go(srv: ScenarioServer) -> list[SentMessage]:
            if srv.smtp is None:
                return []
            return [SentMessage(d.kind, d.mail_from, d.rcpt, d.raw, d.at, d.folder, d.uid,
                                d.error)
                    for d in srv.smtp.log.deliveries
                    if (kind is None or d.kind == kind)
                    and (rcpt is None or d.rcpt.lower() == rcpt.lower())]

        return self._call(go)

    def folders(self, *, user: str | None = None) -> tuple[str, ...]:
        """The folder names of ``user`` (first account), sorted."""
        return self._call(lambda srv: tuple(sorted(
            f.name for f in self._account(srv, user).folders.values())))

    def folder(self, name: str = "INBOX", *, user: str | None = None) -> FolderState:
        """``name`` of ``user`` (first account) now: UIDVALIDITY, UIDNEXT, each message's
        UID, flags and size (ActionRefused when there is no such folder)."""

        def go(srv: ScenarioServer) -> FolderState:
            account = self._account(srv, user)
            f = account.folder(name)
            if f is None:
                raise ActionRefused(f"{account.username} has no folder {name!r}; folders: "
                                    f"{', '.join(sorted(account.folders))}")
            messages = tuple(MessageState(uid, frozenset(f.flags(uid)), f.size(uid))
                             for uid in f.uids())
            return FolderState(f.name, f.uidvalidity, f.uidnext, messages,
                               frozenset(f.special_use))

        return self._call(go)

    def message(self, uid: int, *, folder: str = "INBOX", user: str | None = None) -> bytes:
        """The bytes of message ``uid`` in ``folder``."""

        def go(srv: ScenarioServer) -> bytes:
            f = self._account(srv, user).folder(folder)
            if f is None or f.seq_of(uid) is None:
                raise ActionRefused(f"no message with UID {uid} in {folder!r}")
            return f.raw(uid)

        return self._call(go)

    def sessions(self) -> list[ServerSession]:
        """Live IMAP connections through the proxy (what ``conn`` in ``fire`` names)."""

        def go(srv: ScenarioServer) -> list[ServerSession]:
            from inboxlab.fakeserver.control import ControlServer

            rows = (srv.control or ControlServer(srv)).sessions()["sessions"]
            return [ServerSession(r["conn"], str(r["peer"]), bool(r["tls"]), r["user"],
                                  r["state"]) for r in rows]

        return self._call(go)

    def counters(self) -> dict[str, int]:
        """Connections, commands, logins, fired actions, resets... by name."""

        def go(srv: ScenarioServer) -> dict[str, int]:
            from inboxlab.fakeserver.control import ControlServer

            found: dict[str, int] = (srv.control or ControlServer(srv)).counters()["counters"]
            return found

        return self._call(go)

    # -- waiting --------------------------------------------------------------------------

    def wait_until(self, predicate: Callable[[], T], *, timeout: float = 10.0,
                   what: str = "the condition") -> T:
        """Look at ``predicate`` until it returns something truthy; return that, or raise
        WaitTimeout naming ``what``. Blocking: not for the lab's own loop (use
        ``async_wait_until`` in async code)."""
        if self._thread is None and self._loop is not None and _running_loop() is self._loop:
            raise LabError("wait_until would block the loop the servers run on: "
                           "use `await lab.async_wait_until(...)` in async code")
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(_POLL_S)

    # the same signature as wait_until on purpose (ASYNC109 prefers asyncio.timeout)
    async def async_wait_until(self, predicate: Callable[[], T | Awaitable[T]], *,
                               timeout: float = 10.0,  # noqa: ASYNC109
                               what: str = "the condition") -> T:
        """The async twin of ``wait_until``; ``predicate`` may be a coroutine function."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if isinstance(value, Awaitable):
                value = await value
            if value:
                return value
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"timed out after {timeout:g} s waiting for {what}")
            await asyncio.sleep(_POLL_S)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
