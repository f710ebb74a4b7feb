"""Every bundled scenario loads, validates and serves; each gets a short, telling check.

Short on purpose: a login and a LIST, or the scenario's one scripted failure seen by a
real client (stdlib imaplib / smtplib). No 100k fetches here; bench/ does those.
"""

from __future__ import annotations

import asyncio
import imaplib
import shlex
import signal
import smtplib
import ssl
import subprocess
import sys
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
from scenario_helpers import PASSWORD, USER
from waiting import wait_until

from inboxlab import scenarios
from inboxlab.fakeserver.oauth_http import fetch_token
from inboxlab.fakeserver.scenario.load import load
from inboxlab.fakeserver.scenario.serve import ScenarioServer

REQUIRED = {
    "demo", "no-special-use", "inbox-100k", "exchange-100k-sent", "password-changed",
    "gmail-throttled", "too-many-connections", "reset-mid-fetch", "uidvalidity-reset",
    "tarpit", "gmail-autosave-sent", "tls-mismatch",
}


def test_the_issue_s_scenarios_are_all_bundled() -> None:
    assert REQUIRED <= set(scenarios.bundled())
    assert len(scenarios.bundled()) >= 12
    assert scenarios.DEFAULT == "demo"


def login(srv: ScenarioServer, timeout: float = 10.0) -> imaplib.IMAP4:
    client = imaplib.IMAP4(srv.host, srv.port, timeout=timeout)
    client.login(USER, PASSWORD)
    return client


def exists(client: imaplib.IMAP4, folder: str) -> int:
    typ, data = client.select(f'"{folder}"')
    assert typ == "OK", data
    return int(data[0])


def check_default(srv: ScenarioServer) -> None:
    client = login(srv)
    typ, folders = client.list()
    assert typ == "OK" and any(b'"INBOX"' in f for f in folders)
    inbox = next(f for f in srv.scenario.accounts[0].folders if f.name == "INBOX")
    expected = inbox.generated.count if inbox.generated else 0
    assert exists(client, "INBOX") == expected + len(inbox.messages)
    client.logout()


def check_demo(srv: ScenarioServer) -> None:
    check_default(srv)
    client = login(srv)
    folders = b"\n".join(client.list()[1])
    assert b"\\Sent" in folders and b'"Projects/Acme"' in folders


def check_no_special_use(srv: ScenarioServer) -> None:
    client = login(srv)
    folders = b"\n".join(client.list()[1])
    assert b"\\Sent" not in folders and b'"Gesendet"' in folders
    assert b'"Presentations"' in folders and b"Elementy wys&AUI-ane" in folders
    assert b"SPECIAL-USE" not in b" ".join(client.capability()[1])


def check_inbox_100k(srv: ScenarioServer) -> None:
    assert exists(login(srv), "INBOX") == 100_000


def check_exchange_100k_sent(srv: ScenarioServer) -> None:
    client = login(srv)
    assert b"\\Sent" not in b"\n".join(client.list()[1])  # no SPECIAL-USE
    typ, data = client.status('"Sent Items"', "(MESSAGES)")  # SELECT would take ~4 s here
    assert typ == "OK" and b"MESSAGES 100000" in data[0]


def check_password_changed(srv: ScenarioServer) -> None:
    current = login(srv)
    assert current.select("INBOX")[0] == "OK"  # fires the change
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        login(srv)
    assert current.noop()[0] == "OK"


def check_gmail_throttled(srv: ScenarioServer) -> None:
    client = login(srv)
    client.select("INBOX")
    assert client.uid("FETCH", "1", "(FLAGS)")[0] == "OK"
    typ, data = client.uid("FETCH", "2", "(FLAGS)")
    assert (typ, data) == (
        "NO", [b"[THROTTLED] Account exceeded command or bandwidth limits. (Failure)"])


def check_too_many_connections(srv: ScenarioServer) -> None:
    held = [login(srv) for _ in range(3)]
    with pytest.raises(imaplib.IMAP4.error) as info:
        login(srv)
    assert info.value.args[0] == b"[ALERT] Too many simultaneous connections. (Failure)"
    assert all(c.noop()[0] == "OK" for c in held)


def check_reset_mid_fetch(srv: ScenarioServer) -> None:
    client = login(srv)
    client.select("INBOX")
    with pytest.raises(ConnectionResetError):
        client.uid("FETCH", "1:*", "(BODY.PEEK[HEADER])")
    assert exists(login(srv), "INBOX") == 2000


def check_uidvalidity_reset(srv: ScenarioServer) -> None:
    client = login(srv)
    client.select("INBOX")
    before = client.response("UIDVALIDITY")[1][0]
    client.select("INBOX")
    assert client.response("UIDVALIDITY")[1][0] != before


def check_tarpit(srv: ScenarioServer) -> None:
    with pytest.raises(TimeoutError):
        imaplib.IMAP4(srv.host, srv.port, timeout=0.5)


def check_tls_mismatch(srv: ScenarioServer) -> None:
    ctx = ssl.create_default_context(cafile=str(srv.ca_pem_path))
    with pytest.raises(ssl.SSLCertVerificationError, match=r"(?i)hostname|match"):
        imaplib.IMAP4_SSL("localhost", srv.tls_port, ssl_context=ctx, timeout=10)


def check_gmail_autosave_sent(srv: ScenarioServer) -> None:
    client = login(srv)
    sent_before = exists(client, "[Gmail]/Sent Mail")
    inbox_before = exists(client, "INBOX")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = USER, "lee@partner.example", "Proposal"
    msg["Message-ID"] = "<proposal-1@example.com>"
    msg.set_content("Here is the proposal.")
    assert srv.smtp is not None and srv.smtp.port
    ctx = ssl.create_default_context(cafile=str(srv.ca_pem_path))
    with smtplib.SMTP(srv.host, srv.smtp.port, timeout=10) as smtp:
        smtp.starttls(context=ctx)
        smtp.login(USER, PASSWORD)
        smtp.send_message(msg)

    def count(folder: str) -> int:
        _typ, data = client.status(f'"{folder}"', "(MESSAGES)")
        return int(data[0].rsplit(b"MESSAGES ", 1)[1].rstrip(b")"))

    wait_until(lambda: count("[Gmail]/Sent Mail") == sent_before + 1, what="auto-saved copy")
    wait_until(lambda: count("INBOX") == inbox_before + 1, what="Lee's reply")


def check_bye_unavailable(srv: ScenarioServer) -> None:
    client = login(srv)  # CAPABILITY, LOGIN: commands 1 and 2
    with pytest.raises(imaplib.IMAP4.abort, match=r"\[UNAVAILABLE\] Server is going down"):
        client.list()


def check_cut_mid_literal(srv: ScenarioServer) -> None:
    client = login(srv)
    client.select("INBOX")
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        client.uid("FETCH", "1", "(BODY.PEEK[])")


def check_server_down(srv: ScenarioServer) -> None:
    check_default(srv)  # connection 1; connection 2 would take it down for 3 s


def oauth_client(srv: ScenarioServer, mech: str = "XOAUTH2") -> imaplib.IMAP4:
    """stdlib imaplib (no SASL-IR: the continuation path) with a token from the
    scenario's token endpoint; an error challenge is answered with the dummy response."""
    token = fetch_token(srv.oauth.url, srv.store.oauth.refresh_token(USER))  # type: ignore[union-attr]
    client = imaplib.IMAP4(srv.host, srv.port, timeout=10)
    raw = (f"user={USER}\x01auth=Bearer {token}\x01\x01" if mech == "XOAUTH2" else
           f"n,a={USER},\x01auth=Bearer {token}\x01\x01").encode()
    answers = iter([raw])
    client.authenticate(mech, lambda challenge: next(answers, b"" if mech == "XOAUTH2"
                                                     else b"\x01"))
    return client


def check_oauth_login(srv: ScenarioServer) -> None:
    # the token command `fakeserver serve` prints works as printed (shell-quoted)
    printed = srv.endpoints()["token_commands"][USER]  # type: ignore[index]
    token = subprocess.run(shlex.split(printed), capture_output=True, check=True, text=True,
                           timeout=30).stdout.strip()
    assert srv.store.oauth.check(token, USER) == "ok"
    for mech in ("XOAUTH2", "OAUTHBEARER"):
        client = oauth_client(srv, mech)
        assert exists(client, "INBOX") == 20
        client.logout()


def check_oauth_scope(srv: ScenarioServer) -> None:
    with pytest.raises(imaplib.IMAP4.error, match="Invalid SASL argument"):
        oauth_client(srv)  # connection 1 removed the mail permission


def check_oauth_rejected(srv: ScenarioServer) -> None:
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATE failed"):
        oauth_client(srv)


def check_basic_auth_disabled(srv: ScenarioServer) -> None:
    with pytest.raises(imaplib.IMAP4.error, match="LOGIN failed"):
        login(srv)
    client = oauth_client(srv)  # OAuth still works
    assert exists(client, "INBOX") == 20


CHECKS: dict[str, Callable[[ScenarioServer], None]] = {
    "demo": check_demo,
    "no-special-use": check_no_special_use,
    "inbox-100k": check_inbox_100k,
    "exchange-100k-sent": check_exchange_100k_sent,
    "password-changed": check_password_changed,
    "gmail-throttled": check_gmail_throttled,
    "too-many-connections": check_too_many_connections,
    "reset-mid-fetch": check_reset_mid_fetch,
    "uidvalidity-reset": check_uidvalidity_reset,
    "tarpit": check_tarpit,
    "tls-mismatch": check_tls_mismatch,
    "gmail-autosave-sent": check_gmail_autosave_sent,
    "bye-unavailable": check_bye_unavailable,
    "cut-mid-literal": check_cut_mid_literal,
    "server-down": check_server_down,
    "oauth-login": check_oauth_login,
    "diag-oauth-scope": check_oauth_scope,
    "diag-oauth-rejected": check_oauth_rejected,
    "diag-basic-auth-disabled": check_basic_auth_disabled,
}


@pytest.mark.parametrize("name", sorted(scenarios.bundled()))
async def test_bundled_scenario_loads_serves_and_behaves(name: str) -> None:
    scenario = load(scenarios.path_of(name))
    assert scenario.name == name
    async with ScenarioServer(scenario) as srv:
        assert srv.control_port is not None
        await asyncio.to_thread(CHECKS.get(name, check_default), srv)


def test_cli_check_and_list(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "inboxlab.cli.main"]
    listed = subprocess.run([*run, "scenario", "list"], capture_output=True, text=True,
                            timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert all(name in listed.stdout for name in REQUIRED)
    good = subprocess.run([*run, "scenario", "check", "tarpit"], capture_output=True,
                          text=True, timeout=60)
    assert good.returncode == 0 and good.stdout.startswith("ok: tarpit")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[server]\nprofile = "gmial"\n')
    refused = subprocess.run([*run, "scenario", "check", str(bad)], capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 3  # unusable input: engine/exitcodes.py USAGE
    assert f"{bad}:line 3: server.profile: unknown profile 'gmial'" in refused.stderr


def test_cli_serve_prints_endpoints_and_stops_cleanly() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "inboxlab.cli.main",
                             "fakeserver", "serve", "tarpit"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(lines)
        assert "scenario 'tarpit'" in text and "IMAPS:" in text and "control:" in text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_serve_refuses_an_invalid_scenario_before_listening(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('seed = "x"\n')
    done = subprocess.run([sys.executable, "-m", "inboxlab.cli.main",
                           "fakeserver", "serve", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and "line 1: seed" in done.stderr
    assert "IMAP:" not in done.stdout
