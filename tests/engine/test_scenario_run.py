"""Every bundled scenario, run the way ``inboxlab scenario run`` runs it: engine vs fake servers.

Big scenarios start at UIDNEXT (``initial_scan`` "new") so the suite stays fast; the
runner's own choice (``choose_initial_scan``) does that.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from scenario_text import header

from inboxlab.cli.main import main
from inboxlab.fakeserver.scenario.load import load
from inboxlab.harness.run import choose_initial_scan, format_report, run_scenario
from inboxlab.scenarios import bundled


@pytest.mark.parametrize("name", sorted(bundled()))
async def test_bundled_scenario_passes(name: str, tmp_path: Path) -> None:
    scenario = load(bundled()[name])
    report = await run_scenario(scenario, deadline=30.0, workdir=tmp_path)
    text = format_report(report)
    assert not report.failed, text
    judged = report.outcomes[:len(scenario.expect)]
    assert [o.check for o in judged] == [e.check for e in scenario.expect]
    assert all(o.status == "pass" for o in judged), text
    implicit = {o.check: o.status for o in report.outcomes[len(scenario.expect):]}
    assert set(implicit) == {"no_crash", "nothing_stored", "checkpoints", "warnings"}


def test_big_scenarios_start_at_uidnext() -> None:
    assert choose_initial_scan(load(bundled()["inbox-100k"])) == "new"
    assert choose_initial_scan(load(bundled()["demo"])) == "full"


WRONG = header(name="wrong", seed=1, password="pw-pw-pw", count=3,
               profile="generic-no-special-use", folder="Presentations") + """
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
    assert main(["scenario", "run", str(path), "--deadline", "10"]) == 2
    out = capsys.readouterr().out
    assert "FAIL  sent_folder folder=Presentations" in out
    assert "FAIL  reconnects" in out
    assert "PASS  no_crash" in out and "PASS  checkpoints" in out
    assert out.rstrip().splitlines()[-1].startswith("FAIL: ")


def test_an_unusable_scenario_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\n[server]\nprofile = "nope"\n')
    assert main(["scenario", "run", str(path)]) == 3
    assert "error:" in capsys.readouterr().out


def test_implicit_checks_fail_on_a_leak_a_stale_checkpoint_and_a_silent_big_folder(
    tmp_path: Path,
) -> None:
    from inboxlab.harness import implicit

    db = tmp_path / "engine.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE checkpoints (account, folder, uidvalidity, last_uid)")
        conn.execute("INSERT INTO checkpoints VALUES ('a', 'INBOX', 7, 10)")
        conn.execute("CREATE TABLE leak (v)")
        conn.execute("INSERT INTO leak VALUES ('<secret-1@x>')")
    assert implicit.message_id(b"Subject: x\r\nMessage-ID: <secret-1@x>\r\n") == b"<secret-1@x>"
    assert implicit.nothing_stored(db, [b"<secret-1@x>"]).status == "fail"
    assert implicit.nothing_stored(db, [b"<other@x>"]).status == "pass"
    assert implicit.checkpoints(db, "a", {"INBOX": 8}, watching=True).status == "fail"
    assert implicit.checkpoints(db, "a", {"INBOX": 7}, watching=True).status == "pass"
    assert implicit.checkpoints(db, "a", {"INBOX": 8}, watching=False).status == "skip"
    assert implicit.warnings([], {"INBOX": 100_000}, 100_000).status == "fail"
    assert implicit.warnings(["INBOX"], {"INBOX": 100_000}, 100_000).status == "pass"


_OTHER_PROCESS_COUNTS = (
    "import sqlite3, sys\n"
    "conn = sqlite3.connect(sys.argv[1])\n"
    "print(conn.execute('SELECT count(*) FROM checkpoints').fetchone()[0])\n"
    "conn.close()\n"
)


def count_in_another_process(path: Path) -> int:
    done = subprocess.run([sys.executable, "-c", _OTHER_PROCESS_COUNTS, str(path)],
                          capture_output=True, text=True, timeout=60, check=True)
    return int(done.stdout)


async def test_the_leak_check_reads_through_sqlite_and_keeps_the_engine_s_wal_alive(
        tmp_path: Path) -> None:
    """``nothing_stored`` runs in the process that may still hold the engine's database.
    Before, it read the file and its WAL with ``read_bytes()``: closing those descriptors
    dropped the engine connection's POSIX locks, so the next process to open and close the
    database took itself for the last user and deleted the live WAL, and the engine's
    later commits went to an unlinked file (the second count stayed 1)."""
    from inboxlab.engine.checkpoints import CheckpointStore
    from inboxlab.engine.db import Database
    from inboxlab.harness import implicit

    path = tmp_path / "engine.db"
    async with await Database.open(path) as db:
        store = CheckpointStore(db)
        await store.put("ann", "INBOX", uidvalidity=7, last_uid=1)
        assert implicit.nothing_stored(path, [b"<m@x>"]).status == "pass"
        assert b"ann" in implicit.database_bytes(path)  # the WAL's frame is read too
        assert count_in_another_process(path) == 1
        await store.put("ann", "Sent", uidvalidity=7, last_uid=1)
        assert count_in_another_process(path) == 2
