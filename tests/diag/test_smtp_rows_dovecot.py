"""Issue 13's SMTP rows against a real SMTP server: Dovecot's submission service
(tests/dovecot_submission.py). IMAP goes to the session's healthy Dovecot, SMTP to a private
instance that a test can stop, hold or run without TLS, each failure diagnosed with its cause
and, where the server says something, its own words."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from dovecot_submission import HOSTNAME, Submission
from waiting import async_wait_until

from inboxlab.engine.catalogue import BY_CODE
from inboxlab.engine.diag.probe import ProbeOptions, ProbeReport, probe
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer, SmtpServer

pytestmark = pytest.mark.dovecot

PASSWORD = "smtp-Rows-pw-13"


def account(dovecot: Any, name: str) -> str:
    user = f"{name}@smtp-rows.example"
    dovecot.add_user(user, PASSWORD)
    return user


async def run(imap: Any, user: str, smtp: SmtpServer, sub: Submission, *,
              password: str = PASSWORD, limit: float = 3.0) -> ProbeReport:
    settings = AccountSettings(username=user, imap=ImapServer(imap.host, imap.port, "plain"),
                               smtp=smtp)
    return await probe(settings, Secret(password), ProbeOptions(
        connect_timeout=limit, command_timeout=limit, cafile=str(sub.ca_pem)))


def cause_of(report: ProbeReport, code: str, stage: str) -> None:
    d = report.diagnosis
    assert d is not None and d.code == code, report.as_dict()
    assert d.stage == stage and d.permanent is BY_CODE[code].permanent
    assert d.engine_permanent in (None, d.permanent)


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_a_healthy_dovecot_submission_logs_in(dovecot: Any, dovecot_submission: Any,
                                                    security: str) -> None:
    user = account(dovecot, f"ok-{security}")
    sub = dovecot_submission(users=[(user, PASSWORD)])
    port = sub.port if security == "starttls" else sub.tls_port
    report = await run(dovecot, user, SmtpServer("localhost", port, security), sub)
    assert report.status == "ok", report.as_dict()
    step = report.step("smtp connect")
    assert step is not None and step.data["greeting"].startswith(f"{HOSTNAME} Dovecot")
    assert report.step("smtp login") is not None


async def test_a_refused_smtp_auth_is_auth_failed_with_dovecot_s_words(
        dovecot: Any, dovecot_submission: Any) -> None:
    user = account(dovecot, "refused")
    sub = dovecot_submission(users=[(user, "another-password")])
    report = await run(dovecot, user, SmtpServer("localhost", sub.port, "starttls"), sub)
    cause_of(report, "auth_failed", "smtp_login")
    d = report.diagnosis
    assert d is not None and d.server_text is not None
    assert "Authentication failed" in d.server_text


async def test_a_421_before_the_greeting_is_unavailable_with_dovecot_s_words(
        dovecot: Any, dovecot_submission: Any) -> None:
    user = account(dovecot, "greeting-421")
    sub = dovecot_submission(users=[(user, PASSWORD)])
    with sub.greetings_held():
        running = asyncio.create_task(
            run(dovecot, user, SmtpServer("localhost", sub.port, "starttls"), sub, limit=10))
        await async_wait_until(sub.waiting, what="the probe's SMTP connection, ungreeted")
        assert sub.terminate_waiting() == 1
        report = await running
    cause_of(report, "unavailable", "smtp_connect")
    d = report.diagnosis
    assert d is not None and d.message is not None and "SMTP 421" in d.message, d
    assert d.server_text == f"4.3.2 {HOSTNAME} Shutting down"


async def test_imap_pointed_at_the_submission_port_is_the_wrong_protocol(
        dovecot_submission: Any) -> None:
    sub = dovecot_submission()
    imap = sub.dovecot
    settings = AccountSettings(username=imap.user, imap=ImapServer(imap.host, sub.port, "plain"))
    report = await probe(settings, Secret(imap.password), ProbeOptions(connect_timeout=3))
    cause_of(report, "wrong_protocol", "imap_greeting")
    d = report.diagnosis
    assert d is not None and d.server_text == f"220 {HOSTNAME} Dovecot (Debian) ready."


async def test_starttls_asked_of_a_submission_without_tls_is_permanent(
        dovecot: Any, dovecot_submission: Any) -> None:
    user = account(dovecot, "no-starttls")
    sub = dovecot_submission(users=[(user, PASSWORD)], tls=False)
    report = await run(dovecot, user, SmtpServer("localhost", sub.port, "starttls"), sub)
    cause_of(report, "starttls_unavailable", "smtp_connect")


@pytest.mark.parametrize("security", ["plain", "starttls"])
async def test_plain_or_starttls_on_the_implicit_tls_submission_port(
        dovecot: Any, dovecot_submission: Any, security: str) -> None:
    user = account(dovecot, f"tls-port-{security}")
    sub = dovecot_submission(users=[(user, PASSWORD)])
    report = await run(dovecot, user, SmtpServer("localhost", sub.tls_port, security), sub,
                       limit=1.5)
    cause_of(report, "tls_port_plain", "smtp_connect")


async def test_a_stopped_submission_times_out_in_tls_after_tcp(
        dovecot: Any, dovecot_submission: Any) -> None:
    user = account(dovecot, "stopped")
    sub = dovecot_submission(users=[(user, PASSWORD)])
    sub.dovecot.pause()
    try:
        report = await run(dovecot, user, SmtpServer("localhost", sub.tls_port, "tls"), sub,
                           limit=1.5)
    finally:
        sub.dovecot.resume()
    cause_of(report, "tls_handshake_timeout", "smtp_connect")
