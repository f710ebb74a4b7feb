"""A whole OAuth session leaves no token behind: connect by XOAUTH2 through the record
proxy, a token expiring mid-session (refresh: a second token), SMTP AUTH XOAUTH2 and
OAUTHBEARER, the trace ring, the timeline, the engine database, debug logs, a diagnostic
bundle, ``inboxlab diagnose --oauth --json --bundle`` and the saved settings. Every access
token the provider issued, and the refresh token behind them, is looked for in every file
under the session's directories, plain and inside any base64 run (secretscan)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import random
import shlex
from pathlib import Path

import pytest
from secretscan import checkpoint, scan_tree
from waiting import async_wait_until

from inboxlab import scenarios
from inboxlab.cli.main import main as cli_main
from inboxlab.engine.account import Account, AccountOptions
from inboxlab.engine.backoff import BackoffPolicy
from inboxlab.engine.crm.send import SmtpSubmitter
from inboxlab.engine.db import Database
from inboxlab.engine.diag.bundle import export_bundle
from inboxlab.engine.diag.record import Recorder
from inboxlab.engine.diag.timeline import Timeline, TimelineRecorder
from inboxlab.engine.diag.tracering import TraceRing
from inboxlab.engine.settings import AccountSettings, ImapServer, SmtpServer
from inboxlab.engine.states import State
from inboxlab.engine.tokens import CommandToken, TokenProvider
from inboxlab.fakeserver.scenario.load import load
from inboxlab.fakeserver.scenario.model import Close
from inboxlab.fakeserver.scenario.serve import ScenarioServer
from inboxlab.tui.settings_store import SettingsStore, UiSettings, config_dir

FAST_BACKOFF = BackoffPolicy(base_min=0.01, base_max=0.03, factor=1.5, cap=0.2)
RAW = b"From: user@example.com\r\nTo: bob@client.test\r\nSubject: x\r\n\r\nx\r\n"


async def test_an_oauth_session_leaves_no_token_anywhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    log_file = tmp_path / "logs" / "engine.log"
    log_file.parent.mkdir()
    handler = logging.FileHandler(log_file)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    ring = TraceRing(secrets=())  # the ring is not told the tokens
    try:
        async with ScenarioServer(load(scenarios.path_of("oauth-login")), control_port=None,
                                  smtp=True) as srv, Recorder(
                srv.host, srv.port, work / "session.trace.jsonl") as rec:
            user = srv.scenario.accounts[0].username
            command = srv.token_command(user)
            provider = TokenProvider(CommandToken(command), "XOAUTH2")
            settings = AccountSettings(user, ImapServer("127.0.0.1", rec.port, "plain"))
            account = Account(settings, provider, work / "engine.db", rng=random.Random(2),
                              options=AccountOptions(backoff=FAST_BACKOFF, connect_timeout=5,
                                                     command_timeout=10))
            account.hub.subscribe(ring.record)
            db = await Database.open(work / "engine.db")
            timeline = TimelineRecorder(Timeline(db), account)
            await timeline.start()
            await account.start()
            await async_wait_until(lambda: account.state is State.IDLE, what="signed in")
            srv.store.oauth.expire()
            srv.runtime.fire(Close())
            await async_wait_until(lambda: provider.refreshes == 1
                                   and account.state is State.IDLE, what="refreshed")
            assert srv.smtp is not None and srv.tls is not None
            for mech in ("XOAUTH2", "OAUTHBEARER"):
                sub = SmtpSubmitter(SmtpServer("127.0.0.1", srv.smtp.port, "starttls"), user,
                                    TokenProvider(CommandToken(command), mech),  # type: ignore[arg-type]
                                    tls_context=srv.tls.client_context())
                try:
                    assert "OK" in await sub.submit(user, ["bob@client.test"], RAW)
                finally:
                    await sub.close()
            await export_bundle(work / "bundle.json", account=account, ring=ring, db=db)
            await account.stop()
            await timeline.stop()
            await db.close()
            out = io.StringIO()

            def run() -> int:
                with contextlib.redirect_stdout(out):
                    return cli_main(["diagnose", "--imap",
                                     f"imap://127.0.0.1:{rec.port}?security=plain",
                                     "--user", user, "--json", "--oauth", "OAUTHBEARER",
                                     "--token-command", shlex.join(command),
                                     "--bundle", str(work / "diagnose-bundle.json")])

            assert await asyncio.to_thread(run) == 0, out.getvalue()
            (work / "diagnose.json").write_text(out.getvalue())
            SettingsStore().save(UiSettings())
            tokens = srv.store.oauth.issued_values()
            refresh = srv.store.oauth.refresh_token(user)
        checkpoint(work / "engine.db")
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(old_level)
    (work / "ring.txt").write_text("\n".join(t.render() for t in ring.lines()))
    assert len(tokens) >= 5  # the account's two, two SMTP logins, diagnose's
    assert any("AUTHENTICATE XOAUTH2" in t for t in ring.texts())
    assert "AUTHENTICATE XOAUTH2" in (work / "session.trace.jsonl").read_text()
    assert (config_dir() / "settings.json").exists() and log_file.stat().st_size > 0
    written = {p.name for p in work.rglob("*") if p.is_file()}
    assert written >= {"engine.db", "session.trace.jsonl", "bundle.json",
                       "diagnose-bundle.json", "diagnose.json", "ring.txt"}
    secrets = tuple(t.encode() for t in (*tokens, refresh))
    assert scan_tree([tmp_path], secrets) == {}
