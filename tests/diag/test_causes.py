"""Every cause in the catalogue, reproduced and diagnosed twice: by the engine API
(``engine.diag.probe.probe``) and by ``inboxlab diagnose --json``; both must name the
cause, its permanence and its remediation exactly as the catalogue has them.

Causes come from bundled scenarios (scenarios/*.toml, served over loopback) or, for
DNS, ports, certificates and non-IMAP servers, from local fixtures. Two causes are
facts rather than failures (UIDVALIDITY reset, folder vanished while running): see
``test_uidvalidity_reset_*`` below and test_timeline.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import shlex
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from diag_helpers import USER, account_for
from waiting import async_wait_until

from inboxlab.cli.main import main as cli_main
from inboxlab.engine.catalogue import BY_CODE, CAUSES
from inboxlab.engine.diag.classify import diagnose_fact
from inboxlab.engine.diag.probe import ProbeOptions, ProbeReport, probe
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer
from inboxlab.engine.states import State
from inboxlab.engine.tokens import CommandToken, EnvToken, TokenProvider
from inboxlab.fakeserver.scenario.load import load
from inboxlab.fakeserver.scenario.model import UidValidityReset
from inboxlab.fakeserver.scenario.serve import ScenarioServer

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
PASSWORD = "inboxlab-demo"
TIMEOUT = 2.0


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    security: str
    cafile: str | None = None
    token_command: tuple[str, ...] | None = None  # the scenario's token command (OAuth)


@dataclass(frozen=True)
class Case:
    cause: str
    scenario: str | None = None  # a bundled scenario; None: a fixture
    security: str = "plain"
    trusted: bool = True
    login: str = "password"  # or the OAuth mechanism (XOAUTH2 / OAUTHBEARER)


CASES = [
    Case("dns"), Case("connect_refused"), Case("connect_timeout"),
    Case("tls_handshake", "diag-tls-handshake", "starttls"),
    Case("tls_untrusted", "demo", "tls", trusted=False),
    Case("tls_hostname_mismatch", "tls-mismatch", "tls"),
    Case("pop3"), Case("courier", "diag-courier"),
    Case("auth_failed", "diag-auth-failed"),
    Case("app_password_required", "diag-app-password"),
    Case("web_login_required", "diag-web-login"),
    Case("imap_disabled", "diag-imap-disabled"),
    Case("expired", "diag-expired"),
    Case("privacy_required", "diag-privacy-required"),
    Case("contact_admin", "diag-contact-admin"),
    Case("too_many_connections", "too-many-connections"),
    Case("throttled", "diag-throttled-gmail"),
    Case("throttled", "diag-throttled-office365"),
    Case("overquota", "diag-overquota"),
    Case("unavailable", "bye-unavailable"),
    Case("inuse", "diag-inuse"),
    Case("idle_timeout", "diag-idle-timeout"),
    Case("connection_reset", "diag-reset-mid-command"),
    Case("tarpit", "tarpit"),
    Case("folder_vanished", "diag-folder-vanished"),
    # issue 13's table: the port and TLS mix-ups and the server's own words
    Case("tls_port_plain", "demo", "plain-on-tls"),
    Case("tls_port_plain", "demo", "starttls-on-tls"),
    Case("tls_handshake_timeout"),
    Case("privacy_required", None, "logindisabled"),
    Case("server_shutdown"),
    Case("server_bug"),
    Case("wrong_protocol"),
    Case("starttls_unavailable", "diag-throttled-gmail", "starttls"),  # gmail: no STARTTLS
    Case("basic_auth_disabled", "diag-basic-auth-disabled"),
    Case("oauth_session_expired", "diag-oauth-expired", login="OAUTHBEARER"),
    Case("oauth_insufficient_scope", "diag-oauth-scope", login="OAUTHBEARER"),
    Case("oauth_token_rejected", "diag-oauth-rejected", login="XOAUTH2"),
    # the scenario revokes mid-session (an IDLE trigger a probe never sends): revoked
    # here before the probe logs in, so its refresh meets invalid_grant the same way
    Case("oauth_grant_revoked", "diag-oauth-revoked", login="XOAUTH2"),
    Case("oauth_setup", "demo", login="XOAUTH2"),  # the demo server offers no OAuth
]
# Causes reproduced without a server, where they live (a static token that cannot be
# refreshed; a token command that hangs): tests/engine/test_tokens.py.
ELSEWHERE = {"oauth_token_expired", "oauth_token_timeout",
             "smtp_rejected", "smtp_deferred"}  # tests/crm/test_submit_classified.py

# What a scripted server answers, by command (``{tag}`` is the client's tag); a command
# missing from the table is answered OK. Words are Dovecot's where Dovecot has them.
CAPS = b"* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE AUTH=PLAIN\r\n"
SCRIPTS: dict[str, dict[str, bytes]] = {
    "server_shutdown": {"CAPABILITY": CAPS + b"{tag} OK done\r\n",
                        "LOGIN": b"* BYE Server shutting down.\r\n"},
    "server_bug": {"LIST": b"{tag} NO [SERVERBUG] Internal error occurred. Refer to server "
                           b"log for more information. [2026-12-05 10:00:00]\r\n"},
    "privacy_required": {"CAPABILITY": b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n"
                                       b"{tag} OK done\r\n"},
}


def test_every_failure_cause_has_a_case() -> None:
    # tampering, limit_exceeded: tests/reliability/test_hostile_*.py (hostile servers)
    covered = {c.cause for c in CASES} | {"uidvalidity_reset", "tampering", "limit_exceeded"} \
        | ELSEWHERE
    missing = {c.code for c in CAUSES} - covered - {"config", "unknown"}
    assert not missing, f"causes without a reproducing case: {sorted(missing)}"


# -- fixtures for what a scenario cannot be ------------------------------------------------


@contextlib.asynccontextmanager
async def one_line_server(first_line: bytes) -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(first_line)
        await writer.drain()
        with contextlib.suppress(Exception):
            await reader.read()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@contextlib.contextmanager
def full_backlog() -> Any:
    """A port whose accept queue is full: the kernel drops new SYNs, connects time out."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    filler = socket.create_connection(lsock.getsockname())
    try:
        yield lsock.getsockname()[1]
    finally:
        filler.close()
        lsock.close()


@contextlib.asynccontextmanager
async def scripted_imap(script: dict[str, bytes]) -> AsyncIterator[int]:
    """An IMAP server that greets, then answers each command from ``script``."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Dovecot ready.\r\n")
        with contextlib.suppress(Exception):
            while line := await reader.readline():
                tag, _, rest = line.decode().partition(" ")
                verb = rest.split(" ", 1)[0].strip().upper()
                answer = script.get(verb, b"{tag} OK done\r\n")
                writer.write(answer.replace(b"{tag}", tag.encode()))
                await writer.drain()
                if b"* BYE" in answer:
                    break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def target_for(case: Case) -> AsyncIterator[Target]:
    if case.scenario is None:
        if case.cause == "dns":
            yield Target("imap.nonexistent.invalid", 993, "tls")
        elif case.cause == "connect_refused":
            yield Target("127.0.0.1", closed_port(), "plain")
        elif case.cause == "connect_timeout":
            with full_backlog() as port:
                yield Target("127.0.0.1", port, "plain")
        elif case.cause == "tls_handshake_timeout":  # accepts TCP, never answers TLS
            async with one_line_server(b"") as port:
                yield Target("127.0.0.1", port, "tls")
        elif case.cause == "wrong_protocol":
            async with one_line_server(b"220 mail.example.com ESMTP Postfix\r\n") as port:
                yield Target("127.0.0.1", port, "plain")
        elif case.cause in SCRIPTS:
            async with scripted_imap(SCRIPTS[case.cause]) as port:
                yield Target("127.0.0.1", port, "plain")
        elif case.cause == "pop3":
            async with one_line_server(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>"
                                       b"\r\n") as port:
                yield Target("127.0.0.1", port, "plain")
        else:
            raise AssertionError(case)
        return
    async with ScenarioServer(load(SCENARIOS / f"{case.scenario}.toml"), control_port=None,
                              smtp=False) as srv:
        held: list[ImapClient] = []
        # too_many_connections: the person's other mail programs hold the 3 allowed.
        # Login refusals start at the second login (the scenario's first session works).
        first_login_ok = "login = 2" in (SCENARIOS / f"{case.scenario}.toml").read_text()
        if case.cause == "oauth_grant_revoked":
            srv.store.oauth.revoke()
        command = tuple(srv.token_command(USER)) if srv.oauth is not None else None
        sessions = 3 if case.cause == "too_many_connections" else int(first_login_ok)
        for _ in range(sessions):
            c = ImapClient(srv.host, srv.port, security="plain")
            await c.connect()
            await c.login(Credentials(USER, PASSWORD))
            held.append(c)
        try:
            if case.security == "plain-on-tls":
                yield Target("127.0.0.1", srv.tls_port, "plain")
            elif case.security == "starttls-on-tls":
                yield Target("localhost", srv.tls_port, "starttls", str(srv.ca_pem_path))
            elif case.security == "starttls":
                yield Target("localhost", srv.port, "starttls", str(srv.ca_pem_path))
            elif case.security == "tls":
                yield Target("localhost", srv.tls_port, "tls",
                             str(srv.ca_pem_path) if case.trusted else None)
            else:
                yield Target(srv.host, srv.port, "plain", token_command=command)
        finally:
            for c in held:
                await c.close()


def settings(t: Target) -> AccountSettings:
    return AccountSettings(username=USER, imap=ImapServer(t.host, t.port, t.security))  # type: ignore[arg-type]


def cli_json(argv: list[str], env: Callable[[], None]) -> tuple[int, dict[str, Any]]:
    env()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli_main(argv)
    return code, json.loads(out.getvalue())


def argv_for(t: Target, case: Case) -> list[str]:
    scheme = {"tls": "imaps", "plain": "imap", "starttls": "imap"}[t.security]
    url = f"{scheme}://{t.host}:{t.port}" + ("?security=plain" if t.security == "plain" else "")
    argv = ["diagnose", "--imap", url, "--user", USER, "--json", "--timeout", str(TIMEOUT)]
    if case.login != "password":
        argv += ["--oauth", case.login]
        if t.token_command is not None:
            argv += ["--token-command", shlex.join(t.token_command)]
    return argv + (["--cafile", t.cafile] if t.cafile else [])


def credential_for(t: Target, case: Case) -> Secret | TokenProvider:
    """The password, or the OAuth provider the CLI's --oauth options build."""
    if case.login == "password":
        return Secret(PASSWORD)
    source = CommandToken(t.token_command) if t.token_command else EnvToken(
        "T", environ={"T": "at-no-such-token"})
    return TokenProvider(source, case.login)  # type: ignore[arg-type]


def env_for(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    def setup() -> None:
        monkeypatch.setenv("INBOXLAB_PASSWORD", PASSWORD)
        monkeypatch.setenv("INBOXLAB_OAUTH_TOKEN", "at-no-such-token")
    return setup


def check(diagnosis: dict[str, Any] | None, cause: str) -> None:
    assert diagnosis is not None
    entry = BY_CODE[cause]
    assert diagnosis["cause"] == cause, diagnosis
    assert diagnosis["permanent"] is entry.permanent
    assert diagnosis["owner_fix"] == entry.owner_fix and diagnosis["it_fix"] == entry.it_fix
    # The engine's own error agrees with the catalogue on "retry or not".
    assert diagnosis["engine_permanent"] in (None, entry.permanent), diagnosis


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.cause}-{c.scenario or 'fixture'}")
async def test_cause_through_the_engine_api_and_diagnose_json(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Twice, each against a fresh server: a scenario's "nth command" fires once per run.
    async with target_for(case) as t:
        report: ProbeReport = await probe(
            settings(t), credential_for(t, case),
            ProbeOptions(connect_timeout=TIMEOUT, command_timeout=TIMEOUT, cafile=t.cafile))
    assert report.status == "failed" and report.exit_code == 2, report.as_dict()
    assert report.diagnosis is not None
    check(report.diagnosis.as_dict(), case.cause)
    async with target_for(case) as t:
        code, data = await asyncio.to_thread(cli_json, argv_for(t, case), env_for(monkeypatch))
    assert code == 2 and data["status"] == "failed"
    check(data["diagnosis"], case.cause)
    same = {k: v for k, v in report.diagnosis.as_dict().items() if k != "message"}
    assert {k: v for k, v in data["diagnosis"].items() if k != "message"} == same


async def test_uidvalidity_reset_through_the_engine_and_diagnose_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    async with ScenarioServer(load(SCENARIOS / "uidvalidity-reset.toml"), control_port=None,
                              smtp=False) as srv:
        account = account_for(srv, PASSWORD, tmp_path, initial_scan="new")
        account.subscribe(lambda event: seen.append(diagnose_fact(event)))
        await account.start()
        try:
            await async_wait_until(lambda: account.state is State.IDLE, what="synced")
        finally:
            await account.stop()
        srv.runtime.fire(UidValidityReset(folder="INBOX"))
        # The engine API: the account's next scan reports the reset as a cause.
        await account.start()
        try:
            await async_wait_until(lambda: any(d is not None for d in seen), timeout=10,
                                   what="the reset noticed")
        finally:
            await account.stop()
        found = next(d for d in seen if d is not None)
        assert found.code == "uidvalidity_reset" and found.permanent is False
        # diagnose --json, given the engine database, reports it as a finding.
        srv.runtime.fire(UidValidityReset(folder="INBOX"))
        t = Target(srv.host, srv.port, "plain")
        code, data = await asyncio.to_thread(
            cli_json,
            [*argv_for(t, Case("uidvalidity_reset")), "--db", str(tmp_path / "engine.db")],
            lambda: monkeypatch.setenv("INBOXLAB_PASSWORD", PASSWORD))
    assert code == 1 and data["status"] == "warning"
    (finding,) = data["findings"]
    assert finding["cause"] == "uidvalidity_reset" and finding["permanent"] is False
    assert finding["owner_fix"] == BY_CODE["uidvalidity_reset"].owner_fix
