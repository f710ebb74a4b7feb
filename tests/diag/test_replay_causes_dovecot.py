"""Record against real Dovecot, replay with ``scenario run``: the same cause comes back
(issue 13). Each failure is induced on Dovecot itself (wrong password, kill -9 of the imap
process mid-FETCH, SIGSTOP at SELECT, the upstream down, the BYE of a shutdown), recorded
through ``inboxlab record``, turned into a scenario by ``from-trace`` (which writes the
``[[expect]]`` for the recorded cause) and run by the engine: every expectation must pass,
and the replay's failure must be the recorded one, not one the runner made."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from inboxlab.engine.diag.classify import diagnose
from inboxlab.engine.diag.record import Recorder
from inboxlab.engine.diag.tracefile import read_trace
from inboxlab.engine.errors import EngineError
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.fakeserver.scenario.load import loads
from inboxlab.harness.fromtrace import scenario_from_trace
from inboxlab.harness.run import format_report, run_scenario

pytestmark = pytest.mark.dovecot

USER, PASSWORD = "replay13@example.com", "Dovecot-Replay-pw-13"


async def session(port: int, password: str, *, before_select: Callable[[], Any] | None = None,
                  mid_fetch: Callable[[], Any] | None = None,
                  after_select: Callable[[], Any] | None = None) -> EngineError:
    """A mail client's session through the recorder until the induced failure ends it."""
    client = ImapClient("127.0.0.1", port, security="plain", timeout=2.0, stream_queue=1)
    try:
        await client.connect()
        await client.login(Credentials(USER, password))
        await client.list()
        if before_select is not None:
            await asyncio.to_thread(before_select)
        await client.select("INBOX")
        if after_select is not None:
            await asyncio.to_thread(after_select)
            for _ in range(50):  # until the server's BYE lands
                await client.noop()
        seen = 0
        async for _ in client.uid_fetch("1:*", "(UID BODY.PEEK[])"):
            seen += 1
            if seen == 1 and mid_fetch is not None:
                await asyncio.to_thread(mid_fetch)
        raise AssertionError("the session ended without the induced failure")
    except EngineError as exc:
        return exc
    finally:
        await client.close()


async def record(server: Any, tmp_path: Path, run: Callable[[int], Awaitable[Any]],
                 port: int | None = None) -> tuple[Any, Path]:
    trace = tmp_path / "live.trace.jsonl"
    async with Recorder(server.host, port or server.port, trace, once=True) as rec:
        live = await run(rec.port)
        await asyncio.wait_for(rec.done.wait(), 15)
    return live, trace


async def replay(trace: Path, tmp_path: Path, cause: str) -> str:
    text = scenario_from_trace(read_trace(trace), name="replay")
    assert f'check = "error"\ncause = "{cause}"' in text, text
    scenario = loads(text, file="replay.toml")
    report = await run_scenario(scenario, deadline=20.0, workdir=tmp_path / "run")
    out = format_report(report)
    assert not report.failed, text + "\n" + out
    assert report.outcomes[0].check == "error" and report.outcomes[0].status == "pass", out
    return text


def fill(server: Any, n: int = 600) -> None:
    body = b"x" * 50_000
    server.load_messages(USER, "INBOX", [
        (b"From: a@example.com\r\nSubject: m%d\r\n\r\n" % i + body, "\\Seen",
         datetime(2024, 1, 1, tzinfo=UTC)) for i in range(n)])


async def test_wrong_password(dovecot_factory: Any, tmp_path: Path) -> None:
    server = dovecot_factory()
    server.add_user(USER, PASSWORD)
    live, trace = await record(server, tmp_path, lambda port: session(port, "wrong-pw-13"))
    assert diagnose(live).code == "auth_failed"
    await replay(trace, tmp_path, "auth_failed")


async def test_kill_9_mid_fetch(dovecot_factory: Any, tmp_path: Path) -> None:
    server = dovecot_factory()
    server.add_user(USER, PASSWORD)
    fill(server)
    killed: list[int] = []
    live, trace = await record(server, tmp_path, lambda port: session(
        port, PASSWORD, mid_fetch=lambda: killed.append(server.kill_imap())))
    assert killed and killed[0] >= 1
    assert diagnose(live).code == "connection_reset", live
    text = await replay(trace, tmp_path, "connection_reset")
    assert "after_bytes" not in text  # placed at the command, not 6 MB into its answer


async def test_sigstop_at_select(dovecot_factory: Any, tmp_path: Path) -> None:
    server = dovecot_factory()
    server.add_user(USER, PASSWORD)
    try:
        live, trace = await record(server, tmp_path, lambda port: session(
            port, PASSWORD, before_select=server.pause))
    finally:
        server.resume()
    assert diagnose(live).code == "tarpit", live
    await replay(trace, tmp_path, "tarpit")


async def test_upstream_down(dovecot_factory: Any, tmp_path: Path) -> None:
    server = dovecot_factory()
    server.add_user(USER, PASSWORD)
    port = server.port
    server.stop()  # nothing listens there any more
    _live, trace = await record(server, tmp_path, lambda p: session(p, PASSWORD), port=port)
    assert any(r.kind == "upstream_failed" for r in read_trace(trace))
    await replay(trace, tmp_path, "connect_refused")


async def test_bye_at_shutdown(dovecot_factory: Any, tmp_path: Path) -> None:
    server = dovecot_factory()
    server.add_user(USER, PASSWORD)
    live, trace = await record(server, tmp_path, lambda port: session(
        port, PASSWORD, after_select=server.shutdown))
    assert diagnose(live).code == "server_shutdown", live
    await replay(trace, tmp_path, "server_shutdown")
