"""The bridge's account adapter: the account and its CRM on the engine loop, their events
translated into the plain views of ``tui.messages`` for the UI.

Everything the UI shows is translated here (``tui.bridge.translate``), so screens and
widgets never import ``engine`` (an import-linter contract checks it). Trace lines go
into a thread-safe deque that the Diagnostics screen drains on a timer, so a burst of
protocol lines costs the UI one ``Log.write_lines`` per tick. Only the account's public
surface is read (``stats``, ``roles``, ``capabilities``), never its private state.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import random
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from textual.message_pump import MessagePump

from inboxlab.engine.account import Account
from inboxlab.engine.account_options import AccountOptions, AccountStats
from inboxlab.engine.backoff import BackoffPolicy
from inboxlab.engine.connect import Link
from inboxlab.engine.diag.bundle import export_bundle
from inboxlab.engine.diag.tracering import TraceRing
from inboxlab.engine.errors import ConfigError
from inboxlab.engine.roles import Role
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings
from inboxlab.engine.states import State, StateChanged
from inboxlab.engine.supervise import (
    FolderGone,
    LargeFolderWarning,
    MessageSkipped,
    NewMail,
    RetryScheduled,
    ScanProgress,
)
from inboxlab.engine.tokens import TokenProvider, provider_from_options
from inboxlab.tui import messages as m
from inboxlab.tui.bridge.browse import FolderBrowser
from inboxlab.tui.bridge.browse_side import BrowseSide
from inboxlab.tui.bridge.crm import BccConfig, CrmBridge, CrmWiring
from inboxlab.tui.bridge.loop import EngineLoop
from inboxlab.tui.bridge.translate import (
    StageClock,
    crm_rules,
    disconnect_view,
    state_view,
    trace_line,
    validate_account,
)
from inboxlab.tui.settings_store import UiSettings

OUTBOX_RETRY = 60.0  # seconds between retries of outbox records that failed (a 421...)


class AccountSide(BrowseSide, EngineLoop):
    """One account (a real mailbox, or the demo's) and its CRM, started on the engine loop.
    ``settings``/``secret``: the mailbox to drive first (None: the demo director picks)."""

    def __init__(self, *, settings: AccountSettings | None, secret: Secret | TokenProvider | None,
                 data_dir: Path | None, cafile: str | None, seed: int,
                 bcc: BccConfig | None) -> None:
        super().__init__()
        self.settings = settings
        self._secret = secret
        self._data_dir = data_dir
        self.real_data_dir: Path | None = None  # a real mailbox's database (XDG data dir)
        self._tmp_dir: Path | None = None
        self._rng = random.Random(seed)
        self.account: Account | None = None
        self._lab = False  # the running account is one of this bridge's fake servers
        self.trace_lines: deque[str] = deque(maxlen=20_000)
        self.ring = TraceRing()
        self._links: dict[int, Link] = {}
        self._browser = FolderBrowser(self._open_client, self._close_client)
        self._stages = StageClock()
        self._cafile: str | None = cafile
        self.bcc = bcc  # the BCC/forward logging endpoint to start with the account
        self.cli_cafile = cafile  # ``inboxlab connect --cafile``: kept across reconnects
        self._settled: asyncio.Event | None = None
        self._warnings: dict[str, str] = {}
        self._last_stats: tuple[Any, ...] = ()
        self._unstats: Callable[[], None] | None = None  # the running account's stats feed
        self.ui_settings = UiSettings()
        # How the account waits between reconnects (the engine's default; a test of an
        # outage shortens it instead of waiting out a 30 s schedule on the real clock).
        self.backoff = BackoffPolicy()
        self.crm = CrmBridge(submit=self.submit, post=self.post, spawn=self.spawn,
                             open_client=self._open_client, close_client=self._close_client,
                             trace=self._on_trace, rng=random.Random(seed + 1))

    def _cleanup(self) -> None:
        if self._tmp_dir is not None:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
            self._tmp_dir = None

    def _db_path(self) -> Path:
        if self._data_dir is None:
            self._tmp_dir = self._tmp_dir or Path(tempfile.mkdtemp(prefix="inboxlab-tui-"))
            self._data_dir = self._tmp_dir
        self._data_dir.mkdir(parents=True, exist_ok=True)
        return self._data_dir / "engine.db"

    async def _start_account(self, settings: AccountSettings,
                             secret: Secret | TokenProvider, *, lab: bool = False) -> None:
        """Start the account (and its CRM). ``lab``: the mailbox is one of the fake
        servers this bridge runs (the demo's), which keeps its own folder roles."""
        ui = self.ui_settings
        self._lab = lab
        if ui.sent_folder and not settings.folder_overrides and not lab:
            # The person's Sent-folder override (the demo's own mailbox keeps its roles).
            settings = replace(settings, folder_overrides=(("sent", ui.sent_folder),))
        self.settings, self._secret = settings, secret
        self._settled = asyncio.Event()
        self._warnings.clear()
        self._last_stats = ()  # a fresh account announces its counters even if unchanged
        options = AccountOptions(folders=self._watch(), cafile=self._cafile,
                                 backoff=self.backoff)
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
        self._unstats = account.subscribe_stats(self._on_stats)
        self.post(m.EngineState(state_view(account.state)))
        await account.start()
        self._on_stats(account.stats)
        self.spawn(self._resume_outbox(), "outbox-resume")

    async def _stop_account(self) -> None:
        for task in list(self._tasks):
            if task.get_name() in ("sends", "scan", "outbox-resume"):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        await self._browser.close()
        if self._unstats is not None:  # the old account's last counters never reach the UI
            self._unstats()
            self._unstats = None
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

    def _follow_sent_role(self) -> None:
        """The copier APPENDs to the Sent folder the engine chose (overrides included)."""
        account, outbox = self.account, self.crm.outbox
        choice = account.roles.get(Role.SENT) if account is not None else None
        if outbox is not None and outbox.copier is not None and choice is not None \
                and choice.folder:
            outbox.copier.folder = choice.folder

    def _watch(self) -> Literal["roles", "all"] | tuple[str, ...]:
        """The saved watch list (INBOX and Sent are always added by the engine); empty:
        INBOX and Sent on a real account, every folder on the demo's lab mailbox."""
        chosen = self.ui_settings.watched_folders
        if chosen:
            return chosen
        return "all" if self._lab else "roles"

    def _serves(self, settings: AccountSettings) -> bool:
        """Whether ``settings`` point at a fake server this bridge runs (the demo
        director knows its own servers; a bridge without one runs none)."""
        return False

    def apply_settings(self, settings: UiSettings) -> None:
        """Saved settings reach the engine: logging rules now; the rest at the next start."""
        self.ui_settings = settings
        rules = crm_rules(settings.logging_mode, settings.never_log, settings.log_attachments)
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.crm.set_rules, rules)
        else:
            self.crm.set_rules(rules)

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
            if self.account is not None:
                self._on_stats(self.account.stats)
        elif isinstance(event, NewMail):
            self.post(m.NewMail(event.folder, event.exists))
        elif isinstance(event, FolderGone):
            self.post(m.FolderGoneReported(event.folder, event.server_text))
        elif isinstance(event, RetryScheduled):
            self.post(m.RetryPlanned(m.RetryView(event.attempt, event.delay, event.at)))
        elif isinstance(event, MessageSkipped):
            self.post(m.EngineFailed(f"read {event.folder} UID {event.uid} "
                                     f"({event.tries} tries); skipped it", event.error))

    def _on_stats(self, stats: AccountStats) -> None:
        """The account's counters (``Account.subscribe_stats``): connections in use, the
        folders with their roles and counts, the capabilities; posted when they change."""
        account = self.account
        if account is None:
            return
        roles = {c.folder: c for c in account.roles.values() if c.folder}
        folders = tuple(
            m.FolderView(f.folder, roles[f.folder].role.value if f.folder in roles else None,
                         roles[f.folder].reason if f.folder in roles else "",
                         f.messages, f.last_uid, self._warnings.get(f.folder))
            for f in stats.folders)
        caps = stats.capabilities
        snapshot = (stats.connections_in_use, stats.connection_limit, folders, caps)
        if snapshot != self._last_stats:
            self._last_stats = snapshot
            self.post(m.ConnectionsInUse(stats.connections_in_use, stats.connection_limit))
            self.post(m.FoldersChanged(folders))
            if caps:
                self.post(m.Capabilities(caps))

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
        lab = self._serves(settings)
        if not lab:
            # A real server: the CA typed in the form, else the one given with --cafile
            # (re-entering the credentials must not drop it), else the system's store.
            self._cafile = cafile or self.cli_cafile
            if self.real_data_dir is not None:
                self._data_dir = account_dir(self.real_data_dir, settings)
        elif cafile:
            self._cafile = cafile
        self.post(m.Endpoint(settings.username, settings.imap.url()))
        await self._start_account(settings, secret, lab=lab)
        return True

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


__all__ = ["AccountSide", "account_dir"]
