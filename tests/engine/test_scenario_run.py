"""Every bundled scenario, run the way ``inboxlab scenario run`` runs it: engine vs fake servers.

Big scenarios start at UIDNEXT (``initial_scan`` "new") so the suite stays fast; the
runner's own choice (``choose_initial_scan``) does that.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fakeserver.scenario.load import load
from scenarios import bundled
from tui.cli import main
from tui.scenario_run import choose_initial_scan, format_report, run_scenario


@pytest.mark.parametrize("name", sorted(bundled()))
async def test_bundled_scenario_passes(name: str, tmp_path: Path) -> None:
    scenario = load(bundled()[name])
    report = await run_scenario(scenario, deadline=30.0, workdir=tmp_path)
    text = format_report(report)
    assert not report.failed, text
    assert report.outcomes[-1].check == "no_crash"
    judged = [o for o in report.outcomes if o.check != "no_crash"]
    assert len(judged) == len(scenario.expect)
    assert all(o.status == "pass" for o in judged), text


def test_big_scenarios_start_at_uidnext() -> None:
    assert choose_initial_scan(load(bundled()["inbox-100k"])) == "new"
    assert choose_initial_scan(load(bundled()["demo"])) == "full"


WRONG = """
name = "wrong"
seed = 1
[server]
profile = "generic-no-special-use"
[[accounts]]
username = "user@example.com"
password = "pw-pw-pw"
[[accounts.folders]]
name = "Presentations"
[accounts.folders.generate]
count = 3
[[expect]]
check = "sent_folder"
folder = "Presentations"
[[expect]]
check = "reconnects"
min = 1
max = 3
"""


def test_a_failed_expectation_fails_the_command(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "wrong.toml"
    path.write_text(WRONG)
    assert main(["scenario", "run", str(path), "--deadline", "10"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  sent_folder folder=Presentations" in out
    assert "FAIL  reconnects" in out
    assert out.rstrip().splitlines()[-1].startswith("FAIL: 1 passed, 2 failed")  # no_crash


def test_an_unusable_scenario_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\n[server]\nprofile = "nope"\n')
    assert main(["scenario", "run", str(path)]) == 2
    assert "error:" in capsys.readouterr().out
