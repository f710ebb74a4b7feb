"""``AccountDiagnostics``: what the TUI asks for, on a real account against the fake server."""

from __future__ import annotations

import json
from pathlib import Path

from diag_helpers import USER, account_for, scenario_text, served
from waiting import async_wait_until

from engine.diag.session import AccountDiagnostics
from engine.states import State
from fakeserver.scenario.model import PasswordChanged, Reset

PASSWORD = "session-Pw-41"


async def test_the_facade_gives_trace_timeline_causes_and_a_bundle(tmp_path: Path) -> None:
    async with served(scenario_text(PASSWORD)) as srv:
        account = account_for(srv, PASSWORD, tmp_path)
        diag = AccountDiagnostics(account, capacity=50)
        await diag.start()
        await account.start()
        try:
            await async_wait_until(lambda: account.state is State.IDLE, what="synced")
            assert diag.last() is None and diag.causes() == []
            srv.runtime.fire(PasswordChanged(user=USER))
            srv.runtime.fire(Reset())
            await async_wait_until(lambda: not account.running, timeout=10, what="gives up")
            assert [d.code for d in diag.causes()] == ["connection_reset", "auth_failed"]
            last = diag.last()
            assert last is not None and last.permanent and "Invalid credentials" in (
                last.server_text or "")
            kinds = [e.kind for e in await diag.timeline()]
            assert kinds.count("disconnect") == 2 and "backoff" in kinds
            assert len(diag.ring.lines("A")) == 50  # the ring keeps the last N per connection
            path = await diag.export(tmp_path / "bundle.json")
        finally:
            await account.stop()
            await diag.stop()
    bundle = json.loads(path.read_text())
    assert [c["cause"] for c in bundle["classifications"]] == ["connection_reset", "auth_failed"]
    assert bundle["settings"]["username"] == USER and bundle["capabilities"]
    assert bundle["traces"]["A"] and bundle["timeline"]
    assert PASSWORD not in path.read_text()
