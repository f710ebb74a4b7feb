"""The first-sync choice between a reply SEARCH and a header scan (sans-I/O)."""

from __future__ import annotations

import pytest

from inboxlab.engine.replies import SEARCH_WINS_AT, estimate_first_sync


@pytest.mark.parametrize("tracked", [1, 3, 5])
def test_a_few_tracked_threads_in_a_big_folder_search(tracked: int) -> None:
    choice = estimate_first_sync(tracked, 100_000)
    assert choice.search
    assert choice.ratio <= SEARCH_WINS_AT
    assert "search" in choice.reason.rsplit(":", 1)[1]


@pytest.mark.parametrize("tracked", [30, 100, 500])
def test_many_tracked_threads_scan_because_each_id_costs_the_server_a_pass(
        tracked: int) -> None:
    """100 IDs are 200 HEADER keys: Dovecot's search took 2x the warm scan (issue 15)."""
    choice = estimate_first_sync(tracked, 100_000)
    assert not choice.search
    assert choice.reason.endswith(": scan")


def test_the_ratio_grows_with_the_tracked_set_not_the_folder() -> None:
    small, big = estimate_first_sync(4, 10_000), estimate_first_sync(4, 1_000_000)
    assert small.search and big.search
    assert abs(small.ratio - big.ratio) < 0.1
    assert estimate_first_sync(8, 100_000).ratio > estimate_first_sync(4, 100_000).ratio


def test_a_tiny_folder_is_scanned_the_fixed_costs_dominate() -> None:
    assert not estimate_first_sync(2, 50).search


def test_no_tracked_set_or_one_over_the_limit_scans() -> None:
    assert not estimate_first_sync(0, 100_000).search
    over = estimate_first_sync(3, 100_000, limit=2)
    assert not over.search and "more than 2" in over.reason


def test_an_unknown_folder_size_is_estimated_as_a_big_folder() -> None:
    assert estimate_first_sync(2, None).search
    assert "~100000" in estimate_first_sync(2, None).reason
