"""The SMTP half of the probe: connect, log in, optionally send a test to the BCC address.

aiosmtplib's exceptions become the engine's error tree through
``engine.crm.smtp_failures.smtp_error`` (5xx on AUTH is an ``AuthFailed``, a refused or
timed-out connection a ``ConnectError``...), the mapping the outbox's submitter uses too,
so the same classifier and catalogue explain them. No protocol lines are traced for SMTP: only
step summaries, which hold no secret.
"""

from __future__ import annotations

import asyncio
import contextlib
from email.message import EmailMessage

import aiosmtplib

from inboxlab.engine.crm.smtp_failures import smtp_error
from inboxlab.engine.crm.smtp_oauth import login_oauth
from inboxlab.engine.diag.presented import speaks_tls
from inboxlab.engine.diag.steps import ProbeRun, Step
from inboxlab.engine.errors import (
    ConnectError,
    EngineError,
    TimedOut,
    TlsError,
)
from inboxlab.engine.tokens import TokenProvider


async def _tcp_answers(host: str, port: int, limit: float) -> bool:
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(limit):
            _reader, writer = await asyncio.open_connection(host, port)
            return True
    except (OSError, TimeoutError):
        return False
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def silent_step(exc: BaseException, host: str, port: int, security: str,
                      limit: float) -> EngineError | None:
    """Which step a timed-out SMTP connect stopped at, or None for TCP itself.

    aiosmtplib says "timed out" alike for TCP, TLS and the greeting; each has its own cause
    (as in the IMAP half): TCP opened but TLS silent is a stuck service, a greeting that
    never comes on a port that completes a TLS handshake is the implicit-TLS port, and one
    that never comes elsewhere is a tarpit. Called only after a timeout, so the second look
    costs nothing on a healthy server."""
    aborted = isinstance(exc, aiosmtplib.SMTPConnectError) and isinstance(
        exc.__cause__, ConnectionAbortedError)  # asyncio's own ssl_handshake_timeout
    if not isinstance(exc, aiosmtplib.SMTPConnectTimeoutError) and not aborted:
        return None
    greeting = isinstance(exc.__cause__, aiosmtplib.SMTPTimeoutError)  # TCP (+TLS) done
    if security == "tls" and not greeting:
        if not await _tcp_answers(host, port, limit):
            return None
        return TlsError(f"TCP connected to {host}:{port}, but the TLS handshake got no answer "
                        f"within {limit:.3g}s", code="tls_timeout", stage="smtp_connect")
    if not greeting:
        return None
    if security != "tls" and await speaks_tls(host, port, host, limit):
        return ConnectError(f"no SMTP greeting on {host}:{port}, but a TLS handshake there "
                            "succeeds: this port expects TLS from the first byte",
                            code="tls_expected", permanent=True, stage="smtp_connect")
    return TimedOut(f"SMTP {host}:{port}: connected, but no greeting within {limit:.3g}s",
                    stage="smtp_connect")


async def smtp_steps(probe: ProbeRun) -> None:
    settings = probe.settings
    server = settings.smtp
    assert server is not None
    limit = probe.limit(probe.options.connect_timeout)
    smtp = aiosmtplib.SMTP(
        hostname=server.host, port=server.port, use_tls=server.security == "tls",
        start_tls=server.security == "starttls",
        tls_context=probe._context() if server.security != "plain" else None,
        timeout=limit,
    )
    t = probe._clock()
    try:
        greeting = await smtp.connect()
        await smtp.ehlo()
    except Exception as exc:
        found = await silent_step(exc, server.host, server.port, server.security,
                                  probe.limit(min(probe.options.connect_timeout, 5.0)))
        raise probe.fail("smtp connect", t, found or smtp_error(
            exc, server.host, server.port, "smtp_connect", limit)) from None
    try:
        extensions = sorted(smtp.esmtp_extensions)
        probe._add("smtp connect", "ok", f"{server.url()}: {greeting.code} {greeting.message}; "
                   f"ESMTP {' '.join(extensions)}", t, probe._slow(probe.options.connect_timeout),
                   extensions=extensions, greeting=greeting.message)
        if not probe.login or probe.secret is None:
            probe.steps.append(Step("smtp login", "skipped", "login skipped"))
            return
        t = probe._clock()
        try:
            if isinstance(probe.secret, TokenProvider):
                await login_oauth(smtp, probe.secret, settings.username, server.host,
                                  server.port)
            else:
                await smtp.login(settings.username, probe.secret.reveal())
        except EngineError as exc:  # the token could not be had or refreshed
            exc.stage = "smtp_login"
            raise probe.fail("smtp login", t, exc) from None
        except Exception as exc:
            raise probe.fail("smtp login", t, smtp_error(exc, server.host, server.port,
                                                         "smtp_login", limit)) from None
        probe._add("smtp login", "ok", f"logged in as {settings.username}", t)
        if probe.options.send_test:
            t = probe._clock()
            if not settings.bcc_address:
                probe._add("smtp test message", "warning", "no BCC address configured", t)
                return
            msg = EmailMessage()
            msg["From"] = settings.username
            msg["To"] = settings.bcc_address
            msg["Subject"] = "inboxlab diagnose: test message"
            msg.set_content("A test message sent by `inboxlab diagnose` to the BCC address.\n")
            try:
                await smtp.send_message(msg)
            except Exception as exc:
                raise probe.fail("smtp test message", t, smtp_error(
                    exc, server.host, server.port, "smtp_send", limit)) from None
            probe._add("smtp test message", "ok", f"sent to {settings.bcc_address}", t)
    finally:
        try:
            await smtp.quit()
        except Exception:
            smtp.close()


__all__ = ["silent_step", "smtp_error", "smtp_steps"]  # smtp_error: re-exported
