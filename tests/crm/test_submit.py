"""SMTP submission: implicit TLS, refusals typed and recorded, transient failures retried."""

from __future__ import annotations

from pathlib import Path

import pytest
from crm_kit import PASSWORD, USER, crm_lab

from inboxlab.engine.crm.errors import BadInput, SubmitFailed
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.outbox import State
from inboxlab.engine.crm.send import Draft, SmtpSubmitter
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import SmtpServer
from inboxlab.fakeserver.smtp.config import SmtpFault

BOB = "bob@client.test"
DRAFT = Draft((Address(BOB),), "Hello", "Hi.")


async def test_implicit_tls_submission_and_no_secret_in_repr(tmp_path: Path) -> None:
    async with crm_lab(tmp_path) as lab:
        assert lab.smtp.tls_port is not None
        submitter = SmtpSubmitter(SmtpServer("127.0.0.1", lab.smtp.tls_port, "tls"), USER,
                                  Secret(PASSWORD), tls_context=lab.imap.client_ssl_context())
        assert PASSWORD not in repr(submitter)
        lab.outbox.submitter = submitter
        try:
            rec = await lab.outbox.send(DRAFT)
        finally:
            await submitter.close()
        assert rec.state is State.LOGGED
        [d] = lab.smtp.log.outside(BOB)
        assert d.message()["Message-ID"] == rec.message_id


async def test_wrong_password_is_a_permanent_typed_error(tmp_path: Path) -> None:
    async with crm_lab(tmp_path) as lab:
        bad = SmtpSubmitter(SmtpServer("127.0.0.1", lab.smtp.port, "starttls"), USER,
                            Secret("nope"), tls_context=lab.imap.client_ssl_context())
        with pytest.raises(SubmitFailed) as info:
            await bad.submit(USER, [BOB], b"Subject: x\r\n\r\nx\r\n")
        assert info.value.code == "auth_failed" and info.value.permanent
        assert info.value.server_text and "535" in info.value.server_text


async def test_552_fails_the_record_for_good(tmp_path: Path) -> None:
    faults = (SmtpFault("552", "data", message="5.3.4 Message too big for system"),)
    async with crm_lab(tmp_path, faults=faults) as lab:
        with pytest.raises(SubmitFailed) as info:
            await lab.outbox.send(DRAFT)
        assert info.value.permanent and "too big" in (info.value.server_text or "")
        [rec] = await lab.outbox.records()
        assert rec.state is State.FAILED and "552" in (rec.last_error or "")
        assert await lab.outbox.run_pending() == []  # terminal: not retried
        assert lab.smtp.log.outside(BOB) == []


async def test_451_is_transient_and_the_retry_sends_once(tmp_path: Path) -> None:
    faults = (SmtpFault("451", "rcpt"),)
    async with crm_lab(tmp_path, faults=faults) as lab:
        with pytest.raises(SubmitFailed) as info:
            await lab.outbox.send(DRAFT)
        assert not info.value.permanent
        [rec] = await lab.outbox.records()
        assert rec.state is State.QUEUED and not rec.submit_started
        [done] = await lab.outbox.run_pending()
        assert done.state is State.LOGGED and done.attempts == 2
        assert len(lab.smtp.log.outside(BOB)) == 1


def test_bad_drafts_are_typed_errors() -> None:
    with pytest.raises(BadInput):
        Draft((), "x", "y")
    with pytest.raises(BadInput):
        Draft((Address("not an address"),), "x", "y")
    with pytest.raises(BadInput):
        Draft((Address(BOB),), "two\r\nlines", "y")
