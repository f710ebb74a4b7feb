"""Keys, palette, saved look, and the small truths of the screens (scripted, no sockets):
the badge during a scan, search in progress, rows read again after an outage, the mouse,
markup-free labels, plurals, the checkpoint column, the sparkline's scale."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widgets import Label, OptionList, Static
from tui_script import AT, ROWS, ScriptedBridge
from waiting import async_wait_until

from inboxlab.tui import messages as m
from inboxlab.tui.app import InboxLabApp
from inboxlab.tui.screens.browser import BrowserScreen
from inboxlab.tui.screens.message import MessageScreen
from inboxlab.tui.screens.scenarios import ScenariosScreen
from inboxlab.tui.screens.settings import SettingsScreen
from inboxlab.tui.settings_store import SettingsStore
from inboxlab.tui.widgets.header_list import HeaderList

IDLE = m.StateView("idle", "Watching", "green", "ok", "Up to date; waiting for new mail.", AT)


class SlowBridge(ScriptedBridge):
    """Searches that take time, a first window that fails (an outage), a [ALERT] fault."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next = False
        self.searches: list[tuple[str, Any]] = []

    def search(self, folder: str, query: str, reply_to: Any) -> None:
        self.searches.append((query, reply_to))

    def fetch_rows(self, folder: str, start: int, count: int, reply_to: Any,
                   generation: int = 0) -> None:
        if self.fail_next:
            self.asked.append(("failed", (start, count)))
            reply_to.post_message(m.RowsFailed(folder, start))
            return
        super().fetch_rows(folder, start, count, reply_to, generation)

    def faults(self) -> list[str]:
        return ["bye [ALERT] (plain IMAP only)", *super().faults()]


def app_with(bridge: ScriptedBridge, store: SettingsStore | None = None) -> InboxLabApp:
    return InboxLabApp(bridge, cursor_blink=False, clock=lambda: AT,  # type: ignore[arg-type]
                       settings_store=store)


def text_of(widget: Any) -> str:
    return str(widget.render())


async def test_the_badge_says_scanning_during_a_full_scan_and_the_dashboard_is_honest() -> None:
    app = app_with(ScriptedBridge())
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        app.post_message(m.EngineState(IDLE))
        await pilot.pause()
        badge = text_of(app.screen.query_one("#badge"))
        assert "Scanning Archive: 150 of 300" in badge and "Up to date" not in badge
        caption = text_of(app.screen.query_one("#rate-caption", Label))
        assert "2,000 msg/s" in caption and "peak 2,100" in caption  # scale, current value
        inbox = app.screen.query_one("#folders").get_row_at(0)  # type: ignore[attr-defined]
        assert inbox[4] == "new after 100412"  # the first sync skipped the old mail
        app.post_message(m.ScanProgress(m.ProgressView("Archive", 300, 300, 0.0)))
        app.post_message(m.ScanProgress(m.ProgressView("INBOX", 100_412, 100_412, 0.0)))
        await pilot.pause()
        assert "Up to date" in text_of(app.screen.query_one("#badge"))


async def test_search_in_progress_then_hits_and_rows_read_again_after_an_outage() -> None:
    bridge = SlowBridge()
    app = app_with(bridge)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        bridge.fail_next = True
        app.post_message(m.EngineState(m.StateView("disconnected", "Disconnected", "yellow",
                                                   "warn", "", AT)))
        app.open_folder("INBOX")
        await async_wait_until(lambda: isinstance(app.screen, BrowserScreen)
                               and app.screen.query(HeaderList), what="browser")
        screen = app.screen
        lst = screen.query_one(HeaderList)
        await async_wait_until(lambda: any(a[0] == "failed" for a in bridge.asked),
                               what="a failed window")
        assert lst.row(0) is None
        bridge.fail_next = False
        app.post_message(m.EngineState(IDLE))  # reconnected
        await async_wait_until(lambda: lst.row(0) is not None, timeout=5,
                               what="the rows read again after the recovery")
        await pilot.press("slash", *"number 1", "enter")
        status = screen.query_one("#browser-status", Label)
        await async_wait_until(lambda: "searching on the server" in text_of(status),
                               what="search in progress")
        assert "0 hits" not in text_of(status)
        query, reply_to = bridge.searches[-1]
        reply_to.post_message(m.SearchHits("INBOX", query, (1,)))
        await async_wait_until(lambda: "1 hit (n/N)" in text_of(status), what="one hit")


async def test_the_mouse_moves_the_cursor_and_a_double_click_opens() -> None:
    app = app_with(ScriptedBridge())
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        app.open_folder("INBOX")
        await async_wait_until(lambda: isinstance(app.screen, BrowserScreen)
                               and app.screen.query(HeaderList), what="browser")
        lst = app.screen.query_one(HeaderList)
        await async_wait_until(lambda: lst.row(3) is not None, what="rows")
        await pilot.click(HeaderList, offset=(10, 3))
        assert lst.cursor == 3
        lst.scroll_to(y=100, animate=False)
        await pilot.pause()
        lst.on_mouse_scroll_down()
        await pilot.pause()
        assert lst.cursor in lst.visible_range()  # the cursor follows the wheel
        assert len(ROWS) > 100
        await pilot.click(HeaderList, offset=(10, 2), times=2)
        await async_wait_until(lambda: isinstance(app.screen, MessageScreen),
                               what="the message view")


async def test_keys_palette_and_labels() -> None:
    bridge = SlowBridge()
    app = app_with(bridge)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        app.open_folder("INBOX")
        await async_wait_until(lambda: isinstance(app.screen, BrowserScreen)
                               and app.screen.query(HeaderList), what="browser")
        opened = len([a for a in bridge.asked if a[0] == "rows"])
        await pilot.press("R")  # Reload in the browser; r is Records everywhere
        await async_wait_until(lambda: len([a for a in bridge.asked if a[0] == "rows"])
                               > opened, what="the folder read again")
        assert isinstance(app.screen, BrowserScreen)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("Reconnect now", "Export diagnostic bundle", "Export trace",
                       "Run scenario demo", "Fire fault reset", "Scan folder INBOX"):
            assert wanted in titles, wanted
        await pilot.press("s")
        assert isinstance(app.screen, ScenariosScreen)
        faults = app.screen.query_one("#fault-list", OptionList)
        prompt = faults.get_option_at_index(0).prompt
        assert isinstance(prompt, Text) and "[ALERT]" in prompt.plain  # not markup
        scen = app.screen.query_one("#scenario-list", OptionList)
        await pilot.press("G")
        assert scen.highlighted == scen.option_count - 1
        await pilot.press("g")
        assert scen.highlighted == 0


async def test_the_theme_and_a_keymap_are_saved_in_settings(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    store.path.write_text(json.dumps({"keymap": {"app.settings": "O"}}))
    app = app_with(ScriptedBridge(), store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("O")  # remapped by binding id
        assert isinstance(app.screen, SettingsScreen)
        app.theme = "nord"
        await async_wait_until(lambda: json.loads(store.path.read_text()).get("theme")
                               == "nord", what="the theme saved")
    again = app_with(ScriptedBridge(), store)
    async with again.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert again.theme == "nord"
    assert "keymap" in store.path.read_text()


async def test_outage_and_dashboard_labels_are_text_not_markup() -> None:
    app = app_with(ScriptedBridge())
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        outage = text_of(app.screen.query_one("#outage", Static))
        assert "1 retry;" in outage  # singular
