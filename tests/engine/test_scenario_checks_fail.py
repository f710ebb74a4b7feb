"""Every scenario check can fail (issue 13): one healthy run judged by expectations it
does not meet, each of which must FAIL; and the two checks that used to pass on nothing
(``no_duplicates`` with nothing delivered, ``response`` with a code the error lacks), and
a recorded cause that only the runner's own nudge (a drop it makes) would have produced."""

from __future__ import annotations

from pathlib import Path

from scenario_text import header

from inboxlab.fakeserver.scenario.load import loads
from inboxlab.harness.run import format_report, run_scenario

HEALTHY = header(name="healthy", seed=4, count=5)

WRONG = HEALTHY + """
[[accounts.folders]]
name = "Empty"

[[expect]]
check = "sent_folder"
folder = "Drafts"
[[expect]]
check = "message_count"
folder = "INBOX"
count = 6
[[expect]]
check = "error"
cause = "auth_failed"
[[expect]]
check = "state"
value = "disconnected_permanent"
[[expect]]
check = "login_fails"
[[expect]]
check = "reconnects"
min = 1
[[expect]]
check = "no_duplicates"
folder = "Empty"
[[expect]]
check = "client_timeout"
[[expect]]
check = "response"
text = "Server is going down"
[[expect]]
check = "error"
cause = "connection_reset"
"""


async def test_every_check_fails_on_a_run_that_does_not_meet_it(tmp_path: Path) -> None:
    scenario = loads(WRONG)
    report = await run_scenario(scenario, deadline=8.0, workdir=tmp_path)
    text = format_report(report)
    judged = report.outcomes[:len(scenario.expect)]
    assert [o.status for o in judged] == ["fail"] * len(scenario.expect), text
    # the last one: only the runner's own drop (its nudge) was a connection reset
    assert "nudged" in text or "nudge" in text.lower(), text
    assert "nothing to judge" in judged[6].detail


BYE_WITHOUT_CODE = header(name="bye-no-code", seed=4, count=5) + """
[[timeline]]
name = "maintenance"
trigger = { regex = ".*", nth = 3 }
action = { type = "bye", text = "Server is going down for maintenance" }

[[expect]]
check = "response"
code = "UNAVAILABLE"
text = "Server is going down for maintenance"
[[expect]]
check = "response"
text = "Server is going down for maintenance"
"""


async def test_response_with_a_code_fails_when_the_error_carries_none(tmp_path: Path) -> None:
    scenario = loads(BYE_WITHOUT_CODE)
    report = await run_scenario(scenario, deadline=8.0, workdir=tmp_path)
    with_code, words_only = report.outcomes[:2]
    assert (with_code.status, words_only.status) == ("fail", "pass"), format_report(report)
