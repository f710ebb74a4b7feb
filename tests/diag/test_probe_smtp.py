"""The probe's SMTP half against the fake SMTP server: login, the BCC test message, a 535."""

from __future__ import annotations

import asyncio
from pathlib import Path

from diag_helpers import USER, scenario_text, served

from inboxlab.engine.catalogue import BY_CODE
from inboxlab.engine.diag.probe import ProbeOptions, probe
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer, SmtpServer

PASSWORD = "smtp-Probe-Pw-5"
BCC = "log@crm.example"


def settings(srv: object, smtp_port: int) -> AccountSettings:
    return AccountSettings(username=USER, imap=ImapServer("127.0.0.1", srv.port, "plain"),  # type: ignore[attr-defined]
                           smtp=SmtpServer("localhost", smtp_port, "tls"), bcc_address=BCC)


async def test_smtp_login_and_the_test_message_reach_the_bcc_address(tmp_path: Path) -> None:
    async with served(scenario_text(PASSWORD), smtp=True) as srv:
        assert srv.smtp is not None and srv.smtp.tls_port is not None
        report = await probe(settings(srv, srv.smtp.tls_port), Secret(PASSWORD),
                             ProbeOptions(cafile=str(srv.ca_pem_path), send_test=True))
        assert report.status == "ok", report.as_dict()
        assert [s.name for s in report.steps][-3:] == ["smtp connect", "smtp login",
                                                        "smtp test message"]
        (delivery,) = srv.smtp.log.outside(BCC)
        assert "inboxlab diagnose" in delivery.message()["Subject"]


async def test_a_refused_smtp_login_is_the_auth_failed_cause() -> None:
    faults = '\n[smtp]\n[[smtp.faults]]\nkind = "535"\nstage = "auth"\ntimes = 5\n'
    async with served(scenario_text(PASSWORD, extra=faults), smtp=True) as srv:
        assert srv.smtp is not None and srv.smtp.tls_port is not None
        report = await probe(settings(srv, srv.smtp.tls_port), Secret(PASSWORD),
                             ProbeOptions(cafile=str(srv.ca_pem_path)))
    assert report.exit_code == 2 and report.step("smtp login") is not None
    d = report.diagnosis
    assert d is not None and d.code == "auth_failed" and d.stage == "smtp_login"
    assert d.permanent and d.remediation == BY_CODE["auth_failed"].owner_fix
    assert report.step("login") is not None and report.step("login").status == "ok"  # type: ignore[union-attr]


async def test_a_421_greeting_is_unavailable_with_the_server_s_words() -> None:
    faults = ('\n[smtp]\n[[smtp.faults]]\nkind = "421"\nstage = "connect"\ntimes = 5\n'
              'message = "4.3.2 mx.example.com Service not available, closing channel"\n')
    async with served(scenario_text(PASSWORD, extra=faults), smtp=True) as srv:
        assert srv.smtp is not None and srv.smtp.tls_port is not None
        report = await probe(settings(srv, srv.smtp.tls_port), Secret(PASSWORD),
                             ProbeOptions(cafile=str(srv.ca_pem_path), connect_timeout=5))
    d = report.diagnosis
    assert report.exit_code == 2 and d is not None, report.as_dict()
    assert d.code == "unavailable" and not d.permanent and d.stage == "smtp_connect"
    assert d.server_text is not None and "Service not available" in d.server_text


async def test_smtp_pointed_at_the_imap_port_is_the_wrong_protocol() -> None:
    async with served(scenario_text(PASSWORD), smtp=False) as srv:
        s = AccountSettings(username=USER, imap=ImapServer("127.0.0.1", srv.port, "plain"),
                            smtp=SmtpServer("127.0.0.1", srv.port, "plain"))
        report = await probe(s, Secret(PASSWORD), ProbeOptions(connect_timeout=5))
    d = report.diagnosis
    assert d is not None and d.code == "wrong_protocol" and d.permanent, report.as_dict()
    assert d.server_text is not None and d.server_text.startswith("* OK")


async def test_an_smtp_port_that_connects_and_never_greets_is_a_tarpit() -> None:
    """Not connect_timeout ("allow outbound TCP"): TCP opened, the service is silent."""
    release = asyncio.Event()

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with served(scenario_text(PASSWORD), smtp=False) as srv:
            s = AccountSettings(username=USER, imap=ImapServer("127.0.0.1", srv.port, "plain"),
                                smtp=SmtpServer("127.0.0.1", port, "plain"))
            report = await probe(s, Secret(PASSWORD), ProbeOptions(connect_timeout=0.5))
    finally:
        release.set()
        server.close()
        await server.wait_closed()
    d = report.diagnosis
    assert d is not None and d.code == "tarpit" and d.stage == "smtp_connect", report.as_dict()
