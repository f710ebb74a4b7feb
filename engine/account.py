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

``after_pass(client)`` runs at the end of every scan pass, on the scanner's connection
and under its lock, before the pass counts as done: the CRM reads and logs the bodies
its sink queued (``after_pass=logger.fetch_and_log``) without a host re-implementing
the pass loop or opening another connection. An IMAP failure inside it ends the
session like any scan failure; anything else becomes a transient ``after_pass_failed``
(the queue is durable: the next pass after the reconnect reads it again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence

from inboxlab.engine.account_options import AccountOptions, AccountStats, FolderStats
from inboxlab.engine.backoff import Backoff
from inboxlab.engine.checkpoints import CheckpointStore
from inboxlab.engine.clock import SYSTEM_CLOCK, Clock
from inboxlab.engine.connect import ConnectOptions, Link, login, open_link
from inboxlab.engine.db import Database
from inboxlab.engine.errors import (
    ConfigError,
    ConnectError,
    Disconnected,
    EngineError,
    ProtocolViolation,
    ServerRefused,
    TimedOut,
    TokenRejected,
)
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.model import Event as ImapEvent
from inboxlab.engine.imap.model import Exists
from inboxlab.engine.pool import ConnectionPool
from inboxlab.engine.replies import find_replies
from inboxlab.engine.roles import Role, RoleChoice
from inboxlab.engine.scanner import Scanner
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings
from inboxlab.engine.states import Event, State, StateChanged, Supervisor, event_for_error
from inboxlab.engine.supervise import (
    AccountEvent,
    NewMail,
    RetryScheduled,
    ScanProgress,
    classify,
    notice_for,
    suggested_backoff,
)
from inboxlab.engine.sync import MessageSink, ScannedMessage
from inboxlab.engine.tokens import TokenProvider
from inboxlab.engine.trace import TraceFn, TraceHub, subscription
from inboxlab.engine.watch import idle_loop

log = logging.getLogger(__name__)

ERROR_HISTORY = 200

Subscriber = Callable[[AccountEvent], None]
StatsSubscriber = Callable[[AccountStats], None]
# Work to do on the scanner's connection after each pass (the CRM's body fetches).
AfterPass = Callable[[ImapClient], Awaitable[object]]
_CONNECTION_FAILURES = (ConnectError, ProtocolViolation, ServerRefused, Disconnected, TimedOut)


class Account:
    """One account on one asyncio loop; ``start()``/``stop()``; not thread-safe."""

    def __init__(
        self,
        settings: AccountSettings,
        secret: Secret | TokenProvider,
        db_path: str | os.PathLike[str],
        *,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        trace: TraceFn | TraceHub | None = None,
        sink: MessageSink | None = None,
        options: AccountOptions | None = None,
        tracked: Callable[[], Iterable[str]] | None = None,
        after_pass: AfterPass | None = None,
        ssl_context: ssl.SSLContext | None = None,
        name: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not isinstance(settings, AccountSettings):
            raise ConfigError(f"settings must be AccountSettings, got {type(settings).__name__}")
        if not isinstance(secret, Secret | TokenProvider):
            raise ConfigError("the password must be an engine.secrets.Secret (it hides itself "
                              "from logs) or an engine.tokens.TokenProvider (OAuth)",
                              code="secret_type")
        options = AccountOptions() if options is None else options
        if not isinstance(options, AccountOptions):
            raise ConfigError(f"options must be AccountOptions, got {type(options).__name__}")
        self.settings = settings
        self.name = name or settings.username
        self.options = options
        self.db_path = db_path
        self.clock = clock
        self._secret = secret
        self._sink = sink
        self._after_pass = after_pass
        self._ssl_context = ssl_context
        self._sleep = sleep  # injectable: tests replay the backoff without waiting it out
        self.hub = trace if isinstance(trace, TraceHub) else TraceHub()
        if trace is not None and not isinstance(trace, TraceHub):
            self.hub.subscribe(trace)
        self.supervisor = Supervisor(self.name, clock)
        self.supervisor.subscribe(self._on_state)
        self.pool = ConnectionPool(options.max_connections, trace=self.hub.emit,
                                   account=self.name)
        self.backoff = Backoff(rng or random.Random(0), options.backoff)
        self.last_error: EngineError | None = None
        self.logins = 0
        self.login_attempts = 0
        self.reconnects = 0
        self.delivered = 0
        self.passes = 0  # completed scan passes (first sync and every poll/IDLE wake-up)
        self.polls = 0  # of which timed polls (NOOP + every watched folder)
        # The failures the supervisor acted on, newest last (bounded: a day-long outage
        # retried every 30 s must not grow without end).
        self.errors: deque[EngineError] = deque(maxlen=ERROR_HISTORY)
        self.reached: set[State] = {State.STOPPED}
        self._subscribers: list[Subscriber] = []
        self._stats_subscribers: list[StatsSubscriber] = []
        self._stats_sent: tuple[object, ...] | None = None
        self._progress: dict[str, ScanProgress] = {}
        self.scanner = Scanner(self.name, options, clock, self.hub, self._publish,
                               self._deliver, tracked)
        self.scanner.changed = self._stats_changed
        self.pool.changed = self._stats_changed
        self._links: list[Link] = []
        self._main: Link | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._db: Database | None = None
        self._store: CheckpointStore | None = None
        self._wake = asyncio.Event()  # set by retry_now(): cut the backoff wait short
        self._waiting = False  # inside the backoff wait between a failure and its retry

    def __repr__(self) -> str:
        return f"Account({self.name!r}, state={self.state.value!r}, pool={self.pool})"

    # -- public API ------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self.supervisor.state

    @property
    def running(self) -> bool:
        """Whether the runner is alive (connected, retrying or waiting to retry). False
        after ``stop()`` and after a permanent failure: nothing will retry on its own."""
        return self._task is not None and not self._task.done()

    @property
    def roles(self) -> dict[Role, RoleChoice]:
        """Which folder plays which role, with the reason (empty before the first LIST)."""
        return self.scanner.roles

    @property
    def store(self) -> CheckpointStore:
        if self._store is None:
            raise RuntimeError("the account has not been started")
        return self._store

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """``fn(event)`` for every StateChanged and account event; returns an unsubscriber."""
        return subscription(self._subscribers, fn)

    def subscribe_stats(self, fn: StatsSubscriber) -> Callable[[], None]:
        """``fn(stats)`` whenever what ``stats`` shows of the connections, folders (counts,
        roles) or capabilities changes: the counters as an event, so nobody polls them.
        Returns an unsubscriber."""
        return subscription(self._stats_subscribers, fn)

    def _stats_changed(self) -> None:
        if not self._stats_subscribers:
            return
        stats = self.stats
        seen = (stats.connections_in_use, stats.connection_limit, stats.folders,
                stats.capabilities, tuple(sorted((r.value, c.folder) for r, c in
                                                 self.roles.items())))
        if seen == self._stats_sent:
            return
        self._stats_sent = seen
        for fn in list(self._stats_subscribers):
            try:
                fn(stats)
            except Exception:
                log.exception("stats subscriber %r failed", fn)

    @property
    def stats(self) -> AccountStats:
        return AccountStats(
            account=self.name, state=self.state, connections_in_use=self.pool.in_use,
            connection_limit=self.pool.limit, folders=tuple(self.scanner.folders.values()),
            progress=tuple(self._progress.values()), logins=self.logins,
            login_attempts=self.login_attempts, reconnects=self.reconnects,
            delivered=self.delivered,
            last_error=None if self.last_error is None else str(self.last_error),
            capabilities=self.capabilities,
        )

    @property
    def capabilities(self) -> tuple[str, ...]:
        """The server's capabilities as the scan connection last saw them; () offline."""
        main = self._main
        return tuple(sorted(main.client.caps)) if main is not None else ()

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

    @property
    def waiting_to_retry(self) -> bool:
        """Whether the runner sits in the backoff wait (``retry_now`` would cut it short)."""
        return self._waiting

    def retry_now(self) -> bool:
        """Cut the current backoff wait short and reconnect now (a person saw the server
        come back). True if a wait was cut; False when there was none (connected, or
        stopped after a permanent failure: ``start()`` is the way out of that)."""
        if not self._waiting:
            return False
        self.hub.emit("account.retry_now", {"account": self.name})
        self._wake.set()
        return True

    def set_secret(self, secret: Secret | TokenProvider) -> None:
        """A new password or token provider (the person fixed it); used from the next
        login, e.g. ``start()`` after ``auth_error``."""
        if not isinstance(secret, Secret | TokenProvider):
            raise ConfigError("the password must be an engine.secrets.Secret",
                              code="secret_type")
        self._secret = secret

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
        self.reached.add(change.new)
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
        self.errors.append(err)
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
        delay = max(delay, suggested_backoff(err) or 0.0)  # the server knows its load
        self._publish(RetryScheduled(self.name, delay, self.backoff.attempts, err.code,
                                     self.clock.wall()))
        await self._wait_to_retry(delay)
        self.reconnects += 1
        self.supervisor.fire(Event.RETRY)
        return True

    async def _wait_to_retry(self, delay: float) -> None:
        """The backoff wait, which ``retry_now`` may cut short."""
        self._wake.clear()
        self._waiting = True
        sleeper = asyncio.ensure_future(self._sleep(delay))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait((sleeper, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._waiting = False
            for task in (sleeper, woken):
                task.cancel()
            await asyncio.gather(sleeper, woken, return_exceptions=True)

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

    async def _login(self, link: Link) -> Link:
        """Log ``link`` in; returns the link that is logged in (a new one after an OAuth
        refresh: a rejected AUTHENTICATE closes its link).

        OAuth: a rejected token gets one refresh and one retry, never more. A refresh
        that fails (``TokenUnavailable``: the grant was revoked) or a retry that is
        rejected again is permanent; the supervisor stops and says why.
        """
        credential = self._secret
        used = await credential.token() if isinstance(credential, TokenProvider) else None
        self.login_attempts += 1
        try:
            await login(link, self.settings, credential)
        except TokenRejected as exc:
            if not isinstance(credential, TokenProvider):
                raise
            self.hub.emit("oauth.refresh", {"account": self.name, "code": exc.code,
                                            "origin": credential.source.origin})
            await credential.refresh(used)
            link = await self._open(link.purpose)
            self.login_attempts += 1
            await login(link, self.settings, credential)
        self.logins += 1
        return link

    async def _close_links(self) -> None:
        links, self._links = self._links, []
        self._main = None
        self._stats_changed()
        for link in links:
            await link.close()

    # -- one session -----------------------------------------------------------------------

    async def _session(self) -> None:
        main = await self._open("scan")
        self.supervisor.fire(Event.CONNECT_OK)
        main = await self._login(main)
        caps = main.client.caps or await main.client.capability()
        watcher = None
        # The watcher is a second connection; with a budget of one, poll instead.
        if self.options.idle and "IDLE" in caps and self.pool.in_use < self.pool.limit:
            watcher = await self._open("watch")
            watcher = await self._login(watcher)
        self.backoff.logged_in(self.clock.monotonic())
        self.supervisor.fire(Event.LOGIN_OK)
        self._main = main
        self._stats_changed()  # the capabilities are known now
        async with self._lock:
            await self.scanner.discover(main.client, self.store, self.settings.overrides)
        inbox = self.scanner.inbox
        dirty = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        try:
            await self._run_tasks(tasks, main, watcher, inbox, dirty)
        finally:  # whatever ends the session (a BYE to the watcher's SELECT...), no task
            for task in tasks:  # outlives it with an exception nobody retrieves
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _run_tasks(self, tasks: list[asyncio.Task[None]], main: Link,
                         watcher: Link | None, inbox: str, dirty: asyncio.Event) -> None:
        """Start the scan and the watch (into ``tasks``, which the caller reaps) and wait
        until the first fails."""
        tasks.append(asyncio.create_task(self._scan_loop(main, dirty),
                                         name=f"account {self.name}: scan"))
        if watcher is not None:
            await watcher.client.select(inbox)

            def news(events: Sequence[ImapEvent]) -> None:
                exists = next((e.n for e in events if isinstance(e, Exists)), None)
                self._publish(NewMail(self.name, inbox, exists, self.clock.wall()))
                dirty.set()

            def listening() -> None:
                self.hub.emit("watch.idle", {"account": self.name, "folder": inbox})
                # Mail that arrived while no IDLE was listening (between SELECT and the
                # first IDLE, or around a DONE) sent its EXISTS to nobody: look once.
                dirty.set()

            tasks.append(asyncio.create_task(idle_loop(
                watcher, inbox, self.options.idle_refresh, news, listening),
                name=f"account {self.name}: watch"))
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()

    async def _scan_loop(self, main: Link, dirty: asyncio.Event) -> None:
        """The first pass, then a pass over INBOX when the watcher wakes us and over every
        watched folder each ``poll_interval`` (INBOX included: it is how a server without
        IDLE gets polled)."""
        await self._pass(main, list(self.scanner.watched))
        while True:
            try:
                async with asyncio.timeout(self.options.poll_interval):
                    await dirty.wait()
            except TimeoutError:
                async with self._lock:  # keepalive; lets the server flush pending updates
                    await main.client.noop()
                    if self.scanner.relist:
                        await self.scanner.discover(main.client, self.store,
                                                    self.settings.overrides)
                await self._pass(main, list(self.scanner.watched))
                self.polls += 1
                continue
            dirty.clear()
            await self._pass(main, [self.scanner.inbox])

    async def _pass(self, main: Link, folders: list[str]) -> None:
        self.supervisor.fire(Event.SYNC_STARTED)
        for folder in folders:
            async with self._lock:
                await self.scanner.scan(main.client, self.store, folder)
        hook = self._after_pass
        if hook is not None:
            async with self._lock:
                await self._run_after_pass(hook, main.client)
        self.passes += 1
        self.supervisor.fire(Event.SYNC_DONE)

    async def _run_after_pass(self, hook: AfterPass, client: ImapClient) -> None:
        try:
            await hook(client)
        except _CONNECTION_FAILURES:
            raise  # the connection's own failure: the supervisor handles it as usual
        except Exception as exc:  # the host's failure must not read as the server's
            raise self._after_pass_failed(exc) from exc

    @staticmethod
    def _after_pass_failed(exc: Exception) -> EngineError:
        return EngineError(f"the after-pass hook failed: {type(exc).__name__}: {exc}",
                           code="after_pass_failed", permanent=False, stage="imap_fetch",
                           remediation="its work is retried on the next pass after the "
                           "reconnect; check the CRM side")

    async def _deliver(self, message: ScannedMessage) -> None:
        """Hand a message to the CRM; its failure is a typed, transient engine error (the
        batch is replayed after the reconnect: delivery is at-least-once)."""
        self.delivered += 1
        if self._sink is None:
            return
        try:
            pending = self._sink(message)
            if pending is not None:
                await pending
        except Exception as exc:
            raise EngineError(f"the CRM sink failed on {message.folder!r} UID {message.uid}: "
                              f"{type(exc).__name__}: {exc}", code="sink_failed",
                              permanent=False, stage="imap_fetch",
                              remediation="the message will be offered again after a "
                              "reconnect; check the CRM side") from exc


__all__ = ["Account", "AccountOptions", "AccountStats", "AfterPass", "FolderStats", "Subscriber"]
