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
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Awaitable, Coroutine, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from textual.message import Message
from textual.message_pump import MessagePump

from engine.account import Account
from engine.account_options import AccountOptions
from engine.connect import Link
from engine.diag.bundle import export_bundle
from engine.diag.tracering import TraceRing
from engine.errors import ConfigError
from engine.roles import Role
from engine.secrets import Secret
from engine.settings import AccountSettings, ImapServer, SmtpServer
from engine.states import State, StateChanged
from engine.supervise import (
    FolderGone,
    LargeFolderWarning,
    MessageSkipped,
    NewMail,
    RetryScheduled,
    ScanProgress,
)
from engine.tokens import TokenProvider, provider_from_options
from tui import messages as m
from tui.bridge.browse import FolderBrowser
from tui.bridge.browse_side import BrowseSide
from tui.bridge.crm import BccConfig, CrmBridge, CrmWiring
from tui.bridge.translate import (
    StageClock,
    crm_rules,
    disconnect_view,
    state_view,
    trace_line,
    validate_account,
)
from tui.demo import FAULTS, DemoServers, Endpoints, list_scenarios
from tui.settings_store import UiSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

STATS_TICK = 0.5  # seconds between polls of the account's counters (connections, folders)
# A scenario's [[send]] mail goes out this long after the account settles, so a newcomer
# sees the steady state (2 of 5 connections) before the CRM borrows connections to send.
SENDS_AFTER = 2.0
OUTBOX_RETRY = 60.0  # seconds between retries of outbox records that failed (a 421...)


class EngineBridge(BrowseSide):
    """Owns the engine thread. ``scenario`` serves the demo's fake servers in-process;
    ``settings``/``secret`` drive a real mailbox instead. A scenario runs as written: its
    ``[[timeline]]`` (the demo's outage) and its ``[[send]]`` mail; ``timeline=False``
    and ``sends=False`` leave them out (tests that want a quiet server)."""

    def __init__(
        self,
        *,
        scenario: str | None = "demo",
        settings: AccountSettings | None = None,
        secret: Secret | TokenProvider | None = None,
        timeline: bool = True,
        sends: bool = True,
        data_dir: Path | None = None,
        cafile: str | None = None,
        seed: int = 1,
        bcc: BccConfig | None = None,
    ) -> None:
        self.scenario = scenario if settings is None else None
        self.settings = settings
        self._secret = secret
        self.timeline = timeline
        self.sends = sends
        self._data_dir = data_dir
        self.real_data_dir: Path | None = None  # a real mailbox's database (XDG data dir)
        self._tmp_dir: Path | None = None
        self._rng = random.Random(seed)
        self.target: MessagePump | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.servers: DemoServers | None = None
        self.endpoints: Endpoints | None = None
        self.account: Account | None = None
        self.trace_lines: deque[str] = deque(maxlen=20_000)
        self.ring = TraceRing()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._links: dict[int, Link] = {}
        self._browser = FolderBrowser(self._open_client, self._close_client)
        self._stages = StageClock()
        self._cafile: str | None = cafile
        self.bcc = bcc  # the BCC/forward logging endpoint to start with the account
        self.cli_cafile = cafile  # ``inboxlab connect --cafile``: kept across reconnects
        self._settled: asyncio.Event | None = None
        self._warnings: dict[str, str] = {}
        self._last_stats: tuple[Any, ...] = ()
        self.fault_log: list[tuple[str, dict[str, Any]]] = []
        self.ui_settings = UiSettings()
        self.crm = CrmBridge(submit=self.submit, post=self.post, spawn=self.spawn,
                             open_client=self._open_client, close_client=self._close_client,
                             trace=self._on_trace, rng=random.Random(seed + 1))

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
            # What asyncio.run does on the way out: work still in flight (an account
            # mid-start when the user quits) is cancelled and awaited, so its cleanup runs
            # on a live loop instead of "coroutine ignored GeneratorExit" at close.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
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
        try:
            self.submit(self._shutdown()).result(timeout)
        except Exception:
            log.exception("engine shutdown failed")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        self._thread = None
        if self._tmp_dir is not None:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
            self._tmp_dir = None

    async def _shutdown(self) -> None:
        await self._stop_account()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
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

    # -- scenario and account -------------------------------------------------------------

    async def _main(self) -> None:
        if self.scenario is not None:
            await self._start_scenario(self.scenario)
        elif self.settings is not None:
            self.post(m.Endpoint(self.settings.username, self.settings.imap.url()))
            await self._start_account(self.settings, self._secret or Secret(""))

    async def _start_scenario(self, name: str) -> bool:
        if self.servers is not None:
            await self.servers.stop()
        self.servers = DemoServers(name, timeline=self.timeline)
        try:
            ends = await self.servers.start()
        except Exception as exc:
            self.servers = None
            self.post(m.EngineFailed(f"scenario {name}", str(exc)))
            return False
        self.endpoints = ends
        self._cafile = ends.ca_file
        self.post(m.Endpoint(f"scenario {ends.scenario}",
                             f"{ends.description} - fake servers on {ends.host}:{ends.imaps_port}"))
        smtp = None if ends.smtps_port is None else SmtpServer(ends.host, ends.smtps_port, "tls")
        settings = AccountSettings(
            username=ends.username, imap=ImapServer(ends.host, ends.imaps_port, "tls"), smtp=smtp)
        await self._start_account(settings, Secret(ends.password))
        if self.sends and ends.sends:
            self.spawn(self._scenario_sends(ends), "sends")
        return True

    def _db_path(self) -> Path:
        if self._data_dir is None:
            self._tmp_dir = self._tmp_dir or Path(tempfile.mkdtemp(prefix="inboxlab-tui-"))
            self._data_dir = self._tmp_dir
        self._data_dir.mkdir(parents=True, exist_ok=True)
        return self._data_dir / "engine.db"

    async def _start_account(self, settings: AccountSettings,
                             secret: Secret | TokenProvider) -> None:
        ui = self.ui_settings
        if ui.sent_folder and not settings.folder_overrides and not self._is_demo(settings):
            # The person's Sent-folder override (the demo's own mailbox keeps its roles).
            settings = replace(settings, folder_overrides=(("sent", ui.sent_folder),))
        self.settings, self._secret = settings, secret
        self._settled = asyncio.Event()
        self._warnings.clear()
        self._last_stats = ()  # a fresh account announces its counters even if unchanged
        options = AccountOptions(folders=self._watch(settings), cafile=self._cafile)
        db_path = self._db_path()
        await self.crm.start(CrmWiring(
            settings.username, db_path, db_path.parent / "files", settings.smtp, secret,
            settings.tls_context(self._cafile), dict(settings.folder_overrides).get("sent", "Sent"),
            crm_rules(ui.logging_mode, ui.never_log, ui.log_attachments),
            self.bcc))
        # The CRM is the account's sink and names the Message-IDs whose replies it wants.
        account = Account(settings, secret, db_path, rng=self._rng, options=options,
                          trace=self._on_trace, sink=self.crm.sink, tracked=self.crm.tracked_ids,
                          after_pass=self.crm.after_pass)
        self.account = account
        account.subscribe(self._on_event)
        self.post(m.EngineState(state_view(account.state)))
        await account.start()
        self.spawn(self._poll_stats(account), "stats")
        self.spawn(self._resume_outbox(), "outbox-resume")

    async def _stop_account(self) -> None:
        for task in list(self._tasks):
            if task.get_name() in ("stats", "sends", "scan", "outbox-resume"):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        await self._browser.close()
        account, self.account = self.account, None
        if account is not None:
            await account.stop()
        await self.crm.stop()

    async def _resume_outbox(self) -> None:
        """Every start (demo and ``inboxlab connect`` alike) finishes the sends an earlier
        run left unfinished, once the account has settled and chosen its Sent folder;
        then retries whatever still failed every ``OUTBOX_RETRY`` seconds."""
        assert self._settled is not None
        await self._settled.wait()
        while True:
            self._follow_sent_role()
            try:
                await self.crm.resume()
            except Exception as exc:  # the CRM's database or a bug: shown, retried later
                self.post(m.EngineFailed("resume the outbox", str(exc)))
            await asyncio.sleep(OUTBOX_RETRY)

    async def _scenario_sends(self, ends: Endpoints) -> None:
        """The scenario's [[send]] blocks: templated mail from a record, once settled."""
        assert self._settled is not None
        await self._settled.wait()
        await asyncio.sleep(SENDS_AFTER)  # pacing: the dashboard settles first
        self._follow_sent_role()
        for plan in ends.sends:
            await self.crm.scenario_send(plan.name, plan.subject, plan.body, plan.to)

    def _follow_sent_role(self) -> None:
        """The copier APPENDs to the Sent folder the engine chose (overrides included)."""
        account, outbox = self.account, self.crm.outbox
        choice = account.roles.get(Role.SENT) if account is not None else None
        if outbox is not None and outbox.copier is not None and choice is not None \
                and choice.folder:
            outbox.copier.folder = choice.folder

    def _watch(self, settings: AccountSettings) -> Literal["roles", "all"] | tuple[str, ...]:
        """The saved watch list (INBOX and Sent are always added by the engine); empty:
        INBOX and Sent on a real account, every folder on the demo's lab mailbox."""
        chosen = self.ui_settings.watched_folders
        if chosen:
            return chosen
        return "all" if self._is_demo(settings) else "roles"

    def _is_demo(self, settings: AccountSettings) -> bool:
        return self.endpoints is not None and settings.imap.host == self.endpoints.host

    def apply_settings(self, settings: UiSettings) -> None:
        """Saved settings reach the engine: logging rules now; the rest at the next start."""
        self.ui_settings = settings
        rules = crm_rules(settings.logging_mode, settings.never_log, settings.log_attachments)
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.crm.set_rules, rules)
        else:
            self.crm.set_rules(rules)

    # -- engine events -> views -------------------------------------------------------------

    def _on_event(self, event: Any) -> None:
        if isinstance(event, StateChanged):
            if event.new is State.IDLE and self._settled is not None:
                self._settled.set()
                self._follow_sent_role()
            self.post(m.EngineState(state_view(event.new, event.at, event.detail)))
            if event.error is not None:
                recent = [line.split(" ", 2)[-1] for line in list(self.trace_lines)[-50:]
                          if " < " in line]
                self.post(m.DisconnectReported(disconnect_view(event.error, event.at, recent)))
        elif isinstance(event, ScanProgress):
            self.post(m.ScanProgress(m.ProgressView(event.folder, event.done, event.total,
                                                    event.rate)))
        elif isinstance(event, LargeFolderWarning):
            over = "at" if event.messages == event.threshold else "over"
            self._warnings[event.folder] = (f"{event.messages:,} messages ({over} the "
                                            f"{event.threshold:,} limit): first sync reads "
                                            "new only")
        elif isinstance(event, NewMail):
            self.post(m.NewMail(event.folder, event.exists))
        elif isinstance(event, FolderGone):
            self.post(m.FolderGoneReported(event.folder, event.server_text))
        elif isinstance(event, RetryScheduled):
            self.post(m.RetryPlanned(m.RetryView(event.attempt, event.delay, event.at)))
        elif isinstance(event, MessageSkipped):
            self.post(m.EngineFailed(f"read {event.folder} UID {event.uid} "
                                     f"({event.tries} tries); skipped it", event.error))

    async def _poll_stats(self, account: Account) -> None:
        """Counters the account keeps but does not announce: connections, folder counts."""
        while True:
            stats = account.stats
            roles = {c.folder: c for c in account.roles.values() if c.folder}
            folders = tuple(
                m.FolderView(f.folder, roles[f.folder].role.value if f.folder in roles else None,
                             roles[f.folder].reason if f.folder in roles else "",
                             f.messages, f.last_uid, self._warnings.get(f.folder))
                for f in stats.folders)
            main = getattr(account, "_main", None)  # TODO(engine): expose capabilities
            caps = tuple(sorted(main.client.caps)) if main is not None else ()
            snapshot = (stats.connections_in_use, stats.connection_limit, folders, caps)
            if snapshot != self._last_stats:
                self._last_stats = snapshot
                self.post(m.ConnectionsInUse(stats.connections_in_use, stats.connection_limit))
                self.post(m.FoldersChanged(folders))
                if caps:
                    self.post(m.Capabilities(caps))
            await asyncio.sleep(STATS_TICK)

    def run_scenario(self, name: str) -> concurrent.futures.Future[bool]:
        return self.submit(self._switch_scenario(name))

    async def _switch_scenario(self, name: str) -> bool:
        await self._stop_account()
        self.post(m.ViewsReset())  # after the old account's last message, before the new
        self.scenario = name
        ok = await self._start_scenario(name)
        self.post(m.ScenarioDone(name, (f"serving {name}",) if ok else (), ok))
        return ok

    def fire_fault(self, name: str) -> concurrent.futures.Future[dict[str, Any]]:
        return self.submit(self._fire(name, FAULTS[name]))

    def fire_action(self, action: Mapping[str, Any]) -> concurrent.futures.Future[dict[str, Any]]:
        """Any action table the control endpoint takes (it validates; errors come back)."""
        return self.submit(self._fire(str(action.get("type", "?")), dict(action)))

    async def _fire(self, name: str, action: Mapping[str, Any]) -> dict[str, Any]:
        if self.servers is None:
            reply: dict[str, Any] = {"error": "no scenario is running"}
        else:
            reply = await self.servers.fire(action)
        self.fault_log.append((name, reply))
        self._on_trace("control.fault", {"fault": name, "reply": reply})
        self.post(m.FaultResult(name, reply))
        return reply

    # -- accounts ----------------------------------------------------------------------------

    def reconnect_now(self) -> concurrent.futures.Future[bool]:
        """A person's "reconnect now": cut the backoff wait short, or start an account
        that stopped on a permanent failure (after the fix). False: nothing to do."""
        return self.submit(self._reconnect_now())

    async def _reconnect_now(self) -> bool:
        account = self.account
        if account is None:
            return False
        if account.retry_now():
            return True
        if not account.running:
            await account.start()
            return True
        return False

    def validate(self, server: str, username: str, **extra: str) -> str | None:
        return validate_account(server, username, **extra)[1]

    def scenarios(self) -> list[m.ScenarioView]:
        return [m.ScenarioView(i.name, i.description, i.profile, i.error)
                for i in list_scenarios()]

    def faults(self) -> list[str]:
        return list(FAULTS)

    def connect_account(self, server: str, username: str, password: str,
                        sent_folder: str | None = None, *, oauth: str | None = None,
                        token_command: str | None = None, security: str = "",
                        smtp: str = "", cafile: str = "") -> concurrent.futures.Future[bool]:
        """Drive a real mailbox from the same screens (the demo servers keep running).
        ``oauth`` (XOAUTH2 / OAUTHBEARER) logs in with a token from ``token_command``
        (or $INBOXLAB_OAUTH_TOKEN) instead of the password. ``cafile`` empty: the one
        given on the command line, else the system's store."""
        fut: concurrent.futures.Future[bool] = concurrent.futures.Future()
        settings, problem = validate_account(server, username, sent_folder, security=security,
                                             smtp=smtp, cafile=cafile)
        if settings is None:
            fut.set_exception(ValueError(problem))
            return fut
        try:
            provider = provider_from_options(username, oauth, token_command=token_command)
        except ConfigError as exc:
            fut.set_exception(ValueError(str(exc)))
            return fut
        credential = provider if provider is not None else Secret(password)
        ca = str(Path(cafile.strip()).expanduser()) if cafile.strip() else None
        return self.submit(self._switch_account(settings, credential, ca))

    async def _switch_account(self, settings: AccountSettings,
                              secret: Secret | TokenProvider, cafile: str | None = None,
                              ) -> bool:
        await self._stop_account()
        self.post(m.ViewsReset())
        if self.endpoints is None or settings.imap.host != self.endpoints.host:
            # A real server: the CA typed in the form, else the one given with --cafile
            # (re-entering the credentials must not drop it), else the system's store.
            self._cafile = cafile or self.cli_cafile
            if self.real_data_dir is not None:
                self._data_dir = account_dir(self.real_data_dir, settings)
        elif cafile:
            self._cafile = cafile
        self.post(m.Endpoint(settings.username, settings.imap.url()))
        await self._start_account(settings, secret)
        return True

    # -- export ------------------------------------------------------------------------------

    def export_bundle(self, path: Path, reply_to: MessagePump | None = None,
                      ) -> concurrent.futures.Future[Path | None]:
        """The diagnostic bundle (engine.diag.bundle) of the running account, to ``path``."""
        return self.submit(self._export_bundle(path, reply_to))

    async def _export_bundle(self, path: Path, reply_to: MessagePump | None) -> Path | None:
        known = self._secret
        # the password, or every token the OAuth provider handed out (redacted verbatim)
        secrets = ([known.reveal()] if isinstance(known, Secret) else
                   list(known.handed_out()) if known is not None else [])
        try:
            where = await export_bundle(path, settings=self.settings, account=self.account,
                                        ring=self.ring, secrets=[s for s in secrets if s])
        except OSError as exc:
            self.post(m.Exported("diagnostic bundle", None, f"cannot write {path}: {exc}"),
                      to=reply_to)
            return None
        self.post(m.Exported("diagnostic bundle", str(where), None), to=reply_to)
        return where

    # -- trace -------------------------------------------------------------------------------

    def _client_trace(self, name: str, **info: Any) -> None:
        self._on_trace(name, info)

    def _on_trace(self, name: str, info: Mapping[str, Any]) -> None:
        """Every trace event (already redacted by the engine) becomes one display line."""
        stage = self._stages.event(name, info, time.perf_counter())
        if stage is not None:
            self.post(m.ConnectStage(stage))
        self.trace_lines.append(trace_line(name, info, datetime.now(UTC)))
        self.ring.record(name, info)  # per connection, for the diagnostic bundle

    def drain_trace(self, limit: int = 2000) -> list[str]:
        """UI side: take up to ``limit`` queued trace lines (deque ops are thread-safe)."""
        out: list[str] = []
        lines = self.trace_lines
        while lines and len(out) < limit:
            out.append(lines.popleft())
        return out


def account_dir(base: Path, settings: AccountSettings) -> Path:
    """One database per account *and server*: the same user name on two servers (two
    companies' ``admin``) must never share checkpoints or records."""
    imap = settings.imap
    return base / "accounts" / _safe(f"{settings.username}_at_{imap.host}_{imap.port}")


def _safe(name: str) -> str:
    """A file-system-safe directory name for an account."""
    return "".join(ch if ch.isalnum() or ch in "@._-" else "_" for ch in name)[:120]
