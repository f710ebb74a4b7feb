"""Backoff: deterministic with a seed, capped, harsher on young sessions, silent on permanent."""

from __future__ import annotations

import random

import pytest

from inboxlab.engine.backoff import Backoff, BackoffPolicy
from inboxlab.engine.errors import AuthFailed, ConfigError, Disconnected, Throttled


def delays(seed: int, n: int) -> list[float]:
    backoff = Backoff(random.Random(seed))
    out = []
    for i in range(n):
        delay = backoff.next_delay(Disconnected("gone"), now=float(i))
        assert delay is not None
        out.append(delay)
    return out


def test_same_seed_same_delays_other_seed_other_delays() -> None:
    assert delays(7, 20) == delays(7, 20)
    assert delays(7, 20) != delays(8, 20)


def test_first_delay_is_between_one_and_three_seconds() -> None:
    firsts = [delays(seed, 1)[0] for seed in range(200)]
    assert all(1.0 <= d <= 3.0 for d in firsts)
    assert min(firsts) < 1.3 and max(firsts) > 2.7  # really spread, not a constant


def test_growth_by_one_and_a_half_until_the_cap() -> None:
    policy = BackoffPolicy(base_min=2.0, base_max=2.0)  # no jitter: exact sequence
    backoff = Backoff(random.Random(0), policy)
    got = [backoff.next_delay(Disconnected("x"), now=0.0) for _ in range(12)]
    expected = [min(30.0, 2.0 * 1.5**n) for n in range(12)]
    assert got == pytest.approx(expected)
    assert got[-1] == 30.0


def test_cap_holds_for_every_seed_and_a_very_long_outage() -> None:
    for seed in range(20):
        assert max(delays(seed, 60)) <= 30.0
    backoff = Backoff(random.Random(1))
    got = [backoff.next_delay(Disconnected("x"), now=float(i)) for i in range(5000)]
    assert got[-1000:] == [30.0] * 1000  # a day of outage: pinned at the cap, no overflow


@pytest.mark.parametrize("error", [
    AuthFailed("bad password"),
    ConfigError("bad port"),
    Disconnected("gone", permanent=True),
])
def test_permanent_failures_stop_retrying(error: Exception) -> None:
    assert Backoff(random.Random(0)).next_delay(error, now=0.0) is None


def test_transient_failures_and_plain_os_errors_retry() -> None:
    backoff = Backoff(random.Random(0))
    assert backoff.next_delay(Throttled("slow down"), now=0.0) is not None
    assert backoff.next_delay(ConnectionResetError(), now=1.0) is not None


def test_a_session_dying_soon_after_login_is_a_strike() -> None:
    policy = BackoffPolicy(base_min=2.0, base_max=2.0, short_session=60.0)
    plain = Backoff(random.Random(0), policy)
    struck = Backoff(random.Random(0), policy)
    plain_delays, struck_delays = [], []
    now = 0.0
    for _ in range(3):
        plain_delays.append(plain.next_delay(Disconnected("x"), now))
        struck.logged_in(now)
        now += 5.0  # died five seconds after login
        struck_delays.append(struck.next_delay(Disconnected("x"), now))
    assert struck.strikes == 3
    assert struck_delays == pytest.approx([d * 2**(i + 1) for i, d in enumerate(plain_delays)])


def test_strikes_are_capped_separately() -> None:
    policy = BackoffPolicy(base_min=2.0, base_max=2.0)
    backoff = Backoff(random.Random(0), policy)
    worst = 0.0
    for i in range(200):
        backoff.logged_in(float(i))
        delay = backoff.next_delay(Disconnected("x"), float(i) + 1)
        assert delay is not None
        worst = max(worst, delay)
    assert worst == policy.strike_cap


def test_a_long_healthy_session_clears_attempts_and_strikes() -> None:
    policy = BackoffPolicy(base_min=2.0, base_max=2.0, short_session=60.0)
    backoff = Backoff(random.Random(0), policy)
    for i in range(5):
        backoff.logged_in(float(i))
        backoff.next_delay(Disconnected("x"), float(i) + 1)
    assert backoff.strikes > 0 and backoff.attempts > 0
    backoff.logged_in(100.0)
    assert backoff.next_delay(Disconnected("x"), 100.0 + 3600) == 2.0
    assert (backoff.attempts, backoff.strikes) == (1, 0)


def test_reset_forgets_everything() -> None:
    backoff = Backoff(random.Random(0), BackoffPolicy(base_min=2.0, base_max=2.0))
    for _ in range(4):
        backoff.next_delay(Disconnected("x"), 0.0)
    backoff.reset()
    assert backoff.next_delay(Disconnected("x"), 0.0) == 2.0


@pytest.mark.parametrize("kwargs", [
    {"base_min": 0.0}, {"base_min": 4.0, "base_max": 3.0}, {"factor": 0.5},
    {"cap": 2.0}, {"strike_cap": 10.0},
])
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="BackoffPolicy"):
        BackoffPolicy(**kwargs)
