"""The bridge's translations, without sockets: engine facts in, plain views out."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from inboxlab.engine.errors import AuthFailed, Disconnected, TlsError
from inboxlab.engine.states import STATE_INFO, State
from inboxlab.tui.bridge.browse import compact, header_row
from inboxlab.tui.bridge.translate import disconnect_view, state_view, validate_account
from inboxlab.tui.views import ProgressView

AT = datetime(2026, 1, 2, tzinfo=UTC)


def test_state_view_reads_the_engine_table() -> None:
    for state in State:
        view = state_view(state)
        assert (view.label, view.colour, view.tone) == (
            STATE_INFO[state].label, STATE_INFO[state].colour, STATE_INFO[state].tone)


def test_disconnect_view_keeps_the_error_fields() -> None:
    auth = disconnect_view(AuthFailed("rejected", server_text="[AUTHENTICATIONFAILED] no",
                                      stage="imap_login", remediation="fix the password"), AT)
    assert auth.permanent and not auth.heals and auth.code == "auth_failed"
    assert auth.server_text == "[AUTHENTICATIONFAILED] no" and auth.stage == "imap_login"
    assert auth.cause == "auth_failed" and auth.cause_title and auth.it_fix  # engine.diag
    assert "auth_failed" in auth.matched_by
    drop = disconnect_view(Disconnected("connection reset", stage="imap_idle"), AT)
    assert drop.heals and not drop.permanent and "reconnect" in (drop.remediation or "")
    tls = disconnect_view(TlsError("bad certificate", permanent=True), AT)
    assert tls.kind == "TlsError" and not tls.heals
    odd = disconnect_view(RuntimeError("boom"), AT)
    assert odd.code == "unexpected" and odd.heals and odd.cause
    bye = disconnect_view(Disconnected("the server said BYE", server_text="Going down"), AT,
                          ["* BYE [UNAVAILABLE] Going down"])
    assert bye.cause and bye.matched_by  # the BYE's response code from the trace is a hint


def test_validation_names_the_problem() -> None:
    assert validate_account("imaps://imap.example.com", "me@example.com")[1] is None
    problem = validate_account("pop3://mail.example.com", "me@example.com")[1]
    assert problem is not None and "POP3" in problem
    assert "user name" in (validate_account("imap.example.com", "")[1] or "")
    assert validate_account("imap.example.com:110", "me")[1] is not None
    settings_, _ = validate_account("imap.example.com", "me", sent_folder="Sent Items")
    assert settings_ is not None and settings_.folder_overrides == (("sent", "Sent Items"),)


def test_compact_uid_sets() -> None:
    assert compact([9, 8, 7, 3]) == "3,7:9"
    assert compact([5]) == "5"
    assert compact(list(range(100_000, 0, -1))) == "1:100000"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.lists(st.sampled_from(["\\Seen", "\\Flagged", "x"])))
def test_header_row_never_crashes(raw: bytes, flags: list[str]) -> None:
    row = header_row(7, tuple(flags), None, raw)
    assert row.uid == 7 and isinstance(row.subject, str) and row.seen == ("\\Seen" in flags)


def test_header_row_decodes_encoded_words() -> None:
    raw = (b"From: =?utf-8?q?Ren=C3=A9e?= <renee@example.com>\r\n"
           b"Subject: =?utf-8?q?R=C3=A9union?=\r\nDate: Thu, 04 Jan 2024 10:00:00 +0000\r\n\r\n")
    row = header_row(1, (), 10, raw)
    assert (row.sender, row.subject, row.date) == ("Renée", "Réunion", "Thu, 04 Jan 2024")


def test_progress_eta() -> None:
    assert ProgressView("INBOX", 50, 100, 10.0).eta_s == 5.0
    assert ProgressView("INBOX", 100, 100, 10.0).eta_s is None
    assert ProgressView("INBOX", 0, 0).fraction == 1.0
