"""Pilot tests: every screen's main flow against the in-process fake servers.

Each test drives the real App with the real engine bridge (its own thread and loop)
serving a bundled scenario, and waits on conditions with deadlines, never on sleeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Log, ProgressBar, Static
from waiting import async_wait_until

from inboxlab.tui.app import InboxLabApp
from inboxlab.tui.bridge import EngineBridge
from inboxlab.tui.screens.browser import BrowserScreen
from inboxlab.tui.screens.diagnostics import DiagnosticsScreen
from inboxlab.tui.screens.help import HelpScreen
from inboxlab.tui.widgets.header_list import HeaderList

SIZE = (120, 40)


def _state(app: InboxLabApp) -> str | None:
    return app.model.state.state if app.model.state else None


async def _settled(app: InboxLabApp, what: str = "the account watching for mail") -> None:
    await async_wait_until(lambda: _state(app) == "idle" and app.model.folders, timeout=20,
                           what=what)


@pytest.fixture
async def demo() -> AsyncIterator[tuple[InboxLabApp, Pilot[Any], EngineBridge]]:
    bridge = EngineBridge(scenario="demo", timeline=False)
    app = InboxLabApp(bridge, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await _settled(app)
        yield app, pilot, bridge
    bridge.stop()


async def test_connect_shows_state_folders_and_roles(demo: Any) -> None:
    app, _, _ = demo
    folders = {f.name: f for f in app.model.folders}
    assert folders["Sent"].role == "sent"
    assert "\\Sent" in folders["Sent"].reason
    assert folders["Archive"].role == "archive"
    assert folders["INBOX"].messages == 500
    assert folders["Projects/Acme"].role is None
    table = app.screen.query_one("#folders", DataTable)
    assert table.row_count == len(app.model.folders)
    assert str(app.screen.query_one("#badge", Static).render()).strip().startswith("Watching")
    await async_wait_until(  # scanner + IDLE (CRM replies ride the scanner's connection)
        lambda: "2 / 5" in str(app.screen.query_one("#connections").render()),
        timeout=20, what="2 of 5 connections in use")
    await async_wait_until(lambda: app.model.mail_log, timeout=20,
                           what="the persona's reply to the demo mail")
    assert "New mail in INBOX" in app.model.mail_log[-1]
    assert "IDLE" in app.model.caps


async def test_browser_fetches_only_the_visible_window_and_searches(demo: Any) -> None:
    app, pilot, _ = demo
    await pilot.press("enter")  # INBOX is the first row
    await async_wait_until(lambda: isinstance(app.screen, BrowserScreen), what="the browser")
    lst = app.screen.query_one(HeaderList)
    await async_wait_until(lambda: lst.count == 500 and lst.row(0) is not None,
                           what="the first screen of INBOX")
    height = lst.size.height
    await async_wait_until(lambda: app.model.in_use == 3, what="the browser's connection")
    assert lst.loaded <= 3 * height < 500  # a window, not the folder
    await pilot.press("G")
    await async_wait_until(lambda: lst.row(499) is not None, what="the last row")
    assert lst.cursor == 499
    assert lst.row(0) is None  # evicted: nothing beyond the window is kept
    await pilot.press("g")
    assert lst.cursor == 0
    await async_wait_until(lambda: lst.row(0) is not None, what="the top again")
    subject = lst.row(0).subject  # type: ignore[union-attr]
    word = max(subject.split(), key=len)
    await pilot.press("slash")
    await pilot.press(*word)
    await pilot.press("enter")
    await async_wait_until(lambda: lst.hits, what=f"server-side hits for {word!r}")
    assert 0 in lst.hits or lst.cursor in lst.hits
    first = lst.cursor
    await pilot.press("n")
    if len(lst.hits) > 1:
        assert lst.cursor != first
    await pilot.press("q")
    assert not isinstance(app.screen, BrowserScreen)
    await async_wait_until(lambda: app.model.in_use == 2, what="the browser's connection back")


async def test_scan_progress_reaches_100_percent(demo: Any) -> None:
    app, pilot, _ = demo
    await pilot.press("S")  # scan the highlighted folder (INBOX)
    await async_wait_until(
        lambda: (p := app.model.progress.get("INBOX")) is not None and p.done == p.total == 500,
        timeout=20, what="the INBOX scan to finish")
    await async_wait_until(lambda: app.screen.query(ProgressBar), what="a progress bar")
    bar = app.screen.query_one(ProgressBar)
    await async_wait_until(lambda: bar.percentage == 1.0, what="the bar at 100%")
    assert "500 of 500" in str(app.screen.query_one(".eta").render())


async def test_disconnect_is_notified_and_explained(demo: Any) -> None:
    app, pilot, bridge = demo
    bridge.fire_fault("reset")
    await async_wait_until(lambda: app.model.disconnects, timeout=10, what="a disconnect")
    view = app.model.disconnects[0]
    assert view.heals and not view.permanent
    assert view.cause and view.cause_title  # the engine's diagnosis catalogue named it
    assert any("press t for Diagnostics" in text for text in app.notified)
    await pilot.press("t")
    assert isinstance(app.screen, DiagnosticsScreen)
    table = app.screen.query_one("#disconnects", DataTable)
    await async_wait_until(lambda: table.row_count >= 1, what="the timeline row")
    explained = str(app.screen.query_one("#explain", Static).render())
    assert view.code in explained and "heals by itself" in explained
    assert view.cause_title in explained and "matched by" in explained
    log = app.screen.query_one("#trace", Log)
    await async_wait_until(lambda: log.line_count > 0, what="trace lines")
    assert not any("inboxlab-demo" in line for line in app.trace)  # the password is redacted
    await _settled(app, "the account back after the reset")


async def test_trace_filter(demo: Any) -> None:
    app, pilot, _ = demo
    await pilot.press("t")
    log = app.screen.query_one("#trace", Log)
    await async_wait_until(lambda: log.line_count > 0, what="trace lines")
    await pilot.press("slash", *"LOGIN", "enter")
    await async_wait_until(lambda: log.line_count > 0, what="filtered lines")
    assert all("login" in line.lower() for line in log.lines)


async def test_scenario_run_from_the_scenarios_screen(demo: Any) -> None:
    app, pilot, _ = demo
    await pilot.press("s")
    await pilot.press("a", *'{"type": "nonsense"}', "enter")
    await async_wait_until(lambda: "refused" in app.model.scenario_log[-1],
                           what="the control endpoint refusing a bad action")
    app.screen.query_one("#custom-action").value = (  # type: ignore[attr-defined]
        '{"type": "latency", "ms": 1}')
    app.screen.query_one("#custom-action").focus()
    await pilot.pause()
    await pilot.press("enter")
    await async_wait_until(lambda: "fault latency: fired" in app.model.scenario_log,
                           what="a custom action fired")
    app.screen.query_one("#scenario-list").focus()
    names = [o.id for o in app.screen.query_one("#scenario-list").options]  # type: ignore[attr-defined]
    assert "demo" in names and "no-special-use" in names
    for _ in range(names.index("no-special-use")):
        await pilot.press("j")
    assert app.screen.query_one("#scenario-list").highlighted == names.index("no-special-use")  # type: ignore[attr-defined]
    await pilot.press("enter")
    await async_wait_until(lambda: app.model.title == "scenario no-special-use", timeout=10,
                           what="the scenario to start")
    await _settled(app, "the account on the new scenario")
    roles = {f.role: f for f in app.model.folders if f.role}
    assert "sent" in roles and "name" in roles["sent"].reason.lower()
    await pilot.press("f", "enter")  # the first fault: a reset through the control endpoint
    await async_wait_until(lambda: any("fault reset: fired" in line
                                       for line in app.model.scenario_log),
                           what="the fault to fire")


async def test_connect_form_validates_live(demo: Any) -> None:
    app, pilot, _ = demo
    await pilot.press("c")
    await pilot.press(*"pop3://mail.example.com")
    button = app.screen.query_one("#connect-button", Button)
    text = str(app.screen.query_one("#validation", Static).render())
    assert "POP3 is not supported" in text and button.disabled
    app.screen.query_one("#server").value = "imaps://imap.example.com"  # type: ignore[attr-defined]
    app.screen.query_one("#username").value = "me@example.com"  # type: ignore[attr-defined]
    await pilot.pause()
    assert "looks right" in str(app.screen.query_one("#validation", Static).render())
    assert not button.disabled


async def test_help_lists_bindings_with_ids(demo: Any) -> None:
    app, pilot, _ = demo
    await pilot.press("question_mark")
    assert isinstance(app.screen, HelpScreen)
    text = str(app.screen.query_one("#help-text", Static).render())
    for binding_id in ("app.quit", "app.diagnostics", "dashboard.scan"):
        assert binding_id in text
    await pilot.press("escape")
    assert not isinstance(app.screen, HelpScreen)


async def test_quit_stops_engine_and_servers() -> None:
    bridge = EngineBridge(scenario="demo", timeline=False)
    app = InboxLabApp(bridge, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await _settled(app)
        servers = bridge.servers
        assert servers is not None and servers.running
        await pilot.press("q")
        await async_wait_until(lambda: not app.is_running, what="the app to exit")
    assert bridge.servers is None and not servers.running
    assert bridge._thread is None and bridge.loop is not None and bridge.loop.is_closed()


async def test_connect_form_drives_another_mailbox(demo: Any) -> None:
    """The Connect screen logs in to a server by address, with the stages and their times;
    a wrong password becomes a permanent, explained disconnect with no retry."""
    app, pilot, bridge = demo
    ends = bridge.endpoints
    await pilot.press("c")
    screen = app.screen
    screen.query_one("#server").value = f"imaps://{ends.host}:{ends.imaps_port}"  # type: ignore[attr-defined]
    screen.query_one("#username").value = ends.username  # type: ignore[attr-defined]
    screen.query_one("#password").value = "not-the-password"  # type: ignore[attr-defined]
    # Submit from the keyboard (Enter in the form): a toast can cover the button, and
    # a click that lands on the toast never reaches the form.
    screen.query_one("#password").focus()
    await pilot.pause()
    await pilot.press("enter")
    await async_wait_until(lambda: _state(app) == "auth_error", timeout=20,
                           what="the rejected login")
    view = app.model.disconnects[-1]
    assert view.permanent and not view.heals and view.kind == "AuthFailed"
    assert screen.query_one("#password").value == ""  # type: ignore[attr-defined]
    stages = str(screen.query_one("#stages", Static).render())
    assert "connect" in stages and "ms" in stages and "login" in stages
    screen.query_one("#password").value = ends.password  # type: ignore[attr-defined]
    screen.query_one("#password").focus()
    await pilot.pause()
    await pilot.press("enter")
    await _settled(app, "the account logged in through the form")
    assert app.model.title == ends.username


async def test_command_palette_reaches_screens(demo: Any) -> None:
    app, pilot, _ = demo
    await pilot.press("ctrl+p")
    await pilot.press(*"Diagnostics")
    await async_wait_until(
        lambda: any(lst.option_count for lst in app.screen.query("CommandList")),  # type: ignore[attr-defined]
        what="the palette's matches")
    await pilot.press("enter")
    await async_wait_until(lambda: isinstance(app.screen, DiagnosticsScreen),
                           what="the Diagnostics screen from the palette")


async def test_connect_form_signs_in_with_oauth(demo: Any) -> None:
    """The Connect screen's OAuth sign-in: the mechanism and a token command, no password;
    the account logs in with AUTHENTICATE XOAUTH2 on a server offering it (the oauth-login
    scenario, served on this test's loop) and the form never holds a token."""
    import shlex

    from textual.widgets import Input, Select

    from inboxlab import scenarios
    from inboxlab.engine.tokens import TokenProvider
    from inboxlab.fakeserver.scenario.load import load
    from inboxlab.fakeserver.scenario.serve import ScenarioServer

    app, pilot, bridge = demo
    async with ScenarioServer(load(scenarios.path_of("oauth-login")), control_port=None,
                              smtp=False) as srv:
        user = srv.scenario.accounts[0].username
        await pilot.press("c")
        screen = app.screen
        assert not screen.query_one("#token-command").display
        screen.query_one("#server", Input).value = f"imap://{srv.host}:{srv.port}?security=plain"
        screen.query_one("#username", Input).value = user
        screen.query_one("#login", Select).value = "XOAUTH2"
        await pilot.pause()
        assert screen.query_one("#token-command").display
        assert not screen.query_one("#password").display
        command = screen.query_one("#token-command", Input)
        command.value = shlex.join(srv.token_command(user))
        command.focus()
        await pilot.pause()
        await pilot.press("enter")
        await async_wait_until(lambda: app.model.title == user and _state(app) == "idle",
                               timeout=20, what="the account signed in with OAuth")
        assert isinstance(bridge._secret, TokenProvider)
        assert bridge._secret.mechanism == "XOAUTH2" and bridge._secret.fetches == 1
        assert srv.store.oauth.issued == 1 and srv.runtime.counters["logins"] >= 1
