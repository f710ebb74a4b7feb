"""Judging the CRM's ``[[expect]]`` blocks of ``scenario run`` from plain figures.

``harness.run`` drives the CRM (sends, the account's sink and pass hook) and, once
the run is over, reads what it did into ``CrmFacts`` with ``engine.crm.summary``; the
checks here only compare numbers, so no engine import (like ``scenario_implicit``) and
every verdict is testable without a server. Each check reads the mailbox or the CRM
database after the fact, never what the engine believes it did: a Sent copy counts
when a search of the folder finds it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from inboxlab.fakeserver.scenario.model import Expect
from inboxlab.harness.report import Status

Verdict = tuple[Status, str]


@dataclass(frozen=True)
class CrmFacts:
    """What the CRM left behind after a run (from ``crm_summary`` and ``sent_copies``)."""

    logged: Mapping[str, int]  # contact address (lower case) -> emails logged
    emails: int
    threads: int
    attachments_stored: int
    attachments_skipped: int
    flagged: int
    refused: int
    malformed: int
    outbox: Mapping[str, int]  # outbox state -> records
    copies: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # folder -> id -> n
    failures: tuple[str, ...] = ()  # sends that did not go out, in words
    sent: int = 0  # emails the run's [[send]] blocks asked for


def _counts(values: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(values.items())) or "none"


def _failures(facts: CrmFacts) -> str:
    return f"; send failures: {'; '.join(facts.failures)}" if facts.failures else ""


def crm_logged(e: Expect, facts: CrmFacts) -> Verdict:
    contact, want = str(e.get("contact")).lower(), e.get("count")
    have = facts.logged.get(contact, 0)
    return ("pass" if have == want else "fail"), (
        f"{contact}: {have} email(s) logged (expected {want}); every contact: "
        f"{_counts(facts.logged)}{_failures(facts)}")


def sent_copies(e: Expect, facts: CrmFacts) -> Verdict:
    folder, count = str(e.get("folder")), e.get("count")
    want = 1 if count is None else count
    copies = facts.copies.get(folder)
    if not copies:
        return "fail", f"the CRM sent nothing to look for in {folder!r}{_failures(facts)}"
    wrong = {mid: n for mid, n in copies.items() if n != want}
    doubled = sum(n - 1 for n in copies.values() if n > 1)
    missing = sum(1 for n in copies.values() if n == 0)
    detail = (f"{folder}: {len(copies)} sent message(s), {len(copies) - len(wrong)} with "
              f"{want} cop{'y' if want == 1 else 'ies'}")
    detail += f"; duplicates {doubled}, missing {missing}" if want else ""
    if wrong:
        mid, n = next(iter(sorted(wrong.items())))
        detail += f"; e.g. {mid} has {n}"
    return ("fail" if wrong else "pass"), detail + _failures(facts)


def _numbers(e: Expect, have: Mapping[str, int], what: str) -> Verdict:
    wrong = [f"{k} {have[k]} (expected {e.get(k)})" for k in sorted(have)
             if e.get(k) is not None and have[k] != e.get(k)]
    shown = ", ".join(f"{k} {v}" for k, v in have.items())
    if wrong:
        return "fail", f"{what}: {'; '.join(wrong)} (all: {shown})"
    return "pass", f"{what}: {shown}"


def crm_attachments(e: Expect, facts: CrmFacts) -> Verdict:
    return _numbers(e, {"stored": facts.attachments_stored,
                        "skipped": facts.attachments_skipped}, "attachments")


def crm_threads(e: Expect, facts: CrmFacts) -> Verdict:
    return _numbers(e, {"threads": facts.threads, "flagged": facts.flagged,
                        "refused": facts.refused}, "threads")


def crm_outbox(e: Expect, facts: CrmFacts) -> Verdict:
    state, want = str(e.get("state")), e.get("count")
    have = facts.outbox.get(state, 0)
    return ("pass" if have == want else "fail"), (
        f"{have} outbox record(s) {state} (expected {want}); all: {_counts(facts.outbox)}"
        f"{_failures(facts)}")


CRM_CHECKS: dict[str, Callable[[Expect, CrmFacts], Verdict]] = {
    "crm_logged": crm_logged, "sent_copies": sent_copies,
    "crm_attachments": crm_attachments, "crm_threads": crm_threads, "crm_outbox": crm_outbox,
}


def copy_folders(expects: tuple[Expect, ...]) -> list[str]:
    """The folders whose Sent copies the runner must count (each once)."""
    return list(dict.fromkeys(str(e.get("folder")) for e in expects
                              if e.check == "sent_copies"))


__all__ = ["CRM_CHECKS", "CrmFacts", "copy_folders", "crm_attachments", "crm_logged",
           "crm_outbox", "crm_threads", "sent_copies"]
