"""The catalogue and the classifier, without sockets: the engine's own error builders in,
the catalogue cause out (provider words verbatim from the sources the catalogue cites)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from inboxlab.engine.catalogue import BY_CODE, CAUSES, cause
from inboxlab.engine.checkpoints import Checkpoint
from inboxlab.engine.diag.classify import bye_code, diagnose, diagnose_fact
from inboxlab.engine.errors import ConnectError, Disconnected, EngineError, TimedOut
from inboxlab.engine.imap.results import refusal
from inboxlab.engine.supervise import FolderGone, NewMail, UidValidityChanged
from inboxlab.engine.sync import FolderStatus, plan_scan

AT = datetime(2026, 1, 1, tzinfo=UTC)


def login_no(text: str, code: str | None = None) -> EngineError:
    return refusal("NO", code, (), text, stage="imap_login", command="LOGIN")


@pytest.mark.parametrize(("error", "expected"), [
    (login_no("Application-specific password required: "
              "https://support.google.com/accounts/answer/185833 (Failure)", "ALERT"),
     "app_password_required"),
    (login_no("Please log in via your web browser: "
              "https://support.google.com/mail/accounts/answer/78754 (Failure)", "ALERT"),
     "web_login_required"),
    (login_no("Invalid credentials (Failure)", "AUTHENTICATIONFAILED"), "auth_failed"),
    (login_no("Authentication failed."), "auth_failed"),
    (login_no("LOGIN Invalid credentials", "AUTHENTICATIONFAILED"), "auth_failed"),  # Yahoo
    (refusal("NO", "UNAVAILABLE", (), "UID FETCH Service is temporarily not available",
             stage="imap_fetch", command="UID FETCH"), "unavailable"),  # Yahoo
    (login_no("Your account is not enabled for IMAP use.", "ALERT"), "imap_disabled"),
    (login_no("Password expired", "EXPIRED"), "expired"),
    (login_no("TLS required", "PRIVACYREQUIRED"), "privacy_required"),
    (login_no("Ask the admin", "CONTACTADMIN"), "contact_admin"),
    (login_no("Too many simultaneous connections. (Failure)", "ALERT"), "too_many_connections"),
    (refusal("NO", "THROTTLED", (), "Account exceeded command limits", stage="imap_fetch",
             command="UID FETCH"), "throttled"),
    (refusal("NO", None, (), "Request is throttled. Suggested Backoff Time: 2000 milliseconds",
             stage="imap_select", command="SELECT"), "throttled"),
    (refusal("NO", "OVERQUOTA", (), "Account exceeded command or bandwidth limits.",
             stage="imap_fetch", command="UID FETCH"), "overquota"),
    (refusal("NO", "UNAVAILABLE", (), "try later", stage="imap_select", command="SELECT"),
     "unavailable"),
    (refusal("NO", "INUSE", (), "Mailbox in use", stage="imap_select", command="SELECT"),
     "inuse"),
    (refusal("NO", "NONEXISTENT", (), "Mailbox doesn't exist: Gone", stage="imap_select",
             command="SELECT"), "folder_vanished"),
    (ConnectError("x", code="dns", stage="imap_connect"), "dns"),
    (Disconnected("lost", code="connection_reset"), "connection_reset"),
    (Disconnected("bye", code="server_bye", server_text="Disconnected for inactivity."),
     "idle_timeout"),
    (TimedOut("no answer", stage="imap_greeting"), "tarpit"),
    (RuntimeError("boom"), "unknown"),
])
def test_engine_errors_map_to_their_cause(error: EngineError, expected: str) -> None:
    d = diagnose(error)
    assert d.code == expected, d.as_dict()
    assert d.permanent == BY_CODE[expected].permanent
    assert d.remediation == BY_CODE[expected].owner_fix
    if isinstance(error, EngineError) and expected != "unknown":
        assert d.engine_permanent == d.permanent, "the catalogue and the engine disagree"


def test_a_bye_code_from_the_trace_decides_a_disconnect() -> None:
    err = Disconnected("bye", code="server_bye", server_text="Server is going down")
    assert diagnose(err).code == "connection_reset"
    code = bye_code(["A0003 SELECT INBOX", "* BYE [UNAVAILABLE] Server is going down"])
    assert code == "UNAVAILABLE"
    assert diagnose(err, response_code=code).code == "unavailable"


def test_account_facts_are_causes_too() -> None:
    gone = diagnose_fact(FolderGone("me", "Sent", "gone", AT))
    assert gone is not None and gone.code == "folder_vanished" and gone.server_text == "gone"
    reset = diagnose_fact(UidValidityChanged("me", "INBOX", 1, 2, AT))
    assert reset is not None and reset.code == "uidvalidity_reset"
    assert "1 -> 2" in (reset.message or "")
    assert diagnose_fact(NewMail("me", "INBOX", 3, AT)) is None


def test_a_renumbered_folder_is_a_typed_fact_whatever_the_plan_says() -> None:
    """The scan plan's reason is for people: the fact rides on ``ScanPlan.renumbered``."""
    plan = plan_scan("INBOX", Checkpoint("me", "INBOX", 7, 100, None, 99, AT),
                     FolderStatus(8, 50))
    assert plan.renumbered == (7, 8)
    assert plan_scan("INBOX", None, FolderStatus(8, 50)).renumbered is None


def test_every_cause_is_complete_and_unknown_codes_are_named() -> None:
    assert len({c.code for c in CAUSES}) == len(CAUSES)
    for c in CAUSES:
        assert c.title and c.owner_fix and c.it_fix
    with pytest.raises(KeyError, match="known: dns"):
        cause("nope")


def test_the_engine_s_socket_and_tls_errors_carry_the_catalogue_s_remedy() -> None:
    import socket
    import ssl

    from inboxlab.engine.imap.failures import connect_error, tls_error

    cases = {
        "dns": connect_error(socket.gaierror(-2, "Name or service not known"), "h", 1, "h", 1),
        "connect_refused": connect_error(ConnectionRefusedError(), "h", 1, "h", 1),
        "connect_timeout": connect_error(TimeoutError(), "h", 1, "h", 1),
        "tls_handshake": tls_error(ssl.SSLError(1, "handshake failure"), "h"),
    }
    for code, err in cases.items():
        assert diagnose(err).code == code
        assert err.remediation == BY_CODE[code].owner_fix
