"""Sans-I/O pieces of the account runner: budget, trace hub, classification, options, queries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from inboxlab.engine.account import AccountOptions
from inboxlab.engine.errors import AuthFailed, ConfigError, EngineError, ServerRefused, Throttled
from inboxlab.engine.imap.commands import build
from inboxlab.engine.pool import ConnectionPool
from inboxlab.engine.replies import normalize_ids, reply_criteria
from inboxlab.engine.supervise import ScanProgress, cause_matches, classify, suggested_backoff
from inboxlab.engine.trace import TraceHub


def test_pool_refuses_a_sixth_connection_and_reports_its_use() -> None:
    seen: list[tuple[str, Mapping[str, Any]]] = []
    pool = ConnectionPool(trace=lambda name, info: seen.append((name, info)), account="a")
    for n in range(5):
        pool.acquire(f"c{n}")
    assert str(pool.stats()) == "5 / 5"
    with pytest.raises(EngineError) as caught:
        pool.acquire("sixth")
    assert caught.value.code == "connection_budget" and "5 of 5" in caught.value.message
    assert caught.value.remediation
    assert seen[-1][0] == "pool.refused" and seen[-1][1]["in_use"] == 5
    pool.release("c0")
    with pool.slot("again"):
        assert pool.in_use == 5
    assert pool.in_use == 4 and pool.peak == 5


@pytest.mark.parametrize("limit", [0, 51, True, 2.5])
def test_pool_limit_is_validated(limit: Any) -> None:
    with pytest.raises(ValueError, match="connection limit"):
        ConnectionPool(limit)


def test_trace_hub_fans_out_and_survives_a_broken_subscriber() -> None:
    hub = TraceHub()
    got: list[str] = []

    def broken(name: str, info: Mapping[str, Any]) -> None:
        raise RuntimeError("observer bug")

    hub.subscribe(broken)
    unsubscribe = hub.subscribe(lambda name, info: got.append(f"{name}:{info['x']}"))
    hub.emit("a.started", {"x": 1})
    hub.client_hook("imap.line.out", x=2)
    unsubscribe()
    hub("a.complete", {"x": 3})
    assert got == ["a.started:1", "imap.line.out:2"]
    assert hub.active  # the broken one is still subscribed


def _refused(text: str, code: str | None = None) -> ServerRefused:
    return ServerRefused("LOGIN refused", status="NO", response_code=code, server_text=text,
                         stage="imap_login")


def test_classify_names_imap_disabled_and_connection_limits() -> None:
    disabled = classify(AuthFailed("LOGIN refused", server_text="[ALERT] Your account is not "
                                   "enabled for IMAP use.", stage="imap_login"))
    assert (disabled.code, disabled.permanent) == ("imap_disabled", True)
    assert disabled.remediation and "IMAP" in disabled.remediation
    too_many = classify(_refused("Too many simultaneous connections. (Failure)", "ALERT"))
    assert (too_many.code, too_many.permanent) == ("too_many_connections", False)
    stray = classify(OSError("boom"))
    assert stray.transient and stray.code == "unexpected"
    plain = _refused("no reason")
    assert classify(plain) is plain


def test_suggested_backoff_is_honoured_and_capped() -> None:
    said = "Request is throttled. Suggested Backoff Time: 30000 milliseconds"
    assert suggested_backoff(Throttled("x", server_text=said)) == 30.0
    assert suggested_backoff(Throttled("x", server_text="Suggested Backoff Time: "
                                       "99999999 milliseconds")) == 300.0
    assert suggested_backoff(Throttled("x", server_text="slow down")) is None
    assert suggested_backoff(_refused(said)) is None  # only a throttling answer counts


def test_cause_matches_codes_and_classes() -> None:
    auth = AuthFailed("x", code="authenticationfailed")
    assert cause_matches(auth, "auth_failed") and cause_matches(auth, "authenticationfailed")
    assert cause_matches(Throttled("x"), "throttled")
    assert not cause_matches(Throttled("x"), "auth_failed")
    assert not cause_matches(ValueError("x"), "throttled")


def test_reply_criteria_is_a_balanced_or_tree_that_quotes_ids() -> None:
    ids = normalize_ids(["<a@x>", "b@y", "<a@x>"])
    assert ids == ["<a@x>", "<b@y>"]
    wire = build("A1", "UID SEARCH", *reply_criteria(ids)).wire
    assert wire == (b'A1 UID SEARCH OR (OR (HEADER "In-Reply-To" "<a@x>") '
                    b'(HEADER "References" "<a@x>")) (OR (HEADER "In-Reply-To" "<b@y>") '
                    b'(HEADER "References" "<b@y>"))\r\n')
    one = build("A2", "UID SEARCH", *reply_criteria(["<c@z>"])).wire
    assert one == (b'A2 UID SEARCH OR (HEADER "In-Reply-To" "<c@z>") '
                   b'(HEADER "References" "<c@z>")\r\n')


def test_reply_criteria_nest_logarithmically() -> None:
    def depth(arg: object) -> int:
        return 1 + max((depth(a) for a in arg), default=0) if isinstance(arg, tuple) else 0

    criteria = reply_criteria([f"<m{n}@x>" for n in range(100)])
    assert max(depth(a) for a in criteria) <= 9


@pytest.mark.parametrize("bad", ["", "<a b@c>", "a\r\nb", 5])
def test_bad_message_ids_are_refused(bad: Any) -> None:
    with pytest.raises(ConfigError, match="Message-ID"):
        normalize_ids([bad])


@pytest.mark.parametrize(("field", "value"), [
    ("initial_scan", "everything"), ("folders", "some"), ("batch", 0),
    ("idle_refresh", 1800.0), ("poll_interval", -1), ("max_connections", 6),
])
def test_options_are_validated_with_the_field_named(field: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=field) as caught:
        AccountOptions(**{field: value})
    assert caught.value.remediation


def test_progress_eta() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert ScanProgress("a", "INBOX", 250, 1000, 50.0, at).eta == 15.0
    assert ScanProgress("a", "INBOX", 0, 1000, 0.0, at).eta is None


@pytest.mark.parametrize(("code", "text", "gone"), [
    ("NONEXISTENT", "Mailbox doesn't exist: Sent", True),
    ("NOPERM", "no access", True),
    (None, "Mailbox does not exist", True),
    ("INUSE", "Mailbox is locked, try again later.", False),
    ("OVERQUOTA", "quota exceeded", False),
    ("UNAVAILABLE", "backend down", False),
    (None, "internal error", False),
])
def test_only_a_missing_folder_is_the_folders_problem(code: str | None, text: str,
                                                      gone: bool) -> None:
    from inboxlab.engine.scanner import _folder_problem

    refused = ServerRefused("EXAMINE refused", status="NO", response_code=code,
                            server_text=text, stage="imap_select")
    assert _folder_problem(refused) is gone
    assert not _folder_problem(Throttled("x", status="NO", stage="imap_select"))
