"""Snapshots of the main screens: fixed size, fixed theme, no blinking cursor, a scripted
session with fixed times (``tui_script``), so only a rendering change changes them."""

from __future__ import annotations

from typing import Any

from tui_script import AT, ScriptedBridge

from inboxlab.tui.app import InboxLabApp

SIZE = (110, 34)
NARROW = (80, 24)  # the smallest terminal the TUI is driven in: the footer keeps q and ?


def _app() -> InboxLabApp:
    app = InboxLabApp(ScriptedBridge(), cursor_blink=False,  # type: ignore[arg-type]
                      clock=lambda: AT)
    app.theme = "textual-dark"
    return app


async def _settle(pilot: Any) -> None:
    await pilot.pause()
    app: InboxLabApp = pilot.app
    app.clear_notifications()
    await pilot.pause()


def test_dashboard(snap_compare: Any) -> None:
    assert snap_compare(_app(), terminal_size=SIZE, run_before=_settle)


def test_diagnostics(snap_compare: Any) -> None:
    async def before(pilot: Any) -> None:
        await _settle(pilot)
        await pilot.press("t")
        await pilot.app.workers.wait_for_complete()
        pilot.app._drain_trace()
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=SIZE, run_before=before)


def test_browser(snap_compare: Any) -> None:
    async def before(pilot: Any) -> None:
        await _settle(pilot)
        await pilot.press("enter", "j", "j", "j")
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=SIZE, run_before=before)


def test_scenarios(snap_compare: Any) -> None:
    async def before(pilot: Any) -> None:
        await _settle(pilot)
        await pilot.press("s")
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=SIZE, run_before=before)


def test_help(snap_compare: Any) -> None:
    async def before(pilot: Any) -> None:
        await _settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=SIZE, run_before=before)


def test_connect_with_a_refused_address(snap_compare: Any) -> None:
    async def before(pilot: Any) -> None:
        await _settle(pilot)
        await pilot.press("c")
        await pilot.press(*"pop3://mail.example.com")
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=SIZE, run_before=before)


def test_dashboard_at_80_columns(snap_compare: Any) -> None:
    assert snap_compare(_app(), terminal_size=NARROW, run_before=_settle)


def test_browser_at_80_columns(snap_compare: Any) -> None:
    async def before(pilot: Any) -> None:
        await _settle(pilot)
        await pilot.press("enter", "j")
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=NARROW, run_before=before)


def test_scenarios_after_a_find_at_80_columns(snap_compare: Any) -> None:
    async def before(pilot: Any) -> None:
        await _settle(pilot)
        await pilot.press("s", "slash", *"tarpit", "enter")
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=NARROW, run_before=before)
