"""from-trace builds a scenario the fake server's loader validates (issue 17): the schema
has one owner, and a replay the loader refuses is an error of ``from-trace`` itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import inboxlab.harness.fromtrace as fromtrace
from inboxlab.engine.diag.tracefile import Record
from inboxlab.fakeserver.scenario.model import Scenario


def rec(d: str, text: str) -> Record:
    return Record(0.0, 1, "line", dir=d, text=text)


RECORDS = [rec("<", "* OK [CAPABILITY IMAP4rev1] Dovecot (Debian) ready."),
           rec(">", 'a1 LOGIN "me@example.com" [redacted]'),
           rec("<", "a1 NO [AUTHENTICATIONFAILED] Authentication failed.")]


def test_the_replay_is_a_scenario_object_the_loader_built() -> None:
    text, scenario = fromtrace.replay_scenario(RECORDS, name="replay")
    assert isinstance(scenario, Scenario) and scenario.name == "replay"
    assert scenario.accounts[0].username == "me@example.com"
    assert scenario.accounts[0].password == fromtrace.REPLAY_PASSWORD
    assert [e.get("cause") for e in scenario.expect] == ["auth_failed"], text
    assert len(scenario.timeline) == 1


def test_a_replay_the_loader_refuses_fails_from_trace_itself(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text("".join(json.dumps(r) + "\n" for r in [
        {"t": 0.0, "conn": 1, "kind": "line", "dir": "<", "text": "* OK ready"}]))
    monkeypatch.setattr(fromtrace, "scenario_from_trace",
                        lambda records, **kw: 'name = "x"\n[server]\nprofile = "nope"\n')
    assert fromtrace.fromtrace_main(str(trace)) == 2
    assert "not a valid scenario" in capsys.readouterr().err
