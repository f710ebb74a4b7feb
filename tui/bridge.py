"""The one place that sees both the engine and Textual: a thread, a loop, two directions.

The engine (and, in the demo, the fake servers) run on their own thread with their own
asyncio loop, started by the App. Engine -> UI: ``post_message`` on the App or a screen,
which Textual makes thread-safe and which never blocks the engine (``call_from_thread``
would wait for the UI and could make the engine miss an IDLE or keepalive deadline).
UI -> engine: ``asyncio.run_coroutine_threadsafe``; the caller gets a future and never
waits on it from the UI loop.

Everything the UI shows is translated here into the plain views of ``tui.messages``, so
screens and widgets never import ``engine`` (an import-linter contract checks it).
Trace lines go into a thread-safe deque that the Diagnostics screen drains on a timer,
so a burst of protocol lines costs the UI one ``Log.write_lines`` per tick.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Coroutine, Mapping
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import parseaddr
from typing import Any, TypeVar

from textual.message import Message
from textual.message_pump import MessagePump

from engine.backoff import Backoff
from engine.errors import EngineError
from engine.imap import Credentials, ImapClient
from engine.imap.commands import Atom
from engine.roles import Role
from engine.secrets import Secret
from engine.settings import AccountSettings, ImapServer, parse_server
from engine.states import STATE_INFO, State, StateChanged, Supervisor
from engine.states import Event as Ev
from engine.sync import discover_roles
from engine.trace import TraceHub
from tui import messages as m
from tui.demo import (
    DEMO_DISCONNECT_AFTER,
    DEMO_FAULT,
    FAULTS,
    DemoServers,
    Endpoints,
    list_scenarios,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

CONNECTION_LIMIT = 5
BIG_FOLDER = 100_000
SCAN_BATCH = 500
_PARSER = BytesHeaderParser(policy=default_policy)  # decodes =?utf-8?q?...?= words


def state_view(state: State, at: datetime | None = None, detail: str = "") -> m.StateView:
    """The badge's view of a state, read from the engine's one STATE_INFO table."""
    info = STATE_INFO[state]
    return m.StateView(state.value, info.label, info.colour, info.tone, info.description,
                       at, detail)


def disconnect_view(error: BaseException, at: datetime) -> m.DisconnectView:
    """Classify from the error's own fields (cause code, permanence, stage, server text)."""
    if isinstance(error, EngineError):
        return m.DisconnectView(
            at=at, code=error.code, kind=type(error).__name__, permanent=error.permanent,
            stage=error.stage, message=error.message, server_text=error.server_text,
            remediation=error.remediation or _default_remedy(error),
            heals=not error.permanent)
    return m.DisconnectView(at=at, code="unexpected", kind=type(error).__name__,
                            permanent=False, stage="unknown", message=str(error),
                            remediation="retried automatically; report it if it repeats")


def _default_remedy(error: EngineError) -> str:
    if error.permanent:
        return "fix the cause named above, then reconnect (c)"
    return "nothing to do: the connector reconnects after a backoff"


def header_row(uid: int, flags: tuple[str, ...], size: int | None, raw: bytes) -> m.HeaderRow:
    msg = _PARSER.parsebytes(raw or b"")
    name, addr = parseaddr(str(msg.get("From", "")))
    return m.HeaderRow(uid=uid, date=str(msg.get("Date", ""))[:16], sender=name or addr,
                       subject=str(msg.get("Subject", "")), seen="\\Seen" in flags, size=size)


def validate_account(server: str, username: str) -> tuple[AccountSettings | None, str | None]:
    """Live validation for the Connect form: (settings, None) or (None, what is wrong)."""
    try:
        imap = parse_server(server, "imap")
        return AccountSettings(username=username, imap=imap), None
    except EngineError as exc:
        fix = f" - {exc.remediation}" if exc.remediation else ""
        return None, f"{exc.message}{fix}"


class EngineBridge:
    """Owns the engine thread. ``scenario`` serves the demo's fake servers in-process;
    ``settings``/``secret`` drive a real mailbox instead."""

    def __init__(
        self,
        *,
        scenario: str | None = "demo",
        settings: AccountSettings | None = None,
        secret: Secret | None = None,
        demo_disconnect_after: float | None = DEMO_DISCONNECT_AFTER,
        seed: int = 1,
    ) -> None:
        self.scenario = scenario if settings is None else None
        self.settings = settings
        self._secret = secret
        self.demo_disconnect_after = demo_disconnect_after
        self._rng = random.Random(seed)
        self.target: MessagePump | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.servers: DemoServers | None = None
        self.endpoints: Endpoints | None = None
        self.trace_hub = TraceHub()
        self.trace_hub.subscribe(self._on_trace)
        self.trace_lines: deque[str] = deque(maxlen=20_000)
        self.supervisor: Supervisor | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._in_use = 0
        self._browser: ImapClient | None = None
        self._browse_uids: list[int] = []
        self._browse_folder = ""
        self._cafile: str | None = None
        self.fault_log: list[tuple[str, dict[str, Any]]] = []
        self._settled = asyncio.Event()  # the account reached IDLE once (demo fault timing)

    # -- lifecycle (UI thread) ------------------------------------------------------------

    def start(self, target: MessagePump) -> None:
        """Start the engine thread; messages go to ``target`` (the App)."""
        self.target = target
        self._thread = threading.Thread(target=self._thread_main, name="inboxlab-engine",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(10)
        self.submit(self._main())

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """UI -> engine: schedule ``coro`` on the engine loop; never wait on it from the UI."""
        if self.loop is None or self.loop.is_closed():
            coro.close()
            fut: concurrent.futures.Future[T] = concurrent.futures.Future()
            fut.set_exception(RuntimeError("the engine is not running"))
            return fut
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the account, the browser connection and the fake servers, then the thread."""
        if self.loop is None or self._thread is None:
            return
        with contextlib.suppress(Exception):
            self.submit(self._shutdown()).result(timeout)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        self._thread = None

    async def _shutdown(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._close_browser()
        if self.servers is not None:
            await self.servers.stop()
            self.servers = None

    def post(self, message: Message, to: MessagePump | None = None) -> None:
        """Engine -> UI; thread-safe and non-blocking (never ``call_from_thread``)."""
        target = to or self.target
        if target is not None:
            target.post_message(message)

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- the session ------------------------------------------------------------------------

    async def _main(self) -> None:
        if self.scenario is not None:
            await self._start_scenario(self.scenario)
        elif self.settings is not None:
            self.post(m.Endpoint(self.settings.username, self.settings.imap.url()))
            self.spawn(self._run_account(self.settings, self._secret), "account")

    async def _start_scenario(self, name: str) -> bool:
        if self.servers is not None:
            await self.servers.stop()
        self.servers = DemoServers(name)
        try:
            ends = await self.servers.start()
        except Exception as exc:
            self.servers = None
            self.post(m.EngineFailed(f"scenario {name}", str(exc)))
            return False
        self.endpoints = ends
        self._settled = asyncio.Event()
        self._cafile = ends.ca_file
        self.post(m.Endpoint(f"scenario {ends.scenario}",
                             f"{ends.description} - fake servers on {ends.host}:{ends.imaps_port}"))
        settings = AccountSettings(
            username=ends.username, imap=ImapServer(ends.host, ends.imaps_port, "tls"))
        self.settings = settings
        self._secret = Secret(ends.password)
        self.spawn(self._run_account(settings, self._secret), "account")
        if self.demo_disconnect_after is not None:
            self.spawn(self._demo_disconnect(self.demo_disconnect_after), "demo-disconnect")
        return True

    async def _demo_disconnect(self, after: float) -> None:
        """The demo's scripted disconnect, once the account has logged in and settled."""
        await self._settled.wait()
        await asyncio.sleep(after)
        await self._fire("demo: server restart", DEMO_FAULT)

    def _client(self, settings: AccountSettings) -> ImapClient:
        ctx = settings.tls_context(cafile=self._cafile)
        return ImapClient(settings.imap.host, settings.imap.port,
                          security=settings.imap.security, ssl_context=ctx,
                          trace=self.trace_hub.client_hook, timeout=30.0,
                          allow_plaintext_login=settings.allow_plaintext_login)

    def _use(self, delta: int) -> None:
        self._in_use += delta
        self.post(m.ConnectionsInUse(self._in_use, CONNECTION_LIMIT))

    def _on_state(self, change: StateChanged) -> None:
        if change.new is State.IDLE:
            self._settled.set()
        self.post(m.EngineState(state_view(change.new, change.at, change.detail)))
        self.trace_hub.emit("account.state", {"old": change.old.value, "new": change.new.value,
                                              "detail": change.detail})
        if change.error is not None:
            self.post(m.DisconnectReported(disconnect_view(change.error, change.at)))

    async def _run_account(self, settings: AccountSettings, secret: Secret | None) -> None:
        """Connect, find roles, count, watch INBOX with IDLE; retry transient failures."""
        sup = Supervisor(settings.username)
        self.supervisor = sup
        sup.subscribe(self._on_state)
        self.post(m.EngineState(state_view(sup.state)))
        backoff = Backoff(self._rng)
        creds = Credentials(settings.username, secret or Secret(""))
        try:
            while True:
                sup.fire(Ev.RETRY if sup.state is State.DISCONNECTED else Ev.START)
                try:
                    await self._session(sup, settings, creds, backoff)
                except EngineError as exc:
                    sup.fail(exc)
                    delay = backoff.next_delay(exc, time.monotonic())
                    if delay is None:
                        return
                    self.trace_hub.emit("account.backoff", {"seconds": round(delay, 2)})
                    await asyncio.sleep(delay)
        finally:
            if sup.state is not State.STOPPED:
                sup.fire(Ev.STOP)

    async def _session(self, sup: Supervisor, settings: AccountSettings,
                       creds: Credentials, backoff: Backoff) -> None:
        client = self._client(settings)
        self._use(+1)
        try:
            t0 = time.perf_counter()
            self.post(m.ConnectStage(m.StageView("connect", "started")))
            await client.connect()
            self.post(m.ConnectStage(m.StageView(
                "connect", "ok", (time.perf_counter() - t0) * 1000,
                "TLS" if client.tls else "cleartext")))
            sup.fire(Ev.CONNECT_OK)
            t1 = time.perf_counter()
            await client.login(creds)
            self.post(m.ConnectStage(m.StageView("login", "ok",
                                                 (time.perf_counter() - t1) * 1000)))
            sup.fire(Ev.LOGIN_OK)
            backoff.logged_in(time.monotonic())
            self.post(m.Capabilities(tuple(sorted(client.caps))))
            sup.fire(Ev.SYNC_STARTED)
            await self._refresh_folders(client, settings)
            sup.fire(Ev.SYNC_DONE)
            await client.select("INBOX", readonly=True)
            while True:
                idle = await client.idle()
                events = await idle.wait(60)
                await idle.done()
                if events:
                    sup.fire(Ev.SYNC_STARTED)
                    await self._refresh_folders(client, settings)
                    await client.select("INBOX", readonly=True)
                    sup.fire(Ev.SYNC_DONE)
        except BaseException:
            await client.close()
            raise
        finally:
            self._use(-1)

    async def _refresh_folders(self, client: ImapClient, settings: AccountSettings) -> None:
        roles = await discover_roles(client, settings.overrides)
        by_folder = {c.folder: c for c in roles.values() if c.folder}
        listed = await client.list()
        views: list[m.FolderView] = []
        for item in listed:
            if "\\noselect" in {a.lower() for a in item.attrs}:
                continue
            status = await client.status(item.name, ("MESSAGES", "UNSEEN"))
            count = status.items.get("MESSAGES")
            choice = by_folder.get(item.name)
            warning = (f"over {BIG_FOLDER:,} messages: the first sync reads only new mail"
                       if count is not None and count > BIG_FOLDER else None)
            views.append(m.FolderView(
                item.name, choice.role.value if choice else None,
                choice.reason if choice else "", count, status.items.get("UNSEEN"), warning))
        for role in Role:
            choice = roles.get(role)
            if choice is not None and choice.folder is None:
                self.trace_hub.emit("roles.missing", {"role": role.value, "why": choice.reason})
        self.post(m.FoldersChanged(tuple(views)))

    # -- folder scan with progress ----------------------------------------------------------

    def scan(self, folder: str) -> concurrent.futures.Future[int]:
        return self.submit(self._scan(folder))

    async def _scan(self, folder: str) -> int:
        """Read every header of ``folder`` in batches on a connection of its own."""
        assert self.settings is not None
        client = self._client(self.settings)
        self._use(+1)
        done = 0
        try:
            await client.connect()
            await client.login(Credentials(self.settings.username, self._secret or Secret("")))
            box = await client.select(folder, readonly=True)
            total = box.exists
            top = (box.uidnext or 1) - 1
            started = time.perf_counter()
            self.post(m.ScanProgress(m.ProgressView(folder, 0, total)))
            for low in range(1, top + 1, SCAN_BATCH):
                high = min(top, low + SCAN_BATCH - 1)
                async for _ in client.uid_fetch(f"{low}:{high}", "(UID RFC822.SIZE)"):
                    done += 1
                rate = done / max(1e-6, time.perf_counter() - started)
                self.post(m.ScanProgress(m.ProgressView(folder, min(done, total), total, rate)))
            self.post(m.ScanProgress(m.ProgressView(folder, total, total, 0.0)))
            await client.logout()
        except EngineError as exc:
            self.post(m.EngineFailed(f"scan of {folder}", str(exc)))
            await client.close()
        finally:
            self._use(-1)
        return done

    # -- the folder browser: only the visible window, fetched on demand ----------------------

    async def _close_browser(self) -> None:
        client, self._browser = self._browser, None
        if client is not None:
            with contextlib.suppress(EngineError):
                await client.logout()
            await client.close()
            self._use(-1)

    async def _browser_client(self) -> ImapClient:
        if self._browser is None:
            assert self.settings is not None
            client = self._client(self.settings)
            self._use(+1)
            try:
                await client.connect()
                await client.login(Credentials(self.settings.username,
                                               self._secret or Secret("")))
            except BaseException:
                self._use(-1)
                await client.close()
                raise
            self._browser = client
        return self._browser

    def open_folder(self, folder: str, reply_to: MessagePump) -> concurrent.futures.Future[int]:
        return self.submit(self._open_folder(folder, reply_to))

    async def _open_folder(self, folder: str, reply_to: MessagePump) -> int:
        """EXAMINE, then the UIDs (ESEARCH keeps 100k UIDs to a few bytes); no headers."""
        try:
            uids = await self._search(folder, [Atom("ALL")], reselect=True)
        except EngineError as exc:
            await self._close_browser()
            self.post(m.EngineFailed(f"open {folder}", str(exc)))
            return 0
        uids.sort(reverse=True)  # newest first, like every mail client
        self._browse_uids = uids
        self._browse_folder = folder
        self.post(m.FolderOpened(folder, len(uids)), to=reply_to)
        return len(uids)

    async def _search(self, folder: str, criteria: list[Any], *, reselect: bool) -> list[int]:
        client = await self._browser_client()
        if reselect or client.selected is None or client.selected.mailbox != folder:
            await client.select(folder, readonly=True)
        if "ESEARCH" in client.caps:
            criteria = [Atom("RETURN"), (Atom("ALL"),), *criteria]
        return await client.uid_search(*criteria)

    def search(self, folder: str, query: str,
               reply_to: MessagePump) -> concurrent.futures.Future[int]:
        return self.submit(self._search_hits(folder, query, reply_to))

    async def _search_hits(self, folder: str, query: str, reply_to: MessagePump) -> int:
        """``/`` in the browser: the server searches; we map hits to list positions."""
        criteria: list[Any] = [Atom("OR"), Atom("SUBJECT"), query, Atom("FROM"), query]
        try:
            hits = set(await self._search(folder, criteria, reselect=False))
        except EngineError as exc:
            self.post(m.EngineFailed(f"search {folder}", str(exc)))
            return 0
        positions = tuple(i for i, uid in enumerate(self._browse_uids) if uid in hits)
        self.post(m.SearchHits(folder, query, positions), to=reply_to)
        return len(positions)

    def fetch_rows(self, folder: str, start: int, count: int, reply_to: MessagePump,
                   generation: int = 0) -> concurrent.futures.Future[int]:
        return self.submit(self._fetch_rows(folder, start, count, reply_to, generation))

    async def _fetch_rows(self, folder: str, start: int, count: int, reply_to: MessagePump,
                          generation: int) -> int:
        if folder != self._browse_folder:
            return 0
        wanted = self._browse_uids[start:start + count]
        if not wanted:
            return 0
        found: dict[int, m.HeaderRow] = {}
        try:
            client = await self._browser_client()
            items = "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])"
            async for fetch in client.uid_fetch(_compact(wanted), items):
                uid = fetch.uid
                if uid is None:
                    continue
                raw = next((v for k, v in fetch.items.items() if k.startswith("BODY[")), b"")
                found[uid] = header_row(uid, tuple(fetch.items.get("FLAGS", ())),
                                        fetch.items.get("RFC822.SIZE"), raw or b"")
        except EngineError as exc:
            await self._close_browser()
            self.post(m.EngineFailed(f"read {folder}", str(exc)))
            return 0
        rows = tuple(found.get(uid) or m.HeaderRow(uid, "", "", "(gone)") for uid in wanted)
        self.post(m.RowsLoaded(folder, start, rows, generation), to=reply_to)
        return len(rows)

    # -- scenarios and faults ----------------------------------------------------------------

    def run_scenario(self, name: str) -> concurrent.futures.Future[bool]:
        return self.submit(self._switch_scenario(name))

    async def _switch_scenario(self, name: str) -> bool:
        await self._stop_account()
        self.scenario = name
        ok = await self._start_scenario(name)
        self.post(m.ScenarioDone(name, (f"serving {name}",) if ok else (), ok))
        return ok

    def fire_fault(self, name: str) -> concurrent.futures.Future[dict[str, Any]]:
        return self.submit(self._fire(name, FAULTS[name]))

    async def _fire(self, name: str, action: Mapping[str, Any]) -> dict[str, Any]:
        if self.servers is None:
            reply: dict[str, Any] = {"error": "no scenario is running"}
        else:
            reply = await self.servers.fire(action)
        self.fault_log.append((name, reply))
        self.trace_hub.emit("control.fault", {"fault": name, "reply": reply})
        self.post(m.FaultResult(name, reply))
        return reply

    # -- accounts ----------------------------------------------------------------------------

    def validate(self, server: str, username: str) -> str | None:
        return validate_account(server, username)[1]

    def scenarios(self) -> list[m.ScenarioView]:
        return [m.ScenarioView(i.name, i.description, i.profile, i.error)
                for i in list_scenarios()]

    def faults(self) -> list[str]:
        return list(FAULTS)

    def connect_account(self, server: str, username: str,
                        password: str) -> concurrent.futures.Future[bool]:
        """Drive a real mailbox from the same screens (the demo servers keep running)."""
        settings, problem = validate_account(server, username)
        if settings is None:
            fut: concurrent.futures.Future[bool] = concurrent.futures.Future()
            fut.set_exception(ValueError(problem))
            return fut
        return self.submit(self._switch_account(settings, Secret(password)))

    async def _switch_account(self, settings: AccountSettings, secret: Secret) -> bool:
        await self._stop_account()
        self.settings, self._secret = settings, secret
        if self.endpoints is None or settings.imap.host != self.endpoints.host:
            self._cafile = None  # a real server: the system's trust store
        self.post(m.Endpoint(settings.username, settings.imap.url()))
        self.spawn(self._run_account(settings, secret), "account")
        return True

    async def _stop_account(self) -> None:
        for task in list(self._tasks):
            if task.get_name() in ("account", "demo-disconnect"):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        await self._close_browser()

    # -- trace -------------------------------------------------------------------------------

    def _on_trace(self, name: str, info: Mapping[str, Any]) -> None:
        stamp = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
        if name in ("imap.line.out", "imap.line.in"):
            arrow = ">" if name.endswith("out") else "<"
            line = str(info.get("line", "")).replace("\r\n", " ⏎ ").replace("\n", " ⏎ ")
            self.trace_lines.append(f"{stamp} {arrow} {line}")
        else:
            detail = " ".join(f"{k}={v}" for k, v in info.items())
            self.trace_lines.append(f"{stamp} {name} {detail}")

    def drain_trace(self, limit: int = 2000) -> list[str]:
        """UI side: take up to ``limit`` queued trace lines (deque ops are thread-safe)."""
        out: list[str] = []
        lines = self.trace_lines
        while lines and len(out) < limit:
            out.append(lines.popleft())
        return out


def _compact(uids: list[int]) -> str:
    """A UID list as ranges: ``[9, 8, 7, 3]`` -> ``"3,7:9"`` (short commands for windows)."""
    ordered = sorted(uids)
    parts: list[str] = []
    lo = prev = ordered[0]
    for uid in ordered[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        parts.append(f"{lo}:{prev}" if lo != prev else str(lo))
        lo = prev = uid
    parts.append(f"{lo}:{prev}" if lo != prev else str(lo))
    return ",".join(parts)

