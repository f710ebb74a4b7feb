"""A known password and a known OAuth token go through every diagnostics path - the trace
ring, the timeline, the record proxy's trace file, the bundle, the engine database, the
logs, ``inboxlab diagnose --json`` - and neither is found anywhere afterwards, in plain
text or inside any base64 run (SASL PLAIN, XOAUTH2)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
from pathlib import Path

import pytest
import secretscan
from diag_helpers import USER, account_for, scenario_text, served
from waiting import async_wait_until

from inboxlab.cli.main import main as cli_main
from inboxlab.engine.db import Database
from inboxlab.engine.diag.bundle import export_bundle
from inboxlab.engine.diag.record import Recorder
from inboxlab.engine.diag.timeline import Timeline, TimelineRecorder
from inboxlab.engine.diag.tracering import TraceRing
from inboxlab.engine.errors import EngineError
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.states import State
from inboxlab.fakeserver.scenario.model import PasswordChanged, Reset

PASSWORD = "Kn0wn-Pa55word-xyzzy"
TOKEN = "ya29.KnownToken-0123456789abcdefXYZ"
XOAUTH2 = f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01"
SECRETS = (PASSWORD.encode(), TOKEN.encode())


def leaks(data: bytes) -> list[str]:
    return secretscan.leaks(data, SECRETS)


def test_the_scanner_finds_what_it_must() -> None:
    assert leaks(b"x " + base64.b64encode(f"\0u\0{PASSWORD}".encode()) + b" y")
    assert leaks(base64.b64encode(XOAUTH2.encode()))
    assert leaks(PASSWORD.encode())
    assert not leaks(b"A1 LOGIN u [redacted]")


async def test_no_secret_reaches_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log_file = tmp_path / "engine.log"
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    ring = TraceRing(secrets=())  # the ring must not need to be told
    try:
        async with served(scenario_text(PASSWORD)) as srv, Recorder(
                srv.host, srv.port, tmp_path / "session.trace.jsonl") as rec:
            # 1. The engine's account, through the recording proxy, traced and timed.
            account = account_for(srv, PASSWORD, tmp_path)
            object.__setattr__(account.settings, "imap", type(account.settings.imap)(
                "127.0.0.1", rec.port, "plain"))
            account.hub.subscribe(ring.record)
            db = await Database.open(tmp_path / "engine.db")
            timeline = TimelineRecorder(Timeline(db), account)
            await timeline.start()
            await account.start()
            await async_wait_until(lambda: account.state is State.IDLE, what="synced")
            srv.runtime.fire(PasswordChanged(user=USER))
            srv.runtime.fire(Reset())
            await async_wait_until(lambda: not account.running, timeout=10, what="gives up")
            # 2. SASL-IR AUTHENTICATE PLAIN (the password in base64) and XOAUTH2 (a token).
            client = ImapClient("127.0.0.1", rec.port, security="plain", trace=ring.client_hook)
            await client.connect()
            with contextlib.suppress(EngineError):
                await client.authenticate_plain(Credentials(USER, PASSWORD))
            await client.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", rec.port)
            await reader.readline()
            blob = base64.b64encode(XOAUTH2.encode()).decode()
            writer.write(f"X1 AUTHENTICATE XOAUTH2 {blob}\r\n".encode())
            ring.record("imap.line.out", {"line": f"X1 AUTHENTICATE XOAUTH2 {blob}"})
            await writer.drain()
            await reader.readline()
            writer.close()
            # 3. The bundle, from everything at once.
            await export_bundle(tmp_path / "bundle.json", account=account, ring=ring, db=db)
            await account.stop()
            await timeline.stop()
            entries = await Timeline(db).query(USER)
            assert any(e.cause == "auth_failed" for e in entries)  # the path really ran
            await db.close()
            # 4. diagnose --json --bundle against the same server (password refused now).
            monkeypatch.setenv("INBOXLAB_PASSWORD", PASSWORD)
            out = io.StringIO()

            def run() -> int:
                with contextlib.redirect_stdout(out):
                    return cli_main(["diagnose", "--imap",
                                     f"imap://127.0.0.1:{rec.port}?security=plain",
                                     "--user", USER, "--json", "--bundle",
                                     str(tmp_path / "diagnose-bundle.json"),
                                     "--db", str(tmp_path / "engine.db")])

            assert await asyncio.to_thread(run) == 2
            (tmp_path / "diagnose.json").write_text(out.getvalue())
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    (tmp_path / "ring.txt").write_text("\n".join(t.render() for t in ring.lines()))
    assert any("AUTHENTICATE XOAUTH2" in t for t in ring.texts())
    assert "AUTHENTICATE PLAIN" in (tmp_path / "session.trace.jsonl").read_text()
    found = scan(tmp_path)
    assert set(found) >= {"engine.db", "engine.log", "session.trace.jsonl", "bundle.json",
                          "diagnose-bundle.json", "ring.txt"}
    assert not {name: bad for name, bad in found.items() if bad}


def scan(root: Path) -> dict[str, list[str]]:
    """Every file under ``root`` (database, WAL, logs, traces, bundles) -> what leaked."""
    return {p.name: leaks(p.read_bytes()) for p in root.rglob("*") if p.is_file()}
