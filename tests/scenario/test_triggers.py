"""The sans-I/O trigger engine and transport shaper: observations in, firings/plans out."""

from __future__ import annotations

from inboxlab.fakeserver.faults.shaping import Shaper
from inboxlab.fakeserver.scenario.model import (
    AtTime,
    Chance,
    Close,
    OnBytes,
    OnCommand,
    OnConnection,
    OnLogin,
    TimelineEvent,
    Trigger,
)
from inboxlab.fakeserver.scenario.triggers import (
    BytesMoved,
    CommandSeen,
    Connected,
    LoginAttempt,
    Tick,
    TriggerEngine,
)


def engine(*triggers: Trigger) -> TriggerEngine:
    return TriggerEngine(tuple(TimelineEvent(f"e{i}", t, Close()) for i, t in enumerate(triggers)))


def test_third_uid_fetch_in_inbox_fires_once() -> None:
    eng = engine(OnCommand(nth=3, name="UID FETCH", mailbox="INBOX"))
    seen = [
        CommandSeen(1, "UID FETCH", "1:* (FLAGS)", "INBOX"),
        CommandSeen(1, "UID FETCH", "1:* (FLAGS)", "Sent"),  # other mailbox: not counted
        CommandSeen(1, "FETCH", "1 (FLAGS)", "INBOX"),  # not UID FETCH
        CommandSeen(2, "UID FETCH", "1 (FLAGS)", "inbox"),
        CommandSeen(2, "UID FETCH", "2 (FLAGS)", "INBOX"),  # the third match
        CommandSeen(2, "UID FETCH", "3 (FLAGS)", "INBOX"),
    ]
    fired = [bool(eng.observe(obs)) for obs in seen]
    assert fired == [False, False, False, False, True, False]


def test_times_repeats_from_the_nth_match() -> None:
    eng = engine(OnCommand(nth=2, name="NOOP", times=2))
    hits = [bool(eng.observe(CommandSeen(1, "NOOP"))) for _ in range(5)]
    assert hits == [False, True, True, False, False]


def test_regex_matches_the_command_line() -> None:
    eng = engine(OnCommand(nth=1, pattern=r"BODY\.PEEK\[\]"))
    assert not eng.observe(CommandSeen(1, "UID FETCH", "1:* (UID FLAGS)", "INBOX"))
    assert eng.observe(CommandSeen(1, "UID FETCH", "5 (BODY.PEEK[])", "INBOX"))


def test_connection_and_login_counts() -> None:
    eng = engine(OnConnection(nth=2), OnLogin(nth=2, user="a@example.com"))
    assert not eng.observe(Connected(1))
    assert [f.index for f in eng.observe(Connected(2))] == [0]
    assert not eng.observe(LoginAttempt(1, "a@example.com"))
    assert not eng.observe(LoginAttempt(2, "b@example.com"))
    fired = eng.observe(LoginAttempt(3, "A@example.com"))
    assert [(f.index, f.conn) for f in fired] == [(1, 3)]


def test_time_triggers_and_deadline() -> None:
    eng = engine(AtTime(5.0), AtTime(2.0))
    assert eng.next_deadline() == 2.0
    assert [f.index for f in eng.observe(Tick(2.5))] == [1]
    assert eng.next_deadline() == 5.0
    assert [f.index for f in eng.observe(Tick(9.0))] == [0]
    assert eng.next_deadline() is None and not eng.observe(Tick(20.0))


def test_byte_budget_splits_exactly_at_the_boundary() -> None:
    eng = engine(OnBytes(count=1000, direction="to_client"))
    assert eng.bytes_budget(1, "to_client", 0) == 1000
    assert eng.bytes_budget(1, "to_server", 0) is None
    assert not eng.observe(BytesMoved(1, "to_client", 999))
    assert eng.observe(BytesMoved(1, "to_client", 1000))
    assert eng.bytes_budget(1, "to_client", 1000) is None  # fired: no more boundary


def test_chance_is_deterministic_per_seed() -> None:
    def run(seed: int) -> list[bool]:
        eng = engine(Chance(probability=0.3, seed=seed))
        return [bool(eng.observe(CommandSeen(1, "NOOP"))) for _ in range(200)]

    first = run(42)
    assert first == run(42)
    assert first != run(43)
    assert 30 < sum(first) < 90  # about 60 of 200


def test_shaper_slices_limits_and_tarpits() -> None:
    shaper = Shaper(slice_size=4)
    plan = shaper.plan(b"0123456789")
    assert [s.data for s in plan.steps] == [b"0123", b"4567", b"89"]
    assert not plan.close_after

    limited = Shaper(limit_left=6)
    first = limited.plan(b"abcd")
    second = limited.plan(b"efghij")
    assert b"".join(s.data for s in first.steps) == b"abcd" and not first.close_after
    assert b"".join(s.data for s in second.steps) == b"ef" and second.close_after

    assert Shaper(tarpit=True).plan(b"hello").steps == ()


def test_shaper_latency_jitter_is_seeded() -> None:
    def delays(seed: int) -> list[float]:
        shaper = Shaper()
        shaper.set_latency(50, 20, seed)
        return [shaper.plan(b"x").steps[0].delay_s for _ in range(10)]

    assert delays(7) == delays(7)
    assert all(0.05 <= d <= 0.07 for d in delays(7))
    assert delays(7) != delays(8)


def test_bandwidth_paces_by_size() -> None:
    shaper = Shaper(bytes_per_s=1000)
    plan = shaper.plan(b"x" * 200)
    assert sum(len(s.data) for s in plan.steps) == 200
    assert abs(sum(s.delay_s for s in plan.steps) - 0.15) < 1e-9  # 4 pieces of 50 bytes
