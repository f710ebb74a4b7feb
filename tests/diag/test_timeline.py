"""The persisted timeline of a real session: a network blip, a retry, then a changed password.

Runs the engine's ``Account`` against a served scenario over loopback; the timeline is
read back from the database file, by time.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from diag_helpers import USER, account_for, scenario_text, served
from waiting import async_wait_until

from inboxlab.engine.db import Database
from inboxlab.engine.diag.timeline import Timeline, TimelineRecorder
from inboxlab.engine.states import State
from inboxlab.fakeserver.scenario.model import PasswordChanged, Reset

PASSWORD = "timeline-Secret-77"


async def test_a_session_story_is_persisted_and_queryable_by_time(tmp_path: Path) -> None:
    async with served(scenario_text(PASSWORD)) as srv:
        account = account_for(srv, PASSWORD, tmp_path)
        db = await Database.open(tmp_path / "engine.db")
        recorder = TimelineRecorder(Timeline(db), account)
        await recorder.start()
        await account.start()
        try:
            await async_wait_until(lambda: account.state is State.IDLE, what="watching")
            srv.runtime.fire(PasswordChanged(user=USER))
            srv.runtime.fire(Reset())
            await async_wait_until(lambda: not account.running, timeout=10, what="gives up")
        finally:
            await account.stop()
            await recorder.stop()
        entries = await Timeline(db).query(USER)
        kinds = [e.kind for e in entries]
        for kind in ("connect", "login", "capabilities", "sync", "disconnect", "backoff",
                     "reconnect"):
            assert kind in kinds, kinds
        assert kinds.index("connect") < kinds.index("login") < kinds.index("disconnect") \
            < kinds.index("backoff") < kinds.index("reconnect")
        disconnects = [e for e in entries if e.kind == "disconnect"]
        assert [(e.cause, e.permanent) for e in disconnects] == [
            ("connection_reset", False), ("auth_failed", True)]
        assert "Invalid credentials" in str(disconnects[-1].data["diagnosis"])
        caps = next(e for e in entries if e.kind == "capabilities")
        assert "IMAP4REV1" in caps.data["capabilities"]
        # By time: nothing after the last entry, everything from the first.
        first, last = entries[0].at, entries[-1].at
        assert await Timeline(db).query(USER, since=last + timedelta(microseconds=1)) == []
        assert len(await Timeline(db).query(USER, since=first)) == len(entries)
        assert [e.kind for e in await Timeline(db).query(USER, kinds=["backoff"])] == ["backoff"]
        await db.close()
