"""One connected inbox, run: connect, log in, find the folders, sync, watch, recover.

    account = Account(settings, secret, "engine.db", sink=crm.match)
    account.subscribe(print)          # StateChanged, DisconnectNotice, ScanProgress...
    await account.start()
    ...
    await account.stop()

A session is two connections of the 5-connection budget (``engine.pool``): the
*scanner* lists folders, picks roles and reads new mail (STATUS-planned UID FETCH,
``engine.sync``); the *watcher* SELECTs INBOX and IDLEs (``engine.watch``), waking
the scanner when mail arrives. Other folders (Sent...) are polled with STATUS every
``poll_interval``; a server without IDLE gets one connection and polls INBOX too.
Both connections log in while the state is ``authenticating``, so a rejected
password can only surface from the step that sent it.

Supervision: any failure closes the session; ``engine.supervise.classify`` types it;
the state table moves; a transient failure waits the jittered ``engine.backoff``
delay (longer when sessions die young) and reconnects; a permanent one (rejected
password, IMAP disabled, POP3, Courier, bad certificate) stops, publishes a
``DisconnectNotice`` and never retries on its own - ``start()`` again after a fix.

Nothing about a scanned message is stored: messages go to ``sink`` and only the
per-folder checkpoints reach the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.backoff import Backoff, BackoffPolicy
from engine.checkpoints import CheckpointStore
from engine.clock import SYSTEM_CLOCK, Clock
from engine.connect import ConnectOptions, Link, login, open_link
from engine.db import Database
from engine.errors import ConfigError, EngineError, ServerRefused, Throttled
from engine.imap.model import Event as ImapEvent
from engine.imap.model import Exists
from engine.pool import HUBSPOT_LIMIT, ConnectionPool
from engine.replies import SMALL_TRACKED_SET, deliver_replies, find_replies
from engine.roles import ListMethod, Role, RoleChoice, detect_roles, folders_from_list
from engine.secrets import Secret
from engine.settings import AccountSettings
from engine.states import Event, State, StateChanged, Supervisor, event_for_error
from engine.supervise import (
    AccountEvent,
    FolderGone,
    LargeFolderWarning,
    NewMail,
    RetryScheduled,
    ScanProgress,
    classify,
    notice_for,
)
from engine.sync import DEFAULT_BATCH, MessageSink, ScannedMessage, scan_folder
from engine.trace import TraceFn, TraceHub
from engine.watch import IDLE_REFRESH_MAX, ProgressSink, idle_loop

log = logging.getLogger(__name__)

FULL_BACKFILL = 2**32  # "start at UID 1": a backfill larger than any UID range
LARGE_FOLDER = 100_000


def _bad(name: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"account options {name}: {problem}", code="config", remediation=fix)


@dataclass(frozen=True)
class AccountOptions:
    """How the account syncs and watches; every number is in seconds or messages."""

    initial_scan: Literal["new", "full"] = "new"
    folders: Literal["roles", "all"] = "roles"  # INBOX + Sent, or every selectable folder
    batch: int = DEFAULT_BATCH
    idle: bool = True
    idle_refresh: float = IDLE_REFRESH_MAX
    poll_interval: float = 60.0
    max_connections: int = HUBSPOT_LIMIT
    connect_timeout: float = 20.0
    command_timeout: float = 60.0
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    large_folder: int = LARGE_FOLDER
    small_tracked_set: int = SMALL_TRACKED_SET
    cafile: str | None = None

    def __post_init__(self) -> None:
        if self.initial_scan not in ("new", "full"):
            raise _bad("initial_scan", f"{self.initial_scan!r} is not 'new' or 'full'",
                       "'new' starts at the newest mail; 'full' reads every header once")
        if self.folders not in ("roles", "all"):
            raise _bad("folders", f"{self.folders!r} is not 'roles' or 'all'",
                       "'roles' watches INBOX and Sent")
        for name in ("batch", "max_connections", "large_folder", "small_tracked_set"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _bad(name, f"{value!r} is not a positive integer", "use a number >= 1")
        for name in ("poll_interval", "connect_timeout", "command_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise _bad(name, f"{value!r} is not a positive number of seconds",
                           "use a number > 0")
        if not 0 < self.idle_refresh <= IDLE_REFRESH_MAX:
            raise _bad("idle_refresh", f"{self.idle_refresh!r} is outside (0, 1740] s",
                       "RFC 2177: re-issue IDLE at least every 29 minutes")
        if self.max_connections > HUBSPOT_LIMIT:
            raise _bad("max_connections", f"{self.max_connections} exceeds the budget of "
                       f"{HUBSPOT_LIMIT}", f"use at most {HUBSPOT_LIMIT}")


@dataclass(frozen=True)
class FolderStats:
    folder: str
    role: str | None
    messages: int | None
    uidnext: int | None
    last_uid: int | None


@dataclass(frozen=True)
class AccountStats:
    """A snapshot for the TUI: counts, progress, the connection budget."""

    account: str
    state: State
    connections_in_use: int
    connection_limit: int
    folders: tuple[FolderStats, ...]
    progress: tuple[ScanProgress, ...]
    logins: int
    login_attempts: int
    reconnects: int
    delivered: int
    last_error: str | None


Subscriber = Callable[[AccountEvent], None]


class Account:
    """One account on one asyncio loop; ``start()``/``stop()``; not thread-safe."""

    def __init__(
        self,
        settings: AccountSettings,
        secret: Secret,
        db_path: str | os.PathLike[str],
        *,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        trace: TraceFn | TraceHub | None = None,
        sink: MessageSink | None = None,
        options: AccountOptions = AccountOptions(),
        tracked: Callable[[], Iterable[str]] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        name: str | None = None,
    ) -> None:
        if not isinstance(settings, AccountSettings):
            raise ConfigError(f"settings must be AccountSettings, got {type(settings).__name__}")
        if not isinstance(secret, Secret):
            raise ConfigError("the password must be an engine.secrets.Secret (it hides itself "
                              "from logs)", code="secret_type")
        if not isinstance(options, AccountOptions):
            raise ConfigError(f"options must be AccountOptions, got {type(options).__name__}")
        self.settings = settings
        self.name = name or settings.username
        self.options = options
        self.db_path = db_path
        self.clock = clock
        self._secret = secret
        self._sink = sink
        self._tracked = tracked
        self._ssl_context = ssl_context
        self.hub = trace if isinstance(trace, TraceHub) else TraceHub()
        if trace is not None and not isinstance(trace, TraceHub):
            self.hub.subscribe(trace)
        self.supervisor = Supervisor(self.name, clock)
        self.supervisor.subscribe(self._on_state)
        self.pool = ConnectionPool(options.max_connections, trace=self.hub.emit,
                                   account=self.name)
        self.backoff = Backoff(rng or random.Random(0), options.backoff)
        self.roles: dict[Role, RoleChoice] = {}
        self.last_error: EngineError | None = None
        self.logins = 0
        self.login_attempts = 0
        self.reconnects = 0
        self.delivered = 0
        self._subscribers: list[Subscriber] = []
        self._folders: dict[str, FolderStats] = {}
        self._progress: dict[str, ScanProgress] = {}
        self._watched: list[str] = []
        self._links: list[Link] = []
        self._main: Link | None = None
        self._lock = asyncio.Lock()
        self._relist = False
        self._task: asyncio.Task[None] | None = None
        self._db: Database | None = None
        self._store: CheckpointStore | None = None

    def __repr__(self) -> str:
        return f"Account({self.name!r}, state={self.state.value!r}, pool={self.pool})"

    # -- public API ------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self.supervisor.state

    @property
    def store(self) -> CheckpointStore:
        if self._store is None:
            raise RuntimeError("the account has not been started")
        return self._store

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """``fn(event)`` for every StateChanged and account event; returns an unsubscriber."""
        self._subscribers.append(fn)

        def unsubscribe() -> None:
            if fn in self._subscribers:
                self._subscribers.remove(fn)

        return unsubscribe

    @property
    def stats(self) -> AccountStats:
        return AccountStats(
            account=self.name, state=self.state, connections_in_use=self.pool.in_use,
            connection_limit=self.pool.limit, folders=tuple(self._folders.values()),
            progress=tuple(self._progress.values()), logins=self.logins,
            login_attempts=self.login_attempts, reconnects=self.reconnects,
            delivered=self.delivered,
            last_error=None if self.last_error is None else str(self.last_error),
        )

    async def start(self) -> None:
        """Open the database and run; also the way out of auth_error/connect_error."""
        if self._task is not None and not self._task.done():
            return
        if self._db is None:
            self._db = await Database.open(self.db_path)
            self._store = CheckpointStore(self._db, self.clock)
        self.backoff.reset()
        self.supervisor.fire(Event.START)
        self._task = asyncio.create_task(self._run(), name=f"account {self.name}")

    async def stop(self) -> None:
        """Close every connection and the database; no task is left pending."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close_links()
        if self.state is not State.STOPPED:
            self.supervisor.fire(Event.STOP)
        await self._heal_db()
        if self._db is not None:
            await self._db.close()
            self._db = self._store = None

    async def find_replies(self, folder: str, message_ids: Iterable[str]) -> list[int]:
        """UIDs of replies to ``message_ids`` in ``folder``, by server SEARCH on the scanner."""
        main = self._main
        if main is None:
            raise EngineError("the account is not connected", code="not_connected",
                              stage="imap_search")
        async with self._lock:
            return await find_replies(main.client, folder, message_ids)

    # -- events ----------------------------------------------------------------------------

    def _publish(self, event: AccountEvent) -> None:
        if isinstance(event, ScanProgress):
            self._progress[event.folder] = event
        self.hub.emit(f"account.{type(event).__name__}", {
            k: v for k, v in vars(event).items() if k != "error"} | {"account": self.name})
        for fn in list(self._subscribers):
            try:
                fn(event)
            except Exception:
                log.exception("account subscriber %r failed on %r", fn, event)

    def _on_state(self, change: StateChanged) -> None:
        self._publish(change)

    # -- supervision -----------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                try:
                    await self._session()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    await self._close_links()
                    if not await self._recover(classify(exc)):
                        return
        finally:
            await self._close_links()

    async def _recover(self, err: EngineError) -> bool:
        """Record ``err``; wait and return True to reconnect, or False to stay down."""
        self.last_error = err
        delay = self.backoff.next_delay(err, self.clock.monotonic())
        event = event_for_error(err)
        if delay is not None and event is not Event.TRANSIENT_FAILURE:
            delay = None  # the table says permanent; never retry it
        if self.supervisor.can(event):
            self.supervisor.fire(event, detail=str(err), error=err)
        else:  # a rejected login outside "authenticating" cannot happen; stay safe anyway
            self.supervisor.fire(Event.PERMANENT_FAILURE, detail=str(err), error=err)
            delay = None
        if delay is None:
            self._publish(notice_for(self.name, err, self.clock.wall()))
            return False
        self._publish(RetryScheduled(self.name, delay, self.backoff.attempts, err.code,
                                     self.clock.wall()))
        await asyncio.sleep(delay)
        self.reconnects += 1
        self.supervisor.fire(Event.RETRY)
        return True

    async def _open(self, purpose: str) -> Link:
        link = await open_link(
            self.settings, self.pool, purpose,
            options=ConnectOptions(self.options.connect_timeout, self.options.command_timeout,
                                   self.options.cafile),
            ssl_context=self._ssl_context,
            trace=self.hub.client_hook if self.hub.active else None,
        )
        self._links.append(link)
        return link

    async def _login(self, link: Link) -> None:
        self.login_attempts += 1
        await login(link, self.settings, self._secret)
        self.logins += 1

    async def _heal_db(self) -> None:
        """Roll back a transaction a cancelled scan left open.

        ``Database.transaction`` cannot roll back when the cancellation lands on its
        BEGIN or COMMIT (the statement still runs in aiosqlite's thread). Holding the
        database lock, one round trip drains that thread's queue; then an open
        transaction can only be such a leftover.
        """
        db = self._db
        if db is None:
            return
        async with db._lock:
            await db.scalar("SELECT 1")
            if db.conn.in_transaction:
                log.warning("rolling back a transaction left open by a cancelled scan")
                await db.conn.execute("ROLLBACK")

    async def _close_links(self) -> None:
        links, self._links = self._links, []
        self._main = None
        for link in links:
            await link.close()

    # -- one session -----------------------------------------------------------------------

    async def _session(self) -> None:
        main = await self._open("scan")
        self.supervisor.fire(Event.CONNECT_OK)
        await self._login(main)
        caps = main.client.caps or await main.client.capability()
        watcher = None
        if self.options.idle and "IDLE" in caps:
            watcher = await self._open("watch")
            await self._login(watcher)
        self.backoff.logged_in(self.clock.monotonic())
        self.supervisor.fire(Event.LOGIN_OK)
        self._main = main
        await self._discover(main)
        inbox = self._inbox()
        dirty = asyncio.Event()
        tasks = [asyncio.create_task(self._scan_loop(main, dirty))]
        if watcher is not None:
            await watcher.client.select(inbox)

            def news(events: Sequence[ImapEvent]) -> None:
                exists = next((e.n for e in events if isinstance(e, Exists)), None)
                self._publish(NewMail(self.name, inbox, exists, self.clock.wall()))
                dirty.set()

            tasks.append(asyncio.create_task(idle_loop(
                watcher, inbox, self.options.idle_refresh, news,
                lambda: self.hub.emit("watch.idle", {"account": self.name, "folder": inbox}))))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._heal_db()
        for task in done:
            task.result()

    def _inbox(self) -> str:
        choice = self.roles.get(Role.INBOX)
        return choice.folder if choice is not None and choice.folder else "INBOX"

    async def _discover(self, main: Link) -> None:
        """LIST, pick roles, choose what to watch, read sizes (and warn about huge folders)."""
        client = main.client
        items = await client.list()
        method = ListMethod.SPECIAL_USE if "SPECIAL-USE" in client.caps else ListMethod.LIST
        listed = folders_from_list(items)
        self.roles = detect_roles(listed, method, self.settings.overrides)
        self.hub.emit("account.roles", {"account": self.name, "roles": {
            r.value: (c.folder, c.reason) for r, c in self.roles.items()}})
        role_of = {c.folder: r.value for r, c in self.roles.items() if c.folder}
        wanted = [self._inbox()]
        sent = self.roles.get(Role.SENT)
        if sent is not None and sent.folder and sent.folder not in wanted:
            wanted.append(sent.folder)
        if self.options.folders == "all":
            wanted += [f.name for f in listed if f.selectable and f.name not in wanted]
        self._watched = wanted
        self._folders = {}
        for folder in wanted:
            status = (await client.status(folder, ("MESSAGES", "UIDNEXT", "UIDVALIDITY"))).items
            messages = status.get("MESSAGES")
            cp = await self.store.get(self.name, folder)
            self._folders[folder] = FolderStats(folder, role_of.get(folder), messages,
                                                status.get("UIDNEXT"),
                                                None if cp is None else cp.last_uid)
            if messages is not None and messages >= self.options.large_folder:
                self._publish(LargeFolderWarning(self.name, folder, messages,
                                                 self.options.large_folder, self.clock.wall()))
        self._relist = False

    async def _scan_loop(self, main: Link, dirty: asyncio.Event) -> None:
        """The first pass, then a pass over INBOX when the watcher wakes us and over every
        watched folder each ``poll_interval`` (INBOX included: it is how a server without
        IDLE gets polled)."""
        await self._pass(main, list(self._watched))
        while True:
            try:
                async with asyncio.timeout(self.options.poll_interval):
                    await dirty.wait()
            except TimeoutError:
                if self._relist:
                    await self._discover(main)
                await self._pass(main, list(self._watched))
                continue
            dirty.clear()
            await self._pass(main, [self._inbox()])

    async def _pass(self, main: Link, folders: list[str]) -> None:
        self.supervisor.fire(Event.SYNC_STARTED)
        for folder in folders:
            await self._scan_one(main, folder)
        self.supervisor.fire(Event.SYNC_DONE)

    async def _scan_one(self, main: Link, folder: str) -> None:
        store = self.store
        progress = ProgressSink(self._deliver, store, self.name, folder, self.clock,
                                self._publish)
        async with self._lock:
            try:
                checkpoint = await store.get(self.name, folder)
                tracked = self._small_tracked_set() if checkpoint is None else None
                if self.options.initial_scan == "full" and tracked is not None:
                    await deliver_replies(main.client, store, self.name, folder, tracked,
                                          progress)
                    how: Mapping[str, Any] = {"action": "search_replies",
                                              "tracked": len(tracked)}
                else:
                    backfill = FULL_BACKFILL if self.options.initial_scan == "full" else 0
                    result = await scan_folder(main.client, store, self.name, folder, progress,
                                               batch=self.options.batch, backfill=backfill)
                    how = {"action": result.plan.action.value, "reason": result.plan.reason}
            except ServerRefused as exc:
                if isinstance(exc, Throttled) or exc.status != "NO" or exc.stage not in (
                        "imap_status", "imap_select"):
                    raise
                await self._folder_gone(folder, exc)
                return
        checkpoint = await store.get(self.name, folder)
        old = self._folders.get(folder)
        self._folders[folder] = FolderStats(
            folder, old.role if old else None, old.messages if old else None,
            None if checkpoint is None else checkpoint.uidnext,
            None if checkpoint is None else checkpoint.last_uid)
        if progress.delivered:
            self._publish(progress.progress(finished=True))
        self.hub.emit("scan.folder", {"account": self.name, "folder": folder,
                                      "delivered": progress.delivered, **how})

    def _small_tracked_set(self) -> list[str] | None:
        if self._tracked is None:
            return None
        ids = list(self._tracked())
        return ids if len(ids) <= self.options.small_tracked_set else None

    async def _folder_gone(self, folder: str, exc: ServerRefused) -> None:
        await self.store.delete(self.name, folder)
        self._folders.pop(folder, None)
        if folder in self._watched and folder != self._inbox():
            self._watched.remove(folder)
        self._relist = True
        self._publish(FolderGone(self.name, folder, exc.server_text, self.clock.wall()))

    async def _deliver(self, message: ScannedMessage) -> None:
        self.delivered += 1
        if self._sink is not None:
            pending = self._sink(message)
            if pending is not None:
                await pending


__all__ = ["Account", "AccountOptions", "AccountStats", "FolderStats"]
