"""Record and replay: a failing session against real Dovecot, recorded through the proxy,
converted to a scenario, served by the fake server, replayed by the engine: the engine
must classify the replay exactly as it classified Dovecot."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from inboxlab.engine.diag.classify import diagnose
from inboxlab.engine.diag.probe import ProbeOptions, probe
from inboxlab.engine.diag.record import Recorder
from inboxlab.engine.diag.tracefile import read_trace
from inboxlab.engine.errors import EngineError
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer
from inboxlab.fakeserver.scenario.load import loads
from inboxlab.fakeserver.scenario.serve import ScenarioServer
from inboxlab.harness.fromtrace import REPLAY_PASSWORD, scenario_from_trace

pytestmark = pytest.mark.dovecot

USER, PASSWORD = "replay@example.com", "Dovecot-Right-Pw-9"


def settings(host: str, port: int) -> AccountSettings:
    return AccountSettings(username=USER, imap=ImapServer(host, port, "plain"))


async def replayed(trace: Path) -> ScenarioServer:
    text = scenario_from_trace(read_trace(trace), name="replay")
    return ScenarioServer(loads(text, file="replay.toml"), control_port=None, smtp=False)


async def test_wrong_password_replays_as_the_same_cause(dovecot: Any, tmp_path: Path) -> None:
    dovecot.add_user(USER, PASSWORD)
    trace = tmp_path / "wrong.trace.jsonl"
    async with Recorder(dovecot.host, dovecot.port, trace, once=True) as rec:
        live = await probe(settings("127.0.0.1", rec.port), Secret("not-the-password"),
                           ProbeOptions(connect_timeout=10, command_timeout=10, smtp=False))
        await asyncio.wait_for(rec.done.wait(), 10)
    assert live.diagnosis is not None and live.diagnosis.code == "auth_failed"
    assert "not-the-password" not in trace.read_text()
    async with await replayed(trace) as srv:
        replay = await probe(settings(srv.host, srv.port), Secret(REPLAY_PASSWORD),
                             ProbeOptions(connect_timeout=5, command_timeout=5, smtp=False))
    assert replay.diagnosis is not None
    assert replay.diagnosis.code == live.diagnosis.code
    assert replay.diagnosis.permanent == live.diagnosis.permanent
    assert replay.diagnosis.response_code == live.diagnosis.response_code
    assert replay.diagnosis.server_text == live.diagnosis.server_text  # Dovecot's own words


async def fetch_until_failure(host: str, port: int, password: str,
                              on_first: Any = None) -> EngineError:
    """Log in, SELECT INBOX, FETCH every body; returns the engine error that ended it."""
    client = ImapClient(host, port, security="plain", timeout=10, stream_queue=1)
    try:
        await client.connect()
        await client.login(Credentials(USER, password))
        await client.select("INBOX")
        seen = 0
        async for _ in client.uid_fetch("1:*", "(UID BODY.PEEK[])"):
            seen += 1
            if seen == 1 and on_first is not None:
                await on_first()
        raise AssertionError("the FETCH finished: the server was never stopped")
    except EngineError as exc:
        return exc
    finally:
        await client.close()


async def test_server_stopped_mid_fetch_replays_as_the_same_cause(
    dovecot_factory: Any, tmp_path: Path
) -> None:
    server = dovecot_factory()
    server.add_user(USER, PASSWORD)
    body = b"x" * 60_000
    server.load_messages(USER, "INBOX", [
        (b"From: a@example.com\r\nSubject: m%d\r\n\r\n" % i + body, "\\Seen",
         datetime(2024, 1, 1, tzinfo=UTC)) for i in range(200)])
    trace = tmp_path / "stopped.trace.jsonl"
    async with Recorder(server.host, server.port, trace, once=True) as rec:
        live_err = await fetch_until_failure("127.0.0.1", rec.port, PASSWORD,
                                             on_first=lambda: asyncio.to_thread(server.stop))
        await asyncio.wait_for(rec.done.wait(), 10)
    live = diagnose(live_err)
    assert live.code == "connection_reset", live.as_dict()
    records = read_trace(trace)
    assert records[-1].kind in ("eof", "reset") or any(
        r.text and r.text.startswith("* BYE") for r in records), records[-3:]
    assert not any(r.text and "x" * 100 in r.text for r in records)  # bodies kept as sizes
    async with await replayed(trace) as srv:
        replay_err = await fetch_until_failure(srv.host, srv.port, REPLAY_PASSWORD)
    replay = diagnose(replay_err)
    assert (replay.code, replay.permanent) == (live.code, live.permanent)
