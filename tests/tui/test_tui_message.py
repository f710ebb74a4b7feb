"""The message view: Enter in the browser, ``v`` on a Records email; the threading
headers, the tracking decision with its reason, size, flags and folder."""

from __future__ import annotations

from textual.widgets import DataTable, Static
from waiting import async_wait_until

from inboxlab.tui.app import InboxLabApp
from inboxlab.tui.bridge import EngineBridge
from inboxlab.tui.screens.browser import BrowserScreen
from inboxlab.tui.screens.message import MessageScreen
from inboxlab.tui.screens.records import RecordsScreen
from inboxlab.tui.widgets.header_list import HeaderList

DANA = "dana@acme.example"


async def test_the_message_view_from_records_and_from_the_browser() -> None:
    bridge = EngineBridge(scenario="demo", timeline=False)
    app = InboxLabApp(bridge, cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await async_wait_until(lambda: app.model.state and app.model.state.state == "idle"
                               and app.model.folders, timeout=20, what="watching")

        def reply() -> bool:
            who = next((c for c in app.crm_model.contacts if c.email == DANA), None)
            emails = app.crm_model.timelines.get(who.id, ()) if who else ()
            return any(e.direction == "incoming" for e in emails)

        await pilot.press("r")
        assert isinstance(app.screen, RecordsScreen)
        await async_wait_until(reply, timeout=40, what="Dana's reply logged")
        sent = next(o for o in app.crm_model.outbox.values() if o.to == DANA)
        timeline = app.screen.query_one("#timeline", DataTable)
        await async_wait_until(lambda: timeline.row_count == 2, what="two timeline rows")
        timeline.focus()
        timeline.move_cursor(row=1)  # Dana's reply
        await pilot.press("v")
        assert isinstance(app.screen, MessageScreen)
        screen = app.screen
        await async_wait_until(lambda: screen.view is not None, timeout=10,
                               what="the message view")
        view = screen.view
        assert view is not None and not view.problem
        assert view.folder == "INBOX" and view.uid is not None
        assert sent.message_id in view.in_reply_to
        assert view.decision == "logged" and sent.message_id in view.reason
        assert view.size and view.size > 0
        shown = str(screen.query_one("#message", Static).render())
        for words in ("Message-ID", "In-Reply-To", "References", "Tracking", "logged",
                      sent.message_id, "Flags", "bytes"):
            assert words in shown, words
        await pilot.press("escape")
        assert isinstance(app.screen, RecordsScreen)

        await pilot.press("d")
        await pilot.press("enter")  # INBOX
        await async_wait_until(lambda: isinstance(app.screen, BrowserScreen), what="browser")
        lst = app.screen.query_one(HeaderList)
        await async_wait_until(lambda: lst.count and lst.row(0) is not None, what="rows")
        await pilot.press("G")
        await async_wait_until(lambda: lst.row(lst.cursor) is not None, what="the oldest row")
        uid = lst.row(lst.cursor).uid  # type: ignore[union-attr]
        await pilot.press("enter")
        assert isinstance(app.screen, MessageScreen)
        screen = app.screen
        await async_wait_until(lambda: screen.view is not None, timeout=10,
                               what="the message view from the browser")
        view = screen.view
        assert view is not None and view.uid == uid and view.folder == "INBOX"
        assert view.message_id and view.decision == "not tracked"
        assert "names no tracked Message-ID" in view.reason
        await pilot.press("q")
        assert isinstance(app.screen, BrowserScreen)
    bridge.stop()
