"""One exit-code table (engine/exitcodes.py) for every ``inboxlab`` command.

Usage errors are 3 whichever command and whoever noticed (argparse, a bad URL, an
unknown scenario, a bad trace file); with ``--json`` they still print JSON.
"""

from __future__ import annotations

import json

import pytest

import inboxlab.fakeserver.cli as fake_cli
import inboxlab.lab.cli as lab_cli
from inboxlab.cli.main import main
from inboxlab.engine.exitcodes import Exit, table


def test_fakeserver_repeats_the_same_numbers() -> None:
    assert (fake_cli.EXIT_OK, fake_cli.EXIT_FAILED, fake_cli.EXIT_USAGE) == (
        Exit.OK, Exit.FAILED, Exit.USAGE)
    assert (lab_cli.EXIT_OK, lab_cli.EXIT_USAGE) == (Exit.OK, Exit.USAGE)


def test_the_table_names_every_code() -> None:
    text = table()
    for code in Exit:
        assert f"{int(code):>3}" in text


@pytest.mark.parametrize("argv", [
    ["no-such-command"],
    ["diagnose"],  # --imap and --user missing
    ["diagnose", "--imap", "imaps://h", "--user", "u", "--timeout", "soon"],
    ["scenario", "run"],
    ["scenario", "run", "no-such-scenario"],
    ["scenario", "check", "no-such-scenario"],
    ["scenario", "from-trace", "/nonexistent/trace.jsonl"],
    ["record", "--listen", "nowhere", "--upstream", "x"],
    ["demo", "no-such-scenario"],
    ["fakeserver", "serve", "no-such-scenario"],
])
def test_usage_errors_exit_3_everywhere(argv: list[str],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == Exit.USAGE
    said = capsys.readouterr()
    assert "error" in (said.err + said.out).lower()


def test_usage_error_with_json_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--json", "--user", "u"]) == Exit.USAGE
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "usage" and out["exit_code"] == 3 and "--imap" in out["error"]


def test_a_bad_url_is_usage_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--json", "--imap", "ftp://h", "--user", "u"]) == Exit.USAGE
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "usage" and out["exit_code"] == 3


def test_an_unwritable_bundle_is_usage_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    # --no-login: nothing to ask; a closed port: the probe fails fast, then the bundle fails
    code = main(["diagnose", "--json", "--no-login", "--imap", "imap://127.0.0.1:1",
                 "--user", "u", "--bundle", "/nonexistent-dir/b.json", "--timeout", "2"])
    assert code == Exit.USAGE
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "usage" and "bundle" in out["error"]
