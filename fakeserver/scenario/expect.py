"""Checking ``[[expect]]`` blocks that the server alone can judge, from its Store.

``message_count`` and ``no_duplicates`` are facts about the mailbox after a run, so the
fake server can check them itself; ``sent_folder`` and ``sent_copies`` can at least be
checked to name a real folder (how many copies of the CRM's own sends it holds needs
the CRM's list of what it sent). Everything else (errors, states, reconnects, the CRM)
needs the engine's view and is reported as ``None`` ("not judged here") for the
engine's own checks to fill in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from inboxlab.fakeserver.imap import mutf7
from inboxlab.fakeserver.scenario.model import Expect, Scenario
from inboxlab.fakeserver.store import Store


@dataclass(frozen=True)
class Verdict:
    expect: Expect
    ok: bool | None  # None: needs the engine
    detail: str


def evaluate(scenario: Scenario, store: Store) -> list[Verdict]:
    """One verdict per ``[[expect]]`` block, in file order."""
    return [_one(scenario, store, e) for e in scenario.expect]


def _one(scenario: Scenario, store: Store, expect: Expect) -> Verdict:
    user = str(expect.get("user") or scenario.accounts[0].username)
    account = store.accounts.get(user)
    if account is None:
        return Verdict(expect, False, f"no account {user!r} in the store")
    if expect.check not in ("message_count", "no_duplicates", "sent_folder", "sent_copies"):
        return Verdict(expect, None, f"{expect.check} needs the engine's view")
    name = str(expect.get("folder"))
    folder = account.folder(mutf7.encode(name))
    if folder is None:
        return Verdict(expect, False, f"folder {name!r} does not exist")
    if expect.check == "sent_folder":
        return Verdict(expect, None, f"{name!r} exists; which folder the engine picked needs "
                                     "the engine's view")
    if expect.check == "sent_copies":
        return Verdict(expect, None, f"{name!r} exists; copies of each sent message need the "
                                     "CRM's list of what it sent")
    if expect.check == "message_count":
        want, have = expect.get("count"), len(folder)
        return Verdict(expect, have == want, f"{name}: {have} messages, expected {want}")
    counts: Counter[str] = Counter()
    for uid in folder.uids():
        ids = folder.headers(uid).get("message-id", ())
        if ids:
            counts[ids[0].strip()] += 1
    doubled = sorted(mid for mid, n in counts.items() if n > 1)
    detail = f"{name}: duplicated Message-IDs {doubled[:5]}" if doubled else f"{name}: none"
    return Verdict(expect, not doubled, detail)
