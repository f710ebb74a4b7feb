"""Scan planning: cheap when nothing is new, batched when something is, fresh on UIDVALIDITY."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from inboxlab.engine.checkpoints import Checkpoint
from inboxlab.engine.errors import ProtocolViolation
from inboxlab.engine.sync import FETCH_ITEMS, Action, FolderStatus, plan_scan, split_range

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def cp(last_uid: int, uidvalidity: int = 7, uidnext: int | None = None,
       modseq: int | None = None) -> Checkpoint:
    return Checkpoint("ann", "INBOX", uidvalidity, uidnext, modseq, last_uid, WHEN)


def test_first_sight_of_a_100k_folder_reads_nothing() -> None:
    plan = plan_scan("INBOX", None, FolderStatus(7, 100_001, messages=100_000))
    assert plan.action is Action.START_FRESH
    assert plan.ranges == ()
    assert plan.start_uid == 100_000
    assert not plan.drop_checkpoint
    assert "first scan" in plan.reason


def test_first_sight_with_backfill_reads_only_the_window() -> None:
    plan = plan_scan("INBOX", None, FolderStatus(7, 100_001), batch=40, backfill=100)
    assert plan.start_uid == 99_900
    assert plan.ranges == ((99_901, 99_940), (99_941, 99_980), (99_981, 100_000))
    assert plan_scan("INBOX", None, FolderStatus(7, 5), backfill=100).ranges == ((1, 4),)


def test_unchanged_uidnext_means_nothing_new() -> None:
    plan = plan_scan("INBOX", cp(100_000), FolderStatus(7, 100_001, highestmodseq=9))
    assert plan.action is Action.NOTHING_NEW and plan.ranges == ()
    assert "HIGHESTMODSEQ moved" in plan.reason
    quiet = plan_scan("INBOX", cp(100_000, modseq=9), FolderStatus(7, 100_001, highestmodseq=9))
    assert "HIGHESTMODSEQ" not in quiet.reason


def test_new_mail_is_fetched_in_bounded_batches_ending_at_uidnext_minus_one() -> None:
    plan = plan_scan("INBOX", cp(1000), FolderStatus(7, 2201), batch=500)
    assert plan.action is Action.FETCH_NEW
    assert plan.ranges == ((1001, 1500), (1501, 2000), (2001, 2200))
    assert plan.uid_count == 1200
    assert plan.start_uid == 1000


def test_a_resumed_scan_continues_from_the_batch_boundary() -> None:
    # A disconnect after the first batch stored last_uid=1500: only the rest is read.
    plan = plan_scan("INBOX", cp(1500, uidnext=2201), FolderStatus(7, 2201), batch=500)
    assert plan.ranges == ((1501, 2000), (2001, 2200))


def test_uidvalidity_change_drops_and_starts_fresh() -> None:
    plan = plan_scan("INBOX", cp(1000, uidvalidity=7), FolderStatus(8, 50))
    assert plan.action is Action.START_FRESH and plan.drop_checkpoint
    assert plan.ranges == () and plan.start_uid == 49
    assert "UIDVALIDITY changed 7 -> 8" in plan.reason


def test_uidnext_going_backwards_is_treated_as_a_reset() -> None:
    plan = plan_scan("INBOX", cp(1000), FolderStatus(7, 10))
    assert plan.action is Action.START_FRESH and plan.drop_checkpoint
    assert "server bug" in plan.reason


def test_split_range() -> None:
    assert split_range(5, 4, 10) == ()
    assert split_range(1, 1, 10) == ((1, 1),)
    assert split_range(1, 10, 3) == ((1, 3), (4, 6), (7, 9), (10, 10))
    with pytest.raises(ValueError, match="batch"):
        split_range(1, 2, 0)
    with pytest.raises(ValueError, match="backfill"):
        plan_scan("INBOX", None, FolderStatus(1, 1), backfill=-1)


def test_status_items_are_checked() -> None:
    status = FolderStatus.from_items("INBOX", {"UIDVALIDITY": 3, "UIDNEXT": 9, "MESSAGES": 8})
    assert status == FolderStatus(3, 9, 8, None)
    with pytest.raises(ProtocolViolation) as caught:
        FolderStatus.from_items("INBOX", {"MESSAGES": 8})
    assert caught.value.code == "status_incomplete" and caught.value.stage == "imap_status"
    with pytest.raises(ProtocolViolation):
        FolderStatus.from_items("INBOX", {"UIDVALIDITY": 0, "UIDNEXT": 9})


def test_fetch_never_reads_bodies_or_sets_seen() -> None:
    body_items = [i for i in FETCH_ITEMS if i.startswith("BODY")]
    assert body_items and all(i.startswith("BODY.PEEK[HEADER.FIELDS") for i in body_items)
    assert "RFC822" not in FETCH_ITEMS and "BODY[]" not in " ".join(FETCH_ITEMS)
