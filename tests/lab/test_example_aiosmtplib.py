"""Example: an aiosmtplib sender against SMTP 421 (service closing) and 452 (insufficient
storage). The sender under test retries a temporary failure once, then reports it."""

from email.message import EmailMessage

import aiosmtplib
import pytest


async def send(message: EmailMessage, lab, attempts: int = 2) -> str:
    """The sender under test: implicit TLS, verified; 4xx retried, the last one reported."""
    for attempt in range(1, attempts + 1):
        try:
            await aiosmtplib.send(
                message, hostname=lab.smtps.host, port=lab.smtps.port, use_tls=True,
                tls_context=lab.ssl_context(),
                username=lab.login.username, password=lab.login.password)
            return "sent"
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = {r.code for r in exc.recipients}
            if attempt == attempts or not all(400 <= c < 500 for c in codes):
                return f"refused {sorted(codes)}"
        except aiosmtplib.SMTPResponseException as exc:
            if attempt == attempts or not 400 <= exc.code < 500:
                return f"failed {exc.code}"
    raise AssertionError("unreachable")


def a_message(lab) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = (
        lab.login.username, "dana@acme.example", "Quote")
    message.set_content("Here is the quote.")
    return message


async def test_421_at_mail_from_is_retried(inboxlab) -> None:
    inboxlab.smtp_fault("421", "mail")  # the server hangs up once
    assert await send(a_message(inboxlab), inboxlab) == "sent"
    [sent] = inboxlab.outbox("dana@acme.example")
    assert sent.subject == "Quote"


async def test_452_twice_is_reported_and_nothing_goes_out(inboxlab) -> None:
    inboxlab.smtp_fault("452", "rcpt", times=2)  # insufficient storage, both attempts
    assert await send(a_message(inboxlab), inboxlab) == "refused [452]"
    assert inboxlab.outbox() == []


@pytest.mark.parametrize("kind", ["421", "452"])
async def test_one_temporary_failure_costs_one_retry(inboxlab, kind: str) -> None:
    inboxlab.smtp_fault(kind, "rcpt")
    assert await send(a_message(inboxlab), inboxlab, attempts=1) != "sent"
    assert await send(a_message(inboxlab), inboxlab, attempts=1) == "sent"
    assert len(inboxlab.outbox()) == 1
