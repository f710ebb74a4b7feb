"""The outbox's SMTP failures are classified by the one mapping the probe and the cause
catalogue use (``engine.crm.smtp_failures``): a failure that cannot heal (STARTTLS not
offered, AUTH refused, a 5xx) fails its record for good and is never retried; one that
can (421, another 4xx, a refused connection) leaves the record queued and the next
``run_pending`` sends it. Before: the send path kept its own mapping, and STARTTLS not
offered became a transient ``smtp_disconnected`` that the outbox retried forever."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
from crm_kit import PASSWORD, USER, crm_lab

from inboxlab.engine.catalogue import BY_CODE
from inboxlab.engine.crm.errors import SubmitFailed
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.outbox import State
from inboxlab.engine.crm.send import Draft, SmtpSubmitter
from inboxlab.engine.diag.classify import diagnose
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import SmtpServer
from inboxlab.fakeserver.smtp.config import SmtpConfig, SmtpFault
from inboxlab.fakeserver.smtp.server import FakeSmtpServer

BOB = "bob@client.test"
DRAFT = Draft((Address(BOB),), "Hello", "Hi.")


def as_the_catalogue_says(err: SubmitFailed, code: str) -> None:
    """The error's cause code is a catalogue entry, and the error, the entry and the
    diagnosis agree on whether waiting can fix it."""
    assert err.code == code, err
    assert err.permanent is BY_CODE[code].permanent, err
    d = diagnose(err)
    assert d.cause.code == code and d.cause.permanent is err.permanent, d


@pytest.mark.parametrize(("fault", "code"), [
    (SmtpFault("535", "auth"), "auth_failed"),
    (SmtpFault("552", "data", message="5.3.4 Message too big for system"), "smtp_rejected"),
    (SmtpFault("552", "mail"), "smtp_rejected"),
])
async def test_a_permanent_refusal_fails_the_record_and_is_not_retried(
        tmp_path: Path, fault: SmtpFault, code: str) -> None:
    async with crm_lab(tmp_path, faults=(fault,)) as lab:
        with pytest.raises(SubmitFailed) as info:
            await lab.outbox.send(DRAFT)
        as_the_catalogue_says(info.value, code)
        [rec] = await lab.outbox.records()
        assert rec.state is State.FAILED and rec.attempts == 1
        assert await lab.outbox.run_pending() == []  # terminal: never submitted again
        [rec] = await lab.outbox.records()
        assert rec.attempts == 1 and lab.smtp.log.outside(BOB) == []


@pytest.mark.parametrize(("fault", "code"), [
    (SmtpFault("421", "connect"), "unavailable"),
    (SmtpFault("421", "mail"), "unavailable"),
    (SmtpFault("451", "mail"), "smtp_deferred"),
    (SmtpFault("452", "data"), "smtp_deferred"),
])
async def test_a_transient_refusal_keeps_the_record_queued_and_the_retry_sends_it(
        tmp_path: Path, fault: SmtpFault, code: str) -> None:
    async with crm_lab(tmp_path, faults=(fault,)) as lab:
        with pytest.raises(SubmitFailed) as info:
            await lab.outbox.send(DRAFT)
        as_the_catalogue_says(info.value, code)
        [rec] = await lab.outbox.records()
        assert rec.state is State.QUEUED and not rec.submit_started
        [done] = await lab.outbox.run_pending()  # the fault fired once: this one goes out
        assert done.state is State.LOGGED and done.attempts == 2
        assert len(lab.smtp.log.outside(BOB)) == 1


async def test_a_refused_connection_is_retried(tmp_path: Path) -> None:
    async with crm_lab(tmp_path) as lab:
        working = lab.outbox.submitter
        with socket.socket() as held:
            held.bind(("127.0.0.1", 0))  # nothing listens here while the test holds it
            lab.outbox.submitter = SmtpSubmitter(
                SmtpServer("127.0.0.1", held.getsockname()[1], "starttls"), USER,
                Secret(PASSWORD), tls_context=lab.imap.client_ssl_context(), timeout=5)
            with pytest.raises(SubmitFailed) as info:
                await lab.outbox.send(DRAFT)
        as_the_catalogue_says(info.value, "connect_refused")
        [rec] = await lab.outbox.records()
        assert rec.state is State.QUEUED
        lab.outbox.submitter = working  # the server answers again
        [done] = await lab.outbox.run_pending()
        assert done.state is State.LOGGED and done.attempts == 2


async def starttls_not_offered(lab: Any, port: int, host: str = "127.0.0.1") -> None:
    """Send through a submission port that offers no STARTTLS, with security=starttls:
    the record fails for good at once, and a later run never submits it again."""
    lab.outbox.submitter = SmtpSubmitter(
        SmtpServer(host, port, "starttls"), USER, Secret(PASSWORD),
        tls_context=lab.imap.client_ssl_context(), timeout=5)
    with pytest.raises(SubmitFailed) as info:
        await lab.outbox.send(DRAFT)
    as_the_catalogue_says(info.value, "starttls_unavailable")
    assert info.value.remediation and "465" in info.value.remediation
    [rec] = await lab.outbox.records()
    assert rec.state is State.FAILED and "STARTTLS" in (rec.last_error or "")
    assert await lab.outbox.run_pending() == []
    [rec] = await lab.outbox.records()
    assert rec.attempts == 1


async def test_starttls_not_offered_fails_the_record_for_good(tmp_path: Path) -> None:
    async with crm_lab(tmp_path) as lab:
        # The same fake SMTP server, told not to offer STARTTLS.
        async with FakeSmtpServer.for_store(SmtpConfig(starttls=False), lab.imap.store) as plain:
            await starttls_not_offered(lab, plain.port)
            assert plain.log.outside(BOB) == []


@pytest.mark.dovecot
async def test_starttls_not_offered_by_dovecot_s_submission_is_not_retried(
        tmp_path: Path, dovecot_submission: Any) -> None:
    sub = dovecot_submission(users=[(USER, PASSWORD)], tls=False)
    async with crm_lab(tmp_path) as lab:
        await starttls_not_offered(lab, sub.port, "localhost")


@pytest.mark.dovecot
async def test_a_password_dovecot_s_submission_refuses_is_not_retried(
        tmp_path: Path, dovecot_submission: Any) -> None:
    sub = dovecot_submission(users=[(USER, "another-password")])
    async with crm_lab(tmp_path) as lab:
        lab.outbox.submitter = SmtpSubmitter(
            SmtpServer("localhost", sub.port, "starttls"), USER, Secret(PASSWORD),
            tls_context=ssl.create_default_context(cafile=str(sub.ca_pem)), timeout=10)
        with pytest.raises(SubmitFailed) as info:
            await lab.outbox.send(DRAFT)
        as_the_catalogue_says(info.value, "auth_failed")
        assert (info.value.server_text or "").startswith("535 ")  # Dovecot's own reply
        [rec] = await lab.outbox.records()
        assert rec.state is State.FAILED
        assert await lab.outbox.run_pending() == []
