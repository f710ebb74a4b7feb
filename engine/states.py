"""Account supervision states as ONE table, shared by the engine and the TUI's badge.

Every legal move is a row of ``TRANSITIONS``; anything else raises
``IllegalTransition``, so a supervisor bug shows up as an error instead of a badge
that silently lies. ``STATE_INFO`` carries the label/colour/tone the UI shows, as
plain data, so the TUI reads the same states without the engine importing Textual.

The lifecycle::

    stopped --start--> connecting --connect_ok--> authenticating --login_ok--> connected
    connected/idle --sync_started--> syncing --sync_done--> idle (watching for new mail)
    any live state --transient_failure--> disconnected --retry--> connecting
    connecting/authenticating/connected/syncing/idle --permanent_failure--> connect_error
    authenticating --auth_failure--> auth_error
    auth_error/connect_error --start--> connecting    (after the person fixed something)
    any state but stopped --stop--> stopped

``authenticating`` sits between ``connecting`` and ``connected`` so a rejected
password can only come from the step that sent one, and the badge can say which
step is slow (a TLS hang versus a slow LOGIN).

Why the errors live here and not in ``engine/errors.py``: an illegal transition is
a bug in the engine, never something a server did, so it has no cause code, server
text or remediation; it is deliberately outside the operational EngineError tree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from inboxlab.engine.clock import SYSTEM_CLOCK, Clock
from inboxlab.engine.errors import AuthFailed, EngineError, TokenUnavailable
from inboxlab.engine.trace import subscription

log = logging.getLogger(__name__)


class State(StrEnum):
    STOPPED = "stopped"
    CONNECTING = "connecting"
    AUTHENTICATING = "authenticating"
    CONNECTED = "connected"
    SYNCING = "syncing"
    IDLE = "idle"
    DISCONNECTED = "disconnected"
    AUTH_ERROR = "auth_error"
    CONNECT_ERROR = "connect_error"


class Event(StrEnum):
    START = "start"
    CONNECT_OK = "connect_ok"
    LOGIN_OK = "login_ok"
    SYNC_STARTED = "sync_started"
    SYNC_DONE = "sync_done"
    TRANSIENT_FAILURE = "transient_failure"
    PERMANENT_FAILURE = "permanent_failure"
    AUTH_FAILURE = "auth_failure"
    RETRY = "retry"
    STOP = "stop"


S, E = State, Event
_LIVE = (S.CONNECTING, S.AUTHENTICATING, S.CONNECTED, S.SYNCING, S.IDLE)

_ROWS: dict[tuple[State, Event], State] = {
    (S.STOPPED, E.START): S.CONNECTING,
    (S.AUTH_ERROR, E.START): S.CONNECTING,
    (S.CONNECT_ERROR, E.START): S.CONNECTING,
    (S.DISCONNECTED, E.RETRY): S.CONNECTING,
    (S.CONNECTING, E.CONNECT_OK): S.AUTHENTICATING,
    (S.AUTHENTICATING, E.LOGIN_OK): S.CONNECTED,
    (S.AUTHENTICATING, E.AUTH_FAILURE): S.AUTH_ERROR,
    (S.CONNECTED, E.SYNC_STARTED): S.SYNCING,
    (S.IDLE, E.SYNC_STARTED): S.SYNCING,
    (S.SYNCING, E.SYNC_DONE): S.IDLE,
}
for _live in _LIVE:
    _ROWS[(_live, E.TRANSIENT_FAILURE)] = S.DISCONNECTED
    _ROWS[(_live, E.PERMANENT_FAILURE)] = S.CONNECT_ERROR
for _state in State:
    if _state is not S.STOPPED:
        _ROWS[(_state, E.STOP)] = S.STOPPED

TRANSITIONS: Mapping[tuple[State, Event], State] = MappingProxyType(_ROWS)
"""(state, event) -> next state. The whole state machine; nothing else decides."""


@dataclass(frozen=True)
class StateInfo:
    """How a state looks: ``colour`` is a plain colour name any renderer knows."""

    label: str
    colour: str
    tone: str  # "off" | "busy" | "ok" | "warn" | "error"
    description: str


STATE_INFO: Mapping[State, StateInfo] = MappingProxyType({
    S.STOPPED: StateInfo("Stopped", "grey", "off", "Not running."),
    S.CONNECTING: StateInfo(
        "Connecting", "yellow", "busy", "Opening the connection (TCP, TLS, greeting)."),
    S.AUTHENTICATING: StateInfo("Logging in", "yellow", "busy", "Sending the credentials."),
    S.CONNECTED: StateInfo("Connected", "green", "ok", "Logged in; about to scan folders."),
    S.SYNCING: StateInfo("Syncing", "cyan", "busy", "Scanning folders for new mail."),
    S.IDLE: StateInfo("Watching", "green", "ok", "Up to date; waiting for new mail."),
    S.DISCONNECTED: StateInfo(
        "Disconnected", "yellow", "warn", "Lost the connection; will retry after a backoff."),
    S.AUTH_ERROR: StateInfo(
        "Login failed", "red", "error", "The server rejected the credentials; not retrying."),
    S.CONNECT_ERROR: StateInfo(
        "Cannot connect", "red", "error", "A permanent error; not retrying until restarted."),
})


class IllegalTransition(RuntimeError):
    """The engine fired an event the table has no row for: a bug, not a server problem."""

    def __init__(self, state: State, event: Event) -> None:
        allowed = sorted(e.value for (s, e) in TRANSITIONS if s is state)
        super().__init__(
            f"no transition from {state.value!r} on {event.value!r} "
            f"(allowed here: {', '.join(allowed) or 'none'})"
        )
        self.state = state
        self.event = event


def next_state(state: State, event: Event) -> State:
    """Look the move up in the table; raise ``IllegalTransition`` if there is no row."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(state, event) from None


def event_for_error(error: BaseException) -> Event:
    """Which failure event an error is: the supervisor never re-guesses from messages.

    Rejected credentials get their own event (and state), other permanent errors stop
    retrying, and everything else - including an exception from outside the engine's
    tree, such as a stray ``OSError`` - is transient.
    """
    if isinstance(error, AuthFailed) or (
            isinstance(error, TokenUnavailable) and error.permanent):
        return E.AUTH_FAILURE  # an OAuth grant that cannot be refreshed: reconnect too
    if isinstance(error, EngineError) and error.permanent:
        return E.PERMANENT_FAILURE
    return E.TRANSIENT_FAILURE


@dataclass(frozen=True)
class StateChanged:
    """One transition, as delivered to subscribers (timeline, badge, traces).

    ``error`` is the engine error that caused a failure transition, so the
    diagnostics screen reads its code and server text instead of parsing ``detail``.
    """

    old: State
    new: State
    cause: Event
    at: datetime
    account: str = ""
    detail: str = ""
    error: BaseException | None = None


Subscriber = Callable[[StateChanged], None]


class Supervisor:
    """Holds one account's state and tells subscribers about every move.

    Not thread-safe by design: the engine calls it from its own event loop; the
    TUI receives ``StateChanged`` via its own thread-safe message passing.
    """

    def __init__(
        self, account: str = "", clock: Clock = SYSTEM_CLOCK, initial: State = S.STOPPED
    ) -> None:
        self.account = account
        self._clock = clock
        self._state = initial
        self._subscribers: list[Subscriber] = []

    @property
    def state(self) -> State:
        return self._state

    @property
    def info(self) -> StateInfo:
        return STATE_INFO[self._state]

    def can(self, event: Event) -> bool:
        return (self._state, event) in TRANSITIONS

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Register ``fn``; returns a function that unsubscribes it."""
        return subscription(self._subscribers, fn)

    def fire(
        self, event: Event, *, detail: str = "", error: BaseException | None = None
    ) -> StateChanged:
        """Apply ``event``; every subscriber sees the change even if one of them fails."""
        new = next_state(self._state, event)
        change = StateChanged(
            old=self._state, new=new, cause=event, at=self._clock.wall(),
            account=self.account, detail=detail, error=error,
        )
        self._state = new
        for fn in list(self._subscribers):
            try:
                fn(change)
            except Exception:
                # An observer (a UI, a trace file) must not be able to stop the engine.
                log.exception("state subscriber %r failed on %s", fn, change)
        return change

    def fail(self, error: BaseException) -> StateChanged:
        """Record a failure: the event comes from the error's type and permanence."""
        return self.fire(event_for_error(error), detail=str(error), error=error)

    def __repr__(self) -> str:
        return f"Supervisor(account={self.account!r}, state={self._state.value!r})"
