"""The supervision table: every legal move, every illegal one, and the events subscribers see."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from inboxlab.engine.clock import ManualClock
from inboxlab.engine.errors import (
    AuthFailed,
    ConfigError,
    Disconnected,
    ServerRefused,
    Throttled,
    TimedOut,
    TlsError,
)
from inboxlab.engine.states import (
    STATE_INFO,
    TRANSITIONS,
    Event,
    IllegalTransition,
    State,
    StateChanged,
    Supervisor,
    event_for_error,
    next_state,
)

S, E = State, Event
LIVE = (S.CONNECTING, S.AUTHENTICATING, S.CONNECTED, S.SYNCING, S.IDLE)

# Written out by hand (not derived from the module) so a changed row fails here.
EXPECTED: dict[tuple[State, Event], State] = {
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
    **{(s, E.TRANSIENT_FAILURE): S.DISCONNECTED for s in LIVE},
    **{(s, E.PERMANENT_FAILURE): S.CONNECT_ERROR for s in LIVE},
    **{(s, E.STOP): S.STOPPED for s in State if s is not S.STOPPED},
}
ALL_PAIRS = [(s, e) for s in State for e in Event]


def test_table_is_exactly_the_expected_one() -> None:
    assert dict(TRANSITIONS) == EXPECTED


@pytest.mark.parametrize(("state", "event"), sorted(EXPECTED))
def test_every_legal_transition(state: State, event: Event) -> None:
    sup = Supervisor(initial=state, clock=ManualClock())
    change = sup.fire(event)
    assert (change.old, change.new, change.cause) == (state, EXPECTED[(state, event)], event)
    assert sup.state is EXPECTED[(state, event)]


@pytest.mark.parametrize(("state", "event"), [p for p in ALL_PAIRS if p not in EXPECTED])
def test_every_illegal_transition_raises_and_keeps_state(state: State, event: Event) -> None:
    sup = Supervisor(initial=state)
    seen: list[StateChanged] = []
    sup.subscribe(seen.append)
    assert not sup.can(event)
    with pytest.raises(IllegalTransition) as caught:
        sup.fire(event)
    assert sup.state is state
    assert seen == []
    assert caught.value.state is state and caught.value.event is event


def test_illegal_transition_message_lists_what_is_allowed() -> None:
    with pytest.raises(IllegalTransition, match=r"'stopped' on 'login_ok'.*allowed here: start"):
        next_state(S.STOPPED, E.LOGIN_OK)


def test_auth_error_only_from_authenticating() -> None:
    sources = {s for (s, e), new in TRANSITIONS.items() if new is S.AUTH_ERROR}
    assert sources == {S.AUTHENTICATING}


def test_every_state_is_reachable_from_stopped() -> None:
    reached = {S.STOPPED}
    frontier = [S.STOPPED]
    while frontier:
        here = frontier.pop()
        for (s, _e), new in TRANSITIONS.items():
            if s is here and new not in reached:
                reached.add(new)
                frontier.append(new)
    assert reached == set(State)


def test_every_state_has_display_data() -> None:
    assert set(STATE_INFO) == set(State)
    for info in STATE_INFO.values():
        assert info.label and info.colour and info.description
        assert info.tone in {"off", "busy", "ok", "warn", "error"}


def test_subscribers_see_a_full_session_with_clock_times() -> None:
    clock = ManualClock(wall_start=datetime(2026, 3, 1, tzinfo=UTC))
    sup = Supervisor(account="ann@example.com", clock=clock)
    seen: list[StateChanged] = []
    sup.subscribe(seen.append)
    boom = ConnectionResetError("reset by peer")
    for event in (E.START, E.CONNECT_OK, E.LOGIN_OK, E.SYNC_STARTED, E.SYNC_DONE):
        sup.fire(event)
        clock.advance(1)
    sup.fire(E.TRANSIENT_FAILURE, detail="reset", error=boom)
    assert [c.new for c in seen] == [
        S.CONNECTING, S.AUTHENTICATING, S.CONNECTED, S.SYNCING, S.IDLE, S.DISCONNECTED]
    assert seen[-1].error is boom and seen[-1].detail == "reset"
    assert seen[-1].account == "ann@example.com"
    assert seen[0].at == datetime(2026, 3, 1, tzinfo=UTC)
    assert (seen[-1].at - seen[0].at).total_seconds() == 5


def test_unsubscribe_and_failing_subscriber_does_not_block_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sup = Supervisor()
    seen: list[StateChanged] = []

    def broken(_change: StateChanged) -> None:
        raise ValueError("observer bug")

    sup.subscribe(broken)
    unsubscribe = sup.subscribe(seen.append)
    with caplog.at_level(logging.ERROR, logger="inboxlab.engine.states"):
        sup.fire(E.START)
    assert len(seen) == 1
    assert "observer bug" in caplog.text
    unsubscribe()
    sup.fire(E.STOP)
    assert len(seen) == 1


@pytest.mark.parametrize(("error", "event"), [
    (AuthFailed("bad password"), E.AUTH_FAILURE),
    (ConfigError("port"), E.PERMANENT_FAILURE),
    (TlsError("untrusted", permanent=True), E.PERMANENT_FAILURE),
    (ServerRefused("NO", permanent=True), E.PERMANENT_FAILURE),
    (Throttled("slow down"), E.TRANSIENT_FAILURE),
    (Disconnected("eof"), E.TRANSIENT_FAILURE),
    (TimedOut("late"), E.TRANSIENT_FAILURE),
    (ConnectionResetError("reset"), E.TRANSIENT_FAILURE),
])
def test_event_for_error(error: BaseException, event: Event) -> None:
    assert event_for_error(error) is event


def test_fail_records_the_error_itself() -> None:
    sup = Supervisor(initial=S.AUTHENTICATING)
    error = AuthFailed("LOGIN refused", server_text="[AUTHENTICATIONFAILED] nope")
    change = sup.fail(error)
    assert change.new is S.AUTH_ERROR and change.error is error
    assert "AUTHENTICATIONFAILED" in change.detail
