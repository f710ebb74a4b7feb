"""Record -> from-trace -> replay against the fake server, and the pieces without sockets."""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path

import pytest
from diag_helpers import USER, scenario_text, served
from waiting import async_wait_until

from inboxlab.cli.main import main as cli_main
from inboxlab.engine.diag.probe import ProbeOptions, probe
from inboxlab.engine.diag.record import Recorder
from inboxlab.engine.diag.tracefile import LineAssembler, Record, read_trace
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer
from inboxlab.fakeserver.scenario.load import loads
from inboxlab.fakeserver.scenario.serve import ScenarioServer
from inboxlab.harness.fromtrace import REPLAY_PASSWORD, scenario_from_trace

PASSWORD = "fromtrace-Pw-3"


def test_the_assembler_keeps_literals_inside_their_line_across_reads() -> None:
    a = LineAssembler()
    assert a.feed(b"* 1 FETCH (BODY[] {5}\r\nhel") == []
    assert a.partial > 0
    assert a.feed(b"lo)\r\n* 2 EXI") == [b"* 1 FETCH (BODY[] {5}\r\nhello)"]
    assert a.feed(b"STS\r\n") == [b"* 2 EXISTS"]
    assert a.partial == 0


def rec(conn: int, d: str, text: str) -> Record:
    return Record(0.0, conn, "line", dir=d, text=text)


def base() -> list[Record]:
    return [rec(1, "<", "* OK [CAPABILITY IMAP4rev1] Dovecot (Debian) ready."),
            rec(1, ">", 'a1 LOGIN "me@example.com" [redacted]'),
            rec(1, "<", "a1 OK Logged in"),
            rec(1, ">", 'a2 LIST "" "*"'),
            rec(1, "<", r'* LIST (\HasNoChildren) "/" "INBOX"'),
            rec(1, "<", r'* LIST (\HasNoChildren \Sent) "/" "Gesendete Objekte"'),
            rec(1, "<", r'* LIST (\HasNoChildren) "/" "Entw&APw-rfe"'),
            rec(1, "<", "a2 OK List completed"),
            rec(1, ">", 'a3 SELECT "INBOX"'),
            rec(1, "<", "* 7 EXISTS"),
            rec(1, "<", "a3 OK [READ-WRITE] Select completed")]


@pytest.mark.parametrize(("tail", "trigger", "action", "cause"), [
    ([rec(1, ">", "a4 UID FETCH 1:* (FLAGS)"),
      rec(1, "<", "* BYE [UNAVAILABLE] Maintenance")],
     '{ command = "UID FETCH", nth = 1, times = 0 }', 'type = "bye", code = "UNAVAILABLE"',
     "unavailable"),
    # placed at the command it hit, never at a byte offset of the recorded answer
    ([rec(1, ">", "a4 UID FETCH 1:* (FLAGS)"), rec(1, "<", "* 1 FETCH (UID 1 FLAGS ())"),
      Record(0.0, 1, "reset", partial=10)],
     '{ command = "UID FETCH", nth = 1, times = 0 }', 'type = "reset", direction = "to_client" }',
     "connection_reset"),
    # a command the engine may never send (NOOP, IDLE, CAPABILITY): at the same count
    ([rec(1, ">", "a4 NOOP"), Record(0.0, 1, "client_closed", waiting=True)],
     '{ regex = ".*", nth = 4, times = 0 }', 'type = "tarpit"', "tarpit"),
    ([rec(1, ">", "a4 IDLE"), Record(0.0, 1, "reset", partial=0)],
     '{ regex = ".*", nth = 4, times = 0 }', 'type = "reset", direction = "to_client" }',
     "connection_reset"),
    ([rec(1, ">", 'a4 STATUS "INBOX" (MESSAGES)'),
      rec(1, "<", "a4 NO [THROTTLED] Slow down")],
     '{ command = "STATUS", nth = 1 }', 'type = "no", code = "THROTTLED", text = "Slow down"',
     "throttled"),
    ([rec(1, ">", "a4 UID FETCH 1:* (FLAGS)"), rec(1, "<", "* BYE Server shutting down.")],
     '{ command = "UID FETCH", nth = 1, times = 0 }', 'type = "bye", text = "Server shutting',
     "server_shutdown"),
])
def test_the_ending_becomes_one_fault_and_the_scenario_loads(
        tail: list[Record], trigger: str, action: str, cause: str) -> None:
    text = scenario_from_trace(base() + tail, name="t")
    assert f"trigger = {trigger}" in text and action in text, text
    assert f'check = "error"\ncause = "{cause}"\nfirst = true' in text, text
    scenario = loads(text, file="t.toml")
    (account,) = scenario.accounts
    names = {f.name: f for f in account.folders}
    assert account.username == "me@example.com"
    assert set(names) == {"INBOX", "Gesendete Objekte", "Entwürfe"}
    assert names["Gesendete Objekte"].special_use == ("\\Sent",)
    assert scenario.config.greeting == "Dovecot (Debian) ready."
    assert len(scenario.timeline) == 1


def test_a_refused_login_refuses_every_later_one() -> None:
    records = [*base()[:2], rec(1, "<", "a1 NO [AUTHENTICATIONFAILED] Authentication failed.")]
    text = scenario_from_trace(records)
    assert "trigger = { login = 1, times = 0 }" in text
    assert 'code = "AUTHENTICATIONFAILED", text = "Authentication failed."' in text


def settings(host: str, port: int) -> AccountSettings:
    return AccountSettings(username=USER, imap=ImapServer(host, port, "plain"))


@pytest.mark.parametrize(("extra", "cause"), [
    ('[[timeline]]\nname = "x"\ntrigger = { command = "EXAMINE" }\n'
     'action = { type = "tarpit", direction = "to_client" }\n', "tarpit"),
    ('[[timeline]]\nname = "x"\ntrigger = { command = "LIST" }\n'
     'action = { type = "bye", code = "UNAVAILABLE", text = "Maintenance" }\n', "unavailable"),
])
async def test_recorded_fake_failures_replay_with_the_same_cause(
        extra: str, cause: str, tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    options = ProbeOptions(connect_timeout=1.0, command_timeout=1.0, smtp=False)
    async with served(scenario_text(PASSWORD, extra=extra)) as srv, Recorder(
            srv.host, srv.port, trace, once=True) as rec_:
        live = await probe(settings("127.0.0.1", rec_.port), Secret(PASSWORD), options)
        await asyncio.wait_for(rec_.done.wait(), 5)
    assert live.diagnosis is not None and live.diagnosis.code == cause
    # Through the CLI, as a support engineer would.
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli_main(["scenario", "from-trace", str(trace), "--name", "replay"]) == 0
    async with ScenarioServer(loads(out.getvalue(), file="replay.toml"), control_port=None,
                              smtp=False) as srv2:
        replay = await probe(settings(srv2.host, srv2.port), Secret(REPLAY_PASSWORD), options)
    assert replay.diagnosis is not None
    assert (replay.diagnosis.code, replay.diagnosis.permanent) == (cause, live.diagnosis.permanent)
    assert read_trace(trace)[0].kind == "open"


def test_a_bad_trace_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t": 0, "conn": 1, "kind": "line"}\nnot json\n')
    assert cli_main(["scenario", "from-trace", str(bad)]) == 3
    assert "bad.jsonl:2: not a trace record" in capsys.readouterr().err


async def test_a_diagnose_session_s_bye_at_capability_replays_under_scenario_run(
        tmp_path: Path) -> None:
    """``diagnose`` asks CAPABILITY; the engine does not when the greeting lists them. A BYE
    recorded there must still meet the engine in ``scenario run`` (at the same command
    count), or the replay cannot show the recorded cause."""
    from inboxlab.harness.run import format_report, run_scenario

    extra = ('[[timeline]]\nname = "x"\ntrigger = { command = "CAPABILITY" }\n'
             'action = { type = "bye", code = "UNAVAILABLE", text = "Maintenance" }\n')
    trace = tmp_path / "t.jsonl"
    options = ProbeOptions(connect_timeout=1.0, command_timeout=1.0, smtp=False)
    async with served(scenario_text(PASSWORD, extra=extra)) as srv, Recorder(
            srv.host, srv.port, trace, once=True) as rec_:
        live = await probe(settings("127.0.0.1", rec_.port), Secret(PASSWORD), options)
        await asyncio.wait_for(rec_.done.wait(), 5)
    assert live.diagnosis is not None and live.diagnosis.code == "unavailable"
    text = scenario_from_trace(read_trace(trace), name="replay")
    report = await run_scenario(loads(text, file="replay.toml"), deadline=10.0,
                                workdir=tmp_path / "run")
    out = format_report(report)
    assert not report.failed, text + "\n" + out
    assert report.outcomes[0].check == "error" and report.outcomes[0].status == "pass", out


async def test_record_once_ends_cleanly_with_a_session_still_reaching_upstream(
        tmp_path: Path) -> None:
    """``inboxlab record --once`` ends after the first session while another one (diagnose's
    second look at a certificate, say) still waits for the upstream's TLS answer. That
    session is ended by ``stop()``, not left to be cancelled at interpreter exit, where
    asyncio reports its CancelledError as 'Exception in callback'."""
    import ssl

    release = asyncio.Event()

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()

    upstream = await asyncio.start_server(silent, "127.0.0.1", 0)
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, object]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    before = asyncio.all_tasks()
    try:
        rec_ = Recorder("127.0.0.1", upstream.sockets[0].getsockname()[1], tmp_path / "t.jsonl",
                        tls=True, ssl_context=ssl.create_default_context(), once=True)
        async with rec_:
            _r, w = await asyncio.open_connection("127.0.0.1", rec_.port)
            await async_wait_until(lambda: len(asyncio.all_tasks() - before) > 1,
                                   what="the proxy's session waiting for the upstream")
            left = {t for t in asyncio.all_tasks() - before if "Recorder" in repr(t.get_coro())}
            assert left  # the session, stuck in the upstream's TLS handshake
        assert all(t.done() for t in left), [t for t in left if not t.done()]
        await asyncio.sleep(0)  # the stream protocol's done-callbacks run
        w.close()
    finally:
        loop.set_exception_handler(previous)
        release.set()
        upstream.close()
        await upstream.wait_closed()
    assert not unhandled, [c.get("message") for c in unhandled]
