"""An outage as a support engineer lives it: one incident, a countdown, reconnect now,
a healed notice; and the incident log's folding rules, without a terminal."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from textual.widgets import DataTable, Label, Static
from tui_script import AT, ScriptedBridge
from waiting import async_wait_until

from inboxlab.engine.backoff import BackoffPolicy
from inboxlab.tui import messages as m
from inboxlab.tui.app import InboxLabApp
from inboxlab.tui.bridge import EngineBridge
from inboxlab.tui.incidents import IncidentLog, RetryView, badge_note, duration_text, status_line
from inboxlab.tui.screens.browser import BrowserScreen
from inboxlab.tui.screens.diagnostics import DiagnosticsScreen
from inboxlab.tui.widgets.header_list import HeaderList

T0 = datetime(2026, 1, 2, 9, 0, 0, tzinfo=UTC)
# The account's reconnect schedule in these tests (the product's own setting,
# EngineBridge(backoff=)): retries within a second of the server's return. The
# default (jittered 1-3 s x 1.5**n, doubled for a session that died young) once put
# the healed notice of an 8 s outage past a 30 s deadline on a loaded machine.
QUICK = BackoffPolicy(base_min=0.1, base_max=0.3, cap=1.0, strike_cap=2.0)


def demo_bridge() -> EngineBridge:
    return EngineBridge(scenario="demo", timeline=False, sends=False, backoff=QUICK)


class HeldOutage:
    """The demo's server down until the test has seen what it came for, not for N s of
    the real clock (which a loaded machine can spend before the test even presses a key):
    the fault proxy's injectable sleep waits for ``end()``."""

    def __init__(self, bridge: EngineBridge) -> None:
        server = bridge.servers.server if bridge.servers else None
        assert server is not None and server.proxy is not None
        self.proxy = server.proxy
        self._bridge = bridge
        self._back = asyncio.Event()  # bound to the engine loop on its first wait

        async def held(seconds: float) -> None:
            self.proxy.sleep = asyncio.sleep  # once: later scripted delays are real again
            await self._back.wait()

        self.proxy.sleep = held
        bridge.fire_action({"type": "down", "seconds": 86_400})

    async def end(self) -> None:
        async def back() -> None:
            self._back.set()

        await asyncio.wrap_future(self._bridge.submit(back()))
        await async_wait_until(lambda: not self.proxy.is_down, what="the server back")


def failure(at: datetime, title: str = "The server refused the connection",
            heals: bool = True) -> m.DisconnectView:
    return m.DisconnectView(at=at, code="connect_refused", kind="ConnectError",
                            permanent=not heals, stage="connect",
                            message="[Errno 111] Connection refused", heals=heals,
                            cause="connect_refused", cause_title=title)


def test_retries_fold_into_one_incident_with_its_cause_history() -> None:
    log = IncidentLog()
    assert log.failure(failure(T0, "The connection was reset")) == "new"
    log.retry(RetryView(1, 2.0, T0))
    assert log.failure(failure(T0 + timedelta(seconds=2))) == "changed"
    log.retry(RetryView(2, 4.0, T0 + timedelta(seconds=2)))
    assert log.failure(failure(T0 + timedelta(seconds=6))) is None  # same cause: no toast
    log.retry(RetryView(3, 9.0, T0 + timedelta(seconds=6)))
    (incident,) = log.items
    assert incident.retries == 3 and len(incident.failures) == 3
    assert [w for _, w in incident.causes()] == ["The connection was reset",
                                                  "The server refused the connection"]
    now = T0 + timedelta(seconds=10)
    assert incident.countdown(now) == 5.0
    assert "Retry 3 in 5 s" in badge_note(log, now)
    line = status_line(log, now)
    assert line is not None and "next retry in 5 s" in line and "3 retries" in line
    done = log.healed(T0 + timedelta(seconds=12))
    assert done is not None and done.seconds(now) == 12.0 and not done.is_open
    assert badge_note(log, now) == ""
    assert "Reconnected at 09:00:12 after 12 s" in (status_line(log, now) or "")
    assert log.failure(failure(T0 + timedelta(seconds=60))) == "new"  # a second outage
    assert len(log.items) == 2


def test_durations_read_as_words() -> None:
    assert duration_text(4.4) == "4 s"
    assert duration_text(125) == "2 min 05 s"
    assert duration_text(3780) == "1 h 03 min"


async def test_a_new_outage_never_moves_the_selection() -> None:
    app = InboxLabApp(ScriptedBridge(), cursor_blink=False, clock=lambda: AT)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        app.post_message(m.EngineState(m.StateView("idle", "Watching", "green", "ok", "", AT)))
        app.post_message(m.DisconnectReported(failure(AT + timedelta(seconds=30))))
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, DiagnosticsScreen)
        table = app.screen.query_one("#disconnects", DataTable)
        await async_wait_until(lambda: table.row_count == 2, what="two outages")
        await pilot.press("k")  # the engineer reads the first outage
        assert table.cursor_row == 0
        explained = str(app.screen.query_one("#explain", Static).render())
        assert "healed after 5 s" not in explained and "09:30:00" in explained
        for n in range(3):  # the second outage goes on failing: rows update in place
            app.post_message(m.DisconnectReported(failure(AT + timedelta(seconds=31 + n))))
        app.post_message(m.EngineState(m.StateView("idle", "Watching", "green", "ok", "",
                                                   AT + timedelta(seconds=40))))
        app.post_message(m.DisconnectReported(failure(AT + timedelta(seconds=50))))
        await async_wait_until(lambda: table.row_count == 3, what="a third outage")
        assert table.cursor_row == 0  # still on the one being read
        assert len(app.model.incidents.items[1].failures) == 4


async def test_an_outage_is_one_incident_with_a_countdown_reconnect_now_and_a_notice() -> None:
    """The real engine against the demo's fake servers: the server goes down for a few
    seconds; the retries are one incident, the badge counts down to the next retry,
    ctrl+r reconnects without waiting it out, and "Reconnected after N s" is shown."""
    bridge = demo_bridge()
    app = InboxLabApp(bridge, cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await async_wait_until(lambda: app.model.state and app.model.state.state == "idle",
                               timeout=20, what="watching")
        outage = HeldOutage(bridge)
        badge = app.screen.query_one("#badge", Static)
        seen = await async_wait_until(
            lambda: "Retry " in (text := str(badge.render())) and " s (ctrl+r: now)" in text
            and text, timeout=15, what="the retry countdown on the badge")
        assert "The connection" in seen or "refused" in seen or "reset" in seen
        await async_wait_until(lambda: len(app.model.disconnects) >= 2, timeout=20,
                               what="a failed retry while the server is down")
        await outage.end()
        await pilot.press("ctrl+r")
        await async_wait_until(
            lambda: any(t.startswith("Reconnected after") for t in app.notified),
            timeout=10, what="the healed notice")
        assert len(app.model.incidents.items) == 1  # one outage, however many retries
        assert len([t for t in app.notified if "press t for Diagnostics" in t]) <= 2
        assert not any("connection_reset" in t or "Errno" in t for t in app.notified)
        outage = str(app.screen.query_one("#outage", Static).render())
        assert "Reconnected at" in outage
        await pilot.press("t")
        table = app.screen.query_one("#disconnects", DataTable)
        await async_wait_until(lambda: table.row_count == 1, what="one outage row")
    bridge.stop()


def test_the_uptime_strip_shows_one_outage_as_one_gap() -> None:
    from inboxlab.tui.incidents import uptime_cells, uptime_share

    log = IncidentLog()
    log.failure(failure(T0 + timedelta(seconds=300)))
    log.healed(T0 + timedelta(seconds=360))
    now = T0 + timedelta(seconds=600)
    cells = uptime_cells(log, now, since=T0, window=600, width=40)
    assert cells.strip("+") == "-" * len(cells.strip("+"))  # one gap, no comb
    assert 4 <= cells.count("-") <= 6  # 60 s of 600 s over 40 cells of 15 s
    share = uptime_share(cells)
    assert share is not None and 0.85 <= share <= 0.92
    late = uptime_cells(IncidentLog(), now, since=now - timedelta(seconds=60), width=40)
    assert late.startswith(" " * 30) and late.endswith("+" * 4)  # before the session: blank


async def test_rows_asked_for_during_an_outage_come_back_through_the_real_bridge() -> None:
    """The folder browser on the demo's fake servers (no scripted bridge): the server goes
    down while the engineer jumps to the end of INBOX. The rows asked for then cannot be
    read ("…"); the browser's status line counts down to the next retry; the outage is one
    incident; once the server answers the account reconnects ("Reconnected after N s"),
    and those rows are read again with no key pressed."""
    bridge = demo_bridge()
    app = InboxLabApp(bridge, cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await async_wait_until(lambda: app.model.state and app.model.state.state == "idle",
                               timeout=20, what="watching")
        app.open_folder("INBOX")
        await async_wait_until(lambda: isinstance(app.screen, BrowserScreen)
                               and app.screen.query(HeaderList), what="the browser")
        screen = app.screen
        lst = screen.query_one(HeaderList)
        await async_wait_until(lambda: lst.count > 400 and lst.row(0) is not None,
                               timeout=15, what="the first rows of INBOX")
        last = lst.count - 1
        assert lst.row(last) is None  # only the window around the viewport is read
        outage = HeldOutage(bridge)
        await async_wait_until(lambda: app.model.incidents.current is not None, timeout=15,
                               what="the outage seen by the account")
        await pilot.press("G")
        await async_wait_until(lambda: screen.rows_failed, timeout=15,  # type: ignore[attr-defined]
                               what="the rows at the end failing to load")
        assert lst.row(last) is None
        status = screen.query_one("#browser-status", Label)
        await async_wait_until(lambda: "(ctrl+r: now)" in str(status.render()), timeout=15,
                               what="the retry countdown on the browser's status line")
        assert "Retry " in str(status.render())
        await outage.end()
        await async_wait_until(
            lambda: any(t.startswith("Reconnected after") for t in app.notified),
            timeout=15, what="the healed notice")
        await async_wait_until(lambda: lst.row(last) is not None, timeout=15,
                               what="the rows read again after the recovery")
        assert lst.row(last).subject != "(expunged)"  # type: ignore[union-attr]
        assert "ctrl+r" not in str(status.render())
        assert len(app.model.incidents.items) == 1  # one outage, however many retries
    bridge.stop()


async def test_a_folder_opened_during_an_outage_opens_once_the_account_is_back() -> None:
    """Enter on INBOX while the server is down (real bridge, fake servers): the browser says
    it is opening, why it waits and when the next retry is; after the recovery it opens
    the folder by itself and shows its rows (before: "opening..." for good)."""
    bridge = demo_bridge()
    app = InboxLabApp(bridge, cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await async_wait_until(lambda: app.model.state and app.model.state.state == "idle",
                               timeout=20, what="watching")
        outage = HeldOutage(bridge)
        await async_wait_until(lambda: app.model.incidents.current is not None, timeout=15,
                               what="the outage seen by the account")
        app.open_folder("INBOX")
        await async_wait_until(lambda: isinstance(app.screen, BrowserScreen)
                               and app.screen.query(HeaderList), what="the browser")
        screen = app.screen
        status = screen.query_one("#browser-status", Label)
        seen = await async_wait_until(
            lambda: "(ctrl+r: now)" in (text := str(status.render())) and text, timeout=15,
            what="the countdown while the folder cannot be opened")
        assert seen.startswith("INBOX: opening...")
        await outage.end()
        await async_wait_until(
            lambda: any(t.startswith("Reconnected after") for t in app.notified),
            timeout=15, what="the healed notice")
        lst = screen.query_one(HeaderList)
        await async_wait_until(lambda: lst.count > 400 and lst.row(0) is not None,
                               timeout=15, what="INBOX opened and its rows read")
        assert str(status.render()).startswith(f"INBOX: {lst.count:,} messages")
        assert len(app.model.incidents.items) == 1
        await pilot.press("q")
    bridge.stop()
