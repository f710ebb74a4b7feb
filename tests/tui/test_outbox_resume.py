"""Every start path resumes the outbox: a record an earlier run left 'queued' (after an
SMTP 421) is sent, and one left 'submitted' (a crash after the server's OK) gets its
Sent copy and its log - in the TUI's bridge (demo and ``inboxlab connect`` share
``EngineBridge._start_account``) and in the headless ``scenario run``.

Before, the only caller of ``Outbox.run_pending()`` outside tests was the soak.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path
from typing import Any

from scenario_text import header
from waiting import wait_until

from inboxlab.engine.crm.attachments import AttachmentStore
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.outbox import Outbox
from inboxlab.engine.crm.records import CrmStore
from inboxlab.engine.crm.send import Draft
from inboxlab.engine.db import Database
from inboxlab.fakeserver.scenario.load import loads
from inboxlab.harness.run import run_scenario
from inboxlab.tui.bridge import EngineBridge

USER = "user@example.com"  # the demo's (and the header's) account
DANA = "dana@acme.example"


class _NoSubmitter:
    async def submit(self, *args: Any) -> str:
        raise AssertionError("only enqueued here")


async def leave_unfinished(db_path: Path) -> tuple[str, str]:
    """An earlier run's leftovers: one record 'queued', one 'submitted'."""
    db = await Database.open(db_path)
    try:
        store = CrmStore(db, AttachmentStore(db_path.parent / "files"))
        outbox = Outbox(store, _NoSubmitter(), None, Address(USER),  # type: ignore[arg-type]
                        rng=random.Random(8))
        queued = await outbox.enqueue(Draft((Address(DANA, "Dana"),), "After a 421", "Hi"))
        submitted = await outbox.enqueue(Draft((Address(DANA, "Dana"),), "Crashed", "Hi"))
        async with db.transaction() as conn:
            await conn.execute("UPDATE outbox SET state = 'submitted', submit_started = 1 "
                               "WHERE message_id = ?", (submitted,))
        return queued, submitted
    finally:
        await db.close()


def states(db_path: Path) -> dict[str, tuple[str, str | None, int]]:
    with sqlite3.connect(db_path) as conn:
        return {mid: (state, how, conn.execute("SELECT count(*) FROM emails WHERE "
                                                "message_id = ?", (mid,)).fetchone()[0])
                for mid, state, how in conn.execute(
                    "SELECT message_id, state, copy_how FROM outbox")}


class _Target:
    def post_message(self, message: Any) -> bool:
        return True


def test_the_tui_bridge_resumes_queued_and_submitted_records(tmp_path: Path) -> None:
    queued, submitted = asyncio.run(leave_unfinished(tmp_path / "engine.db"))
    bridge = EngineBridge(scenario="demo", timeline=False, sends=False,
                          data_dir=tmp_path)
    bridge.start(_Target())  # type: ignore[arg-type]
    try:
        wait_until(lambda: all(s == "logged" for s, _h, _n in
                               states(tmp_path / "engine.db").values()),
                   timeout=60, what="both records resumed to 'logged'")
        srv = bridge.servers.server  # type: ignore[union-attr]
        assert srv is not None and srv.smtp is not None
        sent_to_dana = [d.message()["Message-ID"] for d in srv.smtp.log.outside(DANA)]
        assert sent_to_dana == [queued]  # the submitted one is not sent again
        sent = srv.imap.store.authenticate(USER, "inboxlab-demo").get("Sent")  # type: ignore[union-attr]
        copies = [sent.raw(u) for u in sent.uids()]
        for mid in (queued, submitted):
            assert sum(mid.encode() in raw for raw in copies) == 1
    finally:
        bridge.stop()
    got = states(tmp_path / "engine.db")
    assert {mid: n for mid, (_s, _h, n) in got.items()} == {queued: 1, submitted: 1}


SCENARIO = header(name="resume", count=5) + f"""
[[accounts.folders]]
name = "Sent"

[smtp]
[[send]]
to = ["{DANA}"]
subject = "Today's"
body = "Hi.\\n"
"""


async def test_the_headless_runner_resumes_the_outbox(tmp_path: Path) -> None:
    queued, submitted = await leave_unfinished(tmp_path / "crm.db")
    report = await run_scenario(loads(SCENARIO, file="resume.toml"), workdir=tmp_path,
                                deadline=30)
    got = states(tmp_path / "crm.db")
    assert len(got) == 3, report
    assert all(s == "logged" and n == 1 for s, _h, n in got.values()), (got, report)
    assert got[submitted][1] is not None and got[queued][1] is not None  # copied
