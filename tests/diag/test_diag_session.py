"""``AccountDiagnostics``: what the TUI asks for, on a real account against the fake server."""

from __future__ import annotations

import json
from pathlib import Path

from diag_helpers import USER, account_for, scenario_text, served
from waiting import async_wait_until

from inboxlab.engine.diag.session import AccountDiagnostics
from inboxlab.engine.states import State
from inboxlab.fakeserver.scenario.model import PasswordChanged, Reset

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


async def test_a_bye_code_seen_on_the_wire_decides_the_cause(tmp_path: Path) -> None:
    extra = ('[[timeline]]\nname = "maintenance"\ntrigger = { command = "UID FETCH" }\n'
             'action = { type = "bye", code = "UNAVAILABLE", text = "Back in 10 minutes" }\n')
    async with served(scenario_text(PASSWORD, extra=extra)) as srv:
        account = account_for(srv, PASSWORD, tmp_path, initial_scan="full")
        diag = AccountDiagnostics(account)
        await diag.start()
        await account.start()
        try:
            await async_wait_until(lambda: bool(diag.causes()), timeout=10, what="the BYE")
            await async_wait_until(lambda: account.state is State.IDLE, timeout=10,
                                   what="reconnected")
            entries = await diag.timeline(kinds=["disconnect"])
        finally:
            await account.stop()
            await diag.stop()
    first = diag.causes()[0]
    assert (first.code, first.response_code, first.server_text) == (
        "unavailable", "UNAVAILABLE", "Back in 10 minutes")
    assert entries[0].cause == "unavailable" and entries[0].permanent is False
