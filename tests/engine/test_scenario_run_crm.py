"""``scenario run`` with the CRM: [[send]] blocks and the CRM's expectations.

Layers: the format (bad blocks refused at load with the key named), the judges (plain
figures in, verdicts out, no server), and whole runs of the engine + CRM against served
scenarios - including runs that must fail (a CRM that APPENDs on Gmail duplicates).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scenario_text import header

import inboxlab.harness.crm_drive as crm_drive
from inboxlab.cli.main import main
from inboxlab.engine.crm.sentcopy import CopyPolicy, SentCopier
from inboxlab.fakeserver.errors import ScenarioError
from inboxlab.fakeserver.scenario.load import load, loads
from inboxlab.fakeserver.scenario.model import Expect
from inboxlab.harness.crm_checks import CRM_CHECKS, CrmFacts
from inboxlab.harness.report import RunReport, format_report
from inboxlab.harness.run import run_scenario
from inboxlab.scenarios import bundled

DANA = "dana@acme.example"
HEADER = header(name="crm-test", count=20)
PERSONA = f"""
[smtp]
[[smtp.personas]]
address = "{DANA}"
name = "Dana Buyer"
body = "Sounds good."
"""
SEND = f"""
[[send]]
to = ["{DANA}"]
subject = "Quote for {{{{company|you}}}}"
body = "Hi {{{{first_name|there}}}}, the quote.\\n"
"""


def scenario_text(*blocks: str) -> str:
    return HEADER + "".join(blocks)


def refused(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        loads(text, file="crm.toml")
    return info.value


# -- the format ---------------------------------------------------------------------------


def test_a_send_block_loads_with_its_template_text() -> None:
    scenario = loads(scenario_text(PERSONA, SEND), file="crm.toml")
    [send] = scenario.sends
    assert send.to == (DANA,) and send.subject == "Quote for {{company|you}}"
    assert send.body.startswith("Hi {{first_name|there}}")


@pytest.mark.parametrize(("block", "words"), [
    ('[[send]]\nto = ["not-an-address"]\nsubject = "s"\nbody = "b"\n', "send[0].to[0]"),
    ('[[send]]\nto = []\nsubject = "s"\nbody = "b"\n', "needs at least one address"),
    (f'[[send]]\nto = ["{DANA}", "DANA@acme.example"]\nsubject = "s"\nbody = "b"\n',
     "listed twice"),
    (f'[[send]]\nto = ["{DANA}"]\nsubject = "a\\nb"\nbody = "b"\n', "one non-empty line"),
    (f'[[send]]\nto = ["{DANA}"]\nsubject = "s"\n', "missing required key 'body'"),
    (f'[[send]]\nto = ["{DANA}"]\nsubject = "s"\nbody = "b"\ncc = "x"\n', "unknown key 'cc'"),
    (f'[[send]]\nto = "{DANA}"\nsubject = "s"\nbody = "b"\n', "an array of strings"),
])
def test_bad_send_blocks_are_refused_naming_the_key(block: str, words: str) -> None:
    err = refused(scenario_text(PERSONA, "\n" + block))
    assert words in str(err), str(err)


def test_a_send_needs_the_smtp_server() -> None:
    err = refused(scenario_text("\n[smtp]\nenabled = false\n", SEND))
    assert "needs the SMTP server" in str(err) and "send[0]" in str(err)


@pytest.mark.parametrize(("block", "words"), [
    ('check = "crm_logged"\ncontact = "dana"\ncount = 1', "'dana' is not an address"),
    (f'check = "crm_logged"\ncontact = "{DANA}"\ncount = -1', "an integer >= 0"),
    (f'check = "crm_logged"\ncontact = "{DANA}"\ncount = "2"', "an integer >= 0"),
    (f'check = "crm_logged"\ncontact = "{DANA}"\ncount = true', "an integer >= 0"),
    (f'check = "crm_logged"\ncontact = "{DANA}"', "needs key 'count'"),
    ('check = "crm_outbox"\nstate = "sent"\ncount = 1', "not an outbox state"),
    ('check = "crm_threads"', "at least one of flagged, refused, threads"),
    ('check = "crm_attachments"\nstored = 1\nkept = 2', "unknown key 'kept'"),
    ('check = "sent_copies"\nfolder = ""', "expected a folder name"),
    ('check = "sent_copies"\nfolder = "Sent"\ncount = 1.5', "an integer >= 0"),
])
def test_bad_crm_expectations_are_refused(block: str, words: str) -> None:
    err = refused(scenario_text(f"\n[[expect]]\n{block}\n"))
    assert words in str(err), str(err)
    assert "expect[0]" in str(err)


# -- the judges ---------------------------------------------------------------------------


def facts(**kw: object) -> CrmFacts:
    base: dict[str, object] = dict(logged={DANA: 2}, emails=2, threads=1,
                                   attachments_stored=1, attachments_skipped=0, flagged=0,
                                   refused=0, malformed=0, outbox={"logged": 1},
                                   copies={"Sent": {"<a@x>": 1}}, sent=1)
    return CrmFacts(**(base | kw))  # type: ignore[arg-type]


def judge(check: str, f: CrmFacts, **params: str | int) -> tuple[str, str]:
    return CRM_CHECKS[check](Expect(check, tuple(sorted(params.items()))), f)


def test_judges_pass_on_matching_figures_and_fail_naming_the_difference() -> None:
    f = facts()
    assert judge("crm_logged", f, contact="Dana@Acme.example", count=2)[0] == "pass"
    status, detail = judge("crm_logged", f, contact=DANA, count=3)
    assert status == "fail" and "2 email(s) logged (expected 3)" in detail
    assert judge("crm_outbox", f, state="logged", count=1)[0] == "pass"
    assert judge("crm_outbox", f, state="failed", count=1)[0] == "fail"
    assert judge("crm_attachments", f, stored=1)[0] == "pass"
    status, detail = judge("crm_attachments", f, stored=1, skipped=1)
    assert status == "fail" and "skipped 0 (expected 1)" in detail
    assert judge("crm_threads", f, threads=1, flagged=0)[0] == "pass"
    status, detail = judge("crm_threads", facts(flagged=1), flagged=0)
    assert status == "fail" and "flagged 1 (expected 0)" in detail


def test_sent_copies_counts_duplicates_and_missing_copies() -> None:
    assert judge("sent_copies", facts(), folder="Sent")[0] == "pass"  # count defaults to 1
    doubled = facts(copies={"Sent": {"<a@x>": 2, "<b@x>": 1}})
    status, detail = judge("sent_copies", doubled, folder="Sent", count=1)
    assert status == "fail" and "duplicates 1, missing 0" in detail and "<a@x> has 2" in detail
    lost = facts(copies={"Sent": {"<a@x>": 0}})
    assert "missing 1" in judge("sent_copies", lost, folder="Sent", count=1)[1]
    assert judge("sent_copies", lost, folder="Sent", count=0)[0] == "pass"
    # Nothing sent: "one copy of each" cannot hold, whatever the folder holds.
    status, detail = judge("sent_copies", facts(copies={}, failures=("smtp 535",)),
                           folder="Sent")
    assert status == "fail" and "sent nothing" in detail and "smtp 535" in detail


# -- whole runs ---------------------------------------------------------------------------


def outcome(report: RunReport, check: str, n: int = 0) -> tuple[str, str]:
    found = [o for o in report.outcomes if o.check == check][n]
    return found.status, found.detail


async def test_a_send_with_a_scripted_smtp_refusal_fails_the_record_not_the_run(
    tmp_path: Path,
) -> None:
    refusal = '\n[[smtp.faults]]\nkind = "535"\nstage = "auth"\n'
    expects = f"""
[[expect]]
check = "crm_outbox"
state = "failed"
count = 1
[[expect]]
check = "crm_logged"
contact = "{DANA}"
count = 0
[[expect]]
check = "sent_copies"
folder = "Sent"
count = 0
"""
    scenario = loads(scenario_text(PERSONA, refusal, SEND, expects), file="crm.toml")
    report = await run_scenario(scenario, deadline=20.0, workdir=tmp_path)
    text = format_report(report)
    assert not report.failed, text
    # The server's own words reach the report.
    assert "auth_failed" in outcome(report, "crm_outbox")[1], text
    assert "535 5.7.8" in outcome(report, "crm_outbox")[1], text
    # Nothing went out, so the Sent folder holds none of it (and the run says so).
    assert outcome(report, "sent_copies")[0] == "pass"


AUTOSAVE = header(name="crm-test", count=20, server='autosave_sent = "Sent"')
ONE_COPY = """
[[expect]]
check = "sent_copies"
folder = "Sent"
[[expect]]
check = "no_duplicates"
folder = "Sent"
[[expect]]
check = "crm_logged"
contact = "dana@acme.example"
count = 2
"""


async def test_an_auto_saving_server_gets_one_copy_and_a_naive_copier_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server files submissions itself: the run's CRM detects it (one copy); a copier
    that neither detects nor searches before its APPEND (the classic client) makes two,
    and the one-copy checks must say so."""
    scenario = loads(AUTOSAVE + PERSONA + SEND + ONE_COPY, file="autosave.toml")
    report = await run_scenario(scenario, deadline=20.0, workdir=tmp_path / "good")
    assert not report.failed, format_report(report)

    async def never_found(self: SentCopier, message_id: str, mark: object) -> bool:
        return False

    monkeypatch.setattr(crm_drive, "CopyPolicy",
                        lambda **_: CopyPolicy(autosave=False, detect_window=0.1))
    monkeypatch.setattr(SentCopier, "find", never_found)
    report = await run_scenario(scenario, deadline=20.0, workdir=tmp_path / "naive")
    status, detail = outcome(report, "sent_copies")
    assert status == "fail" and "duplicates 1" in detail, format_report(report)
    assert outcome(report, "no_duplicates")[0] == "fail"
    assert outcome(report, "crm_logged")[0] == "pass"  # the reply is still logged once


async def test_the_crm_records_stay_out_of_the_engine_database(tmp_path: Path) -> None:
    scenario = load(bundled()["crm-reply-logged"])
    report = await run_scenario(scenario, deadline=20.0, workdir=tmp_path)
    assert not report.failed, format_report(report)
    assert outcome(report, "nothing_stored")[0] == "pass"
    assert (tmp_path / "crm.db").exists() and any(
        p.is_file() for p in (tmp_path / "files").rglob("*"))
    assert outcome(report, "crm_attachments")[1] == "attachments: stored 1, skipped 0"


def test_a_bad_template_placeholder_is_unusable_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "bad-template.toml"
    path.write_text(scenario_text(PERSONA, SEND.replace("first_name|", "frist_name|")))
    assert main(["scenario", "run", str(path), "--deadline", "5"]) == 3
    out = capsys.readouterr().out
    assert "error:" in out and "{{frist_name}}" in out


def test_wrong_crm_expectations_fail_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "wrong-crm.toml"
    path.write_text(scenario_text(PERSONA, SEND, f"""
[[expect]]
check = "crm_logged"
contact = "{DANA}"
count = 1
[[expect]]
check = "crm_threads"
threads = 2
"""))
    assert main(["scenario", "run", str(path), "--deadline", "15"]) == 2
    out = capsys.readouterr().out
    assert f"FAIL  crm_logged contact={DANA} count=1" in out
    assert "2 email(s) logged (expected 1)" in out
    assert "FAIL  crm_threads threads=2" in out


# -- [crm]: the logging rules, and --keep-db (issue 20) -----------------------------------

def test_crm_rules_load_and_reach_the_engine() -> None:
    from inboxlab.harness.crm_drive import rules_of

    default = loads(scenario_text(PERSONA, SEND), file="crm.toml")
    assert (default.crm.logging_mode, default.crm.log_attachments) == ("replies_only", True)
    scenario = loads(scenario_text(PERSONA, SEND, """
[crm]
logging_mode = "all_contacts"
never_log = ["Boss@Acme.example", "@hr.example", "spam.example"]
log_attachments = false
"""), file="crm.toml")
    rules = rules_of(scenario)
    assert rules.mode.value == "all_contacts" and not rules.log_attachments
    assert rules.never_log == {"boss@acme.example", "@hr.example", "spam.example"}
    off = loads(scenario_text('[crm]\nlogging_mode = "off"\n'), file="crm.toml")
    assert rules_of(off).inbox_connected is False


@pytest.mark.parametrize("block,words", [
    ('[crm]\nlogging_mode = "everything"\n', "logging_mode"),
    ('[crm]\nnever_log = ["not an address"]\n', "never_log"),
    ('[crm]\nlog_attachments = "yes"\n', "log_attachments"),
    ('[crm]\nlog_everything = true\n', "log_everything"),
])
def test_bad_crm_rules_are_refused_naming_the_key(block: str, words: str) -> None:
    assert words in str(refused(scenario_text(PERSONA, SEND, block)))


def test_never_log_in_a_run_and_the_kept_databases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "never-log.toml"
    path.write_text(scenario_text(PERSONA, SEND, f"""
[crm]
never_log = ["acme.example"]
[[expect]]
check = "crm_logged"
contact = "{DANA}"
count = 1
[[expect]]
check = "crm_threads"
threads = 1
refused = 1
"""))
    kept = tmp_path / "kept"
    assert main(["scenario", "run", str(path), "--deadline", "15", "--keep-db",
                 str(kept)]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert f"kept: {kept / 'engine.db'}" in out
    import sqlite3

    with sqlite3.connect(kept / "crm.db") as db:
        [(reason,)] = db.execute("SELECT reason FROM refusals").fetchall()
    assert reason == "never-log list: acme.example"  # a failed run can be looked into


async def test_the_attachment_switch_in_a_run(tmp_path: Path) -> None:
    attach = PERSONA.replace('body = "Sounds good."', 'body = "Sounds good."\nattach = true')
    scenario = loads(scenario_text(attach, SEND, f"""
[crm]
log_attachments = false
[[expect]]
check = "crm_logged"
contact = "{DANA}"
count = 2
[[expect]]
check = "crm_attachments"
stored = 0
skipped = 1
"""), file="crm.toml")
    report = await run_scenario(scenario, deadline=20.0, workdir=tmp_path)
    assert not report.failed, format_report(report)
