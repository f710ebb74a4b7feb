"""The Dashboard scans a generated 100,000-message INBOX to the end (issue 7's Pilot flow).

The bundled ``inbox-100k`` scenario, served in-process; ``S`` starts a full header scan of
the highlighted folder, and the progress bar must reach 100% with every message counted.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import ProgressBar, Static
from waiting import async_wait_until

from inboxlab.tui.app import InboxLabApp
from inboxlab.tui.bridge import EngineBridge

SIZE = (120, 40)
COUNT = 100_000


async def test_a_100k_folder_scan_reaches_100_percent() -> None:
    bridge = EngineBridge(scenario="inbox-100k", timeline=False)
    app = InboxLabApp(bridge, cursor_blink=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await async_wait_until(
                lambda: app.model.state is not None and app.model.state.state == "idle"
                and app.model.folders, timeout=60, what="the account watching for mail")
            inbox = {f.name: f for f in app.model.folders}["INBOX"]
            assert inbox.messages == COUNT
            await pilot.press("S")  # scan the highlighted folder (INBOX)

            def finished() -> Any:
                p = app.model.progress.get("INBOX")
                return p is not None and p.done == p.total == COUNT

            await async_wait_until(finished, timeout=180, what="the 100k INBOX scan to finish")
            await async_wait_until(lambda: app.screen.query(ProgressBar), what="a progress bar")
            bar = app.screen.query_one(ProgressBar)
            await async_wait_until(lambda: bar.percentage == 1.0, what="the bar at 100%")
            assert "100,000 of 100,000" in str(app.screen.query_one(".eta", Static).render())
    finally:
        bridge.stop()
