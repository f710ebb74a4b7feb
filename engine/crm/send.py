"""Building outgoing mail and submitting it through the account's SMTP server (aiosmtplib).

Every message gets a Message-ID on the sender's own domain before anything else
happens: it is the outbox key, the Sent-copy search key and the thread key, so a
restart can ask "did this one already go out?" by that id alone.

``SmtpSubmitter`` keeps one authenticated connection and reuses it (a bulk send does
not pay a TLS handshake per message); any failure drops it and the next submit
reconnects. With a ``TokenProvider`` instead of a password it authenticates with OAuth
(``engine.crm.smtp_oauth``: one refresh, one retry). aiosmtplib's exceptions (and a
token that cannot be refreshed) are translated into ``SubmitFailed`` here, with the
server's words, by the probe's own mapping (``engine.crm.smtp_failures``): the cause
code is the catalogue's, and so is the permanence (STARTTLS not offered, AUTH refused,
5xx permanent; 421, 4xx, refused or dropped connections transient); a disconnect or
timeout after the message went into DATA is ``SubmitUncertain``.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal

import aiosmtplib
from aiosmtplib.response import SMTPResponse
from aiosmtplib.typing import Default

from inboxlab.engine.crm.errors import BadInput, SubmitFailed, SubmitUncertain
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.smtp_failures import smtp_error
from inboxlab.engine.crm.smtp_oauth import login_oauth
from inboxlab.engine.errors import TokenUnavailable
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import SmtpServer
from inboxlab.engine.tokens import TokenProvider


@dataclass(frozen=True)
class Draft:
    """What the user wrote; ``in_reply_to``/``references`` only when continuing a thread."""

    to: tuple[Address, ...]
    subject: str
    text: str
    html: str | None = None
    cc: tuple[Address, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.to:
            raise BadInput("a message needs at least one recipient", code="no_recipient")
        for a in (*self.to, *self.cc):
            if "@" not in a.email or any(c in a.email for c in " <>\r\n\0"):
                raise BadInput(f"{a.email!r} is not an email address", code="bad_email")
        if any(c in self.subject for c in "\r\n\0"):
            raise BadInput("the subject must be one line", code="bad_subject")

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.email for a in (*self.to, *self.cc)))


def new_message_id(domain: str, rng: random.Random, when: datetime) -> str:
    """``<20240304T050607.9f1c2a7b3e4d5c6a@domain>``: unique, sortable, on our domain."""
    if not domain or any(c in domain for c in " <>@\r\n"):
        raise BadInput(f"{domain!r} is not a domain for Message-IDs", code="bad_domain")
    return f"<{when.strftime('%Y%m%dT%H%M%S')}.{rng.getrandbits(64):016x}@{domain}>"


def build_message(sender: Address, draft: Draft, message_id: str, when: datetime) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = str(sender)
    msg["To"] = ", ".join(str(a) for a in draft.to)
    if draft.cc:
        msg["Cc"] = ", ".join(str(a) for a in draft.cc)
    msg["Subject"] = draft.subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = message_id
    if draft.in_reply_to:
        msg["In-Reply-To"] = draft.in_reply_to
    if draft.references:
        msg["References"] = " ".join(draft.references)
    msg.set_content(draft.text)
    if draft.html:
        msg.add_alternative(draft.html, subtype="html")
    return msg.as_bytes()


def _failure(exc: Exception, server: SmtpServer, timeout: float,
             handed_over: bool = False) -> SubmitFailed:
    """A failed submission, classified by the one SMTP mapping (``smtp_failures``, the
    probe's too): its cause code is the catalogue's, and so is whether retrying can help
    (the outbox retries only what is transient)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        words = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        return SubmitFailed("every recipient was refused", code="recipients_refused",
                            permanent=all(r.code >= 500 for r in exc.recipients),
                            server_text=words)
    if handed_over:
        # No SMTP answer after DATA: the server may have stored it (RFC 5321 6.1 and
        # 4.5.4.1 leave the outcome of a cut here unknown to the client).
        what = "did not answer in time" if isinstance(exc, aiosmtplib.SMTPTimeoutError) \
            else "dropped the connection"
        return SubmitUncertain(f"the SMTP server {what} after the message was sent: it may "
                               "have gone out", code="smtp_uncertain",
                               remediation="check the recipient's copy or Sent; the outbox "
                               "holds or resends it as configured")
    err = smtp_error(exc, server.host, server.port, "crm_send", timeout)
    said = err.server_text
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code > 0:
        said = f"{exc.code} {exc.message}"  # the reply as the server wrote it
    return SubmitFailed(err.message, code=err.code, permanent=err.permanent,
                        server_text=said, remediation=err.remediation)


class _Smtp(aiosmtplib.SMTP):
    """aiosmtplib's client, noting when ``sendmail`` reaches DATA.

    From the DATA command on, a cut or a timeout without an SMTP reply is an unknown
    outcome: the message may already be stored. (A cut while waiting for the 354 is
    counted too; telling it apart would mean re-implementing DATA, and erring towards
    "uncertain" only ever asks a person or resends with the same Message-ID.)
    """

    data_started = False

    async def data(self, message: str | bytes, /, *,
                   timeout: float | Literal[Default.token] | None = Default.token  # noqa: ASYNC109 (the overridden signature)
                   ) -> SMTPResponse:
        self.data_started = True
        return await super().data(message, timeout=timeout)


class SmtpSubmitter:
    """``await submit(mail_from, rcpts, raw)`` -> the server's acceptance line."""

    def __init__(self, server: SmtpServer, username: str, secret: Secret | TokenProvider, *,
                 tls_context: ssl.SSLContext | None = None, timeout: float = 30.0) -> None:
        self.server = server
        self.username = username
        self._secret = secret
        self._tls = tls_context
        self.timeout = timeout
        self._smtp: _Smtp | None = None
        self.submitted = 0

    def __repr__(self) -> str:
        return f"SmtpSubmitter({self.server.url()}, user={self.username!r})"

    async def _connect(self) -> _Smtp:
        s = self.server
        smtp = _Smtp(
            hostname=s.host, port=s.port, use_tls=s.security == "tls",
            start_tls=True if s.security == "starttls" else False,
            tls_context=self._tls, timeout=self.timeout)
        await smtp.connect()
        if isinstance(self._secret, TokenProvider):
            try:
                await login_oauth(smtp, self._secret, self.username, s.host, s.port)
            except BaseException:
                smtp.close()
                raise
        else:
            await smtp.login(self.username, self._secret.reveal())
        return smtp

    async def submit(self, mail_from: str, rcpts: Sequence[str], raw: bytes) -> str:
        smtp = None
        try:
            if self._smtp is None or not self._smtp.is_connected:
                self._smtp = await self._connect()
            smtp = self._smtp
            smtp.data_started = False
            refused, reply = await smtp.sendmail(mail_from, list(rcpts), raw)
        except (aiosmtplib.SMTPException, OSError) as exc:
            await self.close()
            handed_over = smtp is not None and smtp.data_started and not isinstance(
                exc, aiosmtplib.SMTPResponseException)
            raise _failure(exc, self.server, self.timeout, handed_over) from exc
        except TokenUnavailable as exc:
            await self.close()
            raise SubmitFailed(exc.message, code=exc.code, permanent=exc.permanent,
                               server_text=exc.server_text,
                               remediation=exc.remediation) from exc
        self.submitted += 1
        if refused:  # some recipients refused, the rest accepted: say which in the record
            reply += " (refused: " + ", ".join(f"{k} {v.code}" for k, v in refused.items()) + ")"
        return reply

    async def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()


__all__ = ["Draft", "SmtpSubmitter", "build_message", "new_message_id"]
