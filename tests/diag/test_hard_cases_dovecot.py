"""Issue 13's table against a real Dovecot: failures induced the way support meets them
(wrong port, a stopped server, LOGINDISABLED, a shutdown, the other protocol), each
diagnosed with its cause and, where Dovecot says something, Dovecot's own words."""

from __future__ import annotations

from typing import Any

import pytest

from inboxlab.engine.catalogue import BY_CODE
from inboxlab.engine.diag.classify import diagnose
from inboxlab.engine.diag.probe import ProbeOptions, ProbeReport, probe
from inboxlab.engine.errors import Disconnected
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer, SmtpServer

pytestmark = pytest.mark.dovecot

USER, PASSWORD = "hard@example.com", "hard-Cases-pw-13"


async def run(server: Any, host: str, port: int, security: str, *, limit: float = 3.0,
              smtp: SmtpServer | None = None) -> ProbeReport:
    settings = AccountSettings(username=USER, imap=ImapServer(host, port, security),  # type: ignore[arg-type]
                               smtp=smtp)
    return await probe(settings, Secret(PASSWORD), ProbeOptions(
        connect_timeout=limit, command_timeout=limit, cafile=str(server.ca_pem)))


def cause_of(report: ProbeReport, code: str) -> None:
    d = report.diagnosis
    assert d is not None and d.code == code, report.as_dict()
    assert d.permanent is BY_CODE[code].permanent
    assert d.engine_permanent in (None, d.permanent)


@pytest.mark.parametrize("security", ["plain", "starttls"])
async def test_plain_or_starttls_on_the_implicit_tls_port(dovecot: Any, security: str) -> None:
    dovecot.add_user(f"{security}-{USER}", PASSWORD)
    report = await run(dovecot, "localhost", dovecot.tls_port, security)
    cause_of(report, "tls_port_plain")
    assert "use imaps://" in BY_CODE["tls_port_plain"].owner_fix


async def test_a_stopped_server_times_out_in_tls_after_tcp(dovecot_factory: Any) -> None:
    server = dovecot_factory()
    server.pause()
    try:
        report = await run(server, "localhost", server.tls_port, "tls", limit=1.5)
    finally:
        server.resume()
    tcp = report.step("tcp")
    assert tcp is not None and tcp.status == "ok"
    cause_of(report, "tls_handshake_timeout")


async def test_logindisabled_on_the_plain_port_is_privacy_required(
        dovecot_factory: Any) -> None:
    server = dovecot_factory()
    server.add_user(USER, PASSWORD)
    server.reconfigure("disable_plaintext_auth = yes\n", plain_address="127.0.0.2")
    report = await run(server, "127.0.0.2", server.port, "plain")
    caps = report.step("capability")
    assert caps is not None and "LOGINDISABLED" in caps.data["capabilities"]
    cause_of(report, "privacy_required")


async def test_bye_at_shutdown_is_a_restart_with_dovecot_s_words(dovecot_factory: Any) -> None:
    server = dovecot_factory()
    server.add_user(USER, PASSWORD)
    client = ImapClient(server.host, server.port, security="plain", timeout=10)
    await client.connect()
    await client.login(Credentials(USER, PASSWORD))
    server.shutdown()
    caught = None
    try:
        for _ in range(50):  # until the BYE lands; each NOOP is a round trip, no sleep
            await client.noop()
    except Disconnected as exc:
        caught = exc
    await client.close()
    assert caught is not None, server.log_tail()
    d = diagnose(caught)
    assert d.code == "server_shutdown" and not d.permanent
    assert d.server_text is not None and "shutting down" in d.server_text.lower()


async def test_smtp_pointed_at_dovecot_s_imap_port_is_the_wrong_protocol(dovecot: Any) -> None:
    dovecot.add_user(USER, PASSWORD)
    report = await run(dovecot, dovecot.host, dovecot.port, "plain",
                       smtp=SmtpServer(dovecot.host, dovecot.port, "plain"))
    cause_of(report, "wrong_protocol")
    d = report.diagnosis
    assert d is not None and d.server_text is not None and "Dovecot" in d.server_text


async def test_imap_pointed_at_dovecot_s_pop3_port_is_pop3(dovecot_factory: Any) -> None:
    import os

    from dovecot_setup import free_port

    if not os.access("/usr/lib/dovecot/pop3-login", os.X_OK):
        pytest.skip("Debian dovecot-pop3d is not installed (.ci/run installs it)")
    server = dovecot_factory()
    port = free_port()
    server.reconfigure("protocols = imap pop3\nservice pop3-login {\n  inet_listener pop3 {\n"
                       f"    address = 127.0.0.1\n    port = {port}\n  }}\n}}\n")
    report = await run(server, server.host, port, "plain")
    cause_of(report, "pop3")
    d = report.diagnosis
    assert d is not None and d.server_text is not None and d.server_text.startswith("+OK")


async def test_serverbug_is_a_server_side_fault_with_dovecot_s_words(
        dovecot_factory: Any) -> None:
    import os

    server = dovecot_factory()
    server.add_user(USER, PASSWORD)
    os.chmod(server.maildir(USER), 0)  # Dovecot cannot read the mailbox: an internal error
    try:
        report = await run(server, server.host, server.port, "plain")
    finally:
        os.chmod(server.maildir(USER), 0o700)
    cause_of(report, "server_bug")
    d = report.diagnosis
    assert d is not None and d.server_text is not None
    assert d.server_text.startswith("Internal error occurred")


async def test_starttls_asked_of_a_dovecot_without_tls_is_permanent(
        dovecot_factory: Any) -> None:
    server = dovecot_factory()
    server.add_user(USER, PASSWORD)
    server.reconfigure("ssl = no\nservice imap-login {\n  inet_listener imaps {\n"
                       "    port = 0\n  }\n}\n")
    report = await run(server, "localhost", server.port, "starttls")
    cause_of(report, "starttls_unavailable")
    step = report.step("starttls")
    assert step is not None and step.status == "failed"
