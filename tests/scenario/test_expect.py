"""Store-checkable expectations are judged from the Store; the rest wait for the engine."""

from __future__ import annotations

from scenario_helpers import HEADER, scenario_with

from inboxlab.fakeserver.imap.server import build_store
from inboxlab.fakeserver.scenario.expect import evaluate

EXPECT = """
[[expect]]
check = "message_count"
folder = "INBOX"
count = 40

[[expect]]
check = "no_duplicates"
folder = "INBOX"

[[expect]]
check = "sent_folder"
folder = "Sent"

[[expect]]
check = "reconnects"
min = 1
"""


def test_verdicts_from_a_fresh_store() -> None:
    scenario = scenario_with(EXPECT, header=HEADER)
    verdicts = evaluate(scenario, build_store(scenario.config))
    assert [v.ok for v in verdicts] == [True, True, None, None]
    assert "needs the engine" in verdicts[3].detail


def test_a_duplicate_and_a_wrong_count_fail() -> None:
    scenario = scenario_with(EXPECT, header=HEADER)
    store = build_store(scenario.config)
    inbox = store.accounts["user@example.com"].get("INBOX")
    inbox.append(inbox.raw(inbox.uid_at(1)))  # a second copy, as a double APPEND would make
    count, dupes, *_ = evaluate(scenario, store)
    assert count.ok is False and "41 messages, expected 40" in count.detail
    assert dupes.ok is False and "duplicated Message-IDs" in dupes.detail


def test_a_missing_folder_fails() -> None:
    scenario = scenario_with(EXPECT.replace('folder = "Sent"', 'folder = "Drafts"'))
    store = build_store(scenario.config)
    store.accounts["user@example.com"].delete("Drafts")
    assert evaluate(scenario, store)[2].ok is False
