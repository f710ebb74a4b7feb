"""``/`` find on the Records and Scenarios lists, and a footer that keeps Enter, ``q`` and
``?`` in sight at 80 columns (scripted bridge and CRM: no sockets)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import DataTable, Footer, Input, Label, OptionList, Static
from textual.widgets._footer import FooterKey
from tui_script import AT, ScriptedBridge
from waiting import async_wait_until

from inboxlab.tui import crm_messages as cm
from inboxlab.tui import views as v
from inboxlab.tui.app import InboxLabApp
from inboxlab.tui.screens.browser import BrowserScreen
from inboxlab.tui.screens.help import HelpScreen
from inboxlab.tui.screens.records import RecordsScreen
from inboxlab.tui.screens.scenarios import ScenariosScreen
from inboxlab.tui.widgets.lists import find_rows, next_hit

PEOPLE = (("Dana Reyes", "dana@acme.example", "Acme"),
          ("Lee Park", "lee@globex.example", "Globex"),
          ("Sam Ortiz", "sam@initech.example", "Initech"),
          ("Ana Wu", "ana@globex.example", "Globex"),
          ("Kim Ito", "kim@umbrella.example", "Umbrella"))
CONTACTS = tuple(v.ContactView(i, email, name, company, 1)
                 for i, (name, email, company) in enumerate(PEOPLE, 1))
EMAILS = (v.EmailView(1, "<1@example.com>", 1, "outgoing", "user@example.com",
                      "Renewal quote for Acme", "sent from the CRM", "", ()),
          v.EmailView(2, "<2@acme.example>", 1, "incoming", "dana@acme.example",
                      "Re: Renewal quote for Acme", "In-Reply-To names <1@example.com>", "", ()),
          v.EmailView(3, "<3@acme.example>", 2, "incoming", "dana@acme.example",
                      "Visit on Tuesday", "References names <9@example.com>", "", ()))


class FiveContacts:
    def __init__(self, target: Any) -> None:
        self.target = target

    def template_names(self) -> list[str]:
        return ["renewal", "check-in"]

    def load_contacts(self, offset: int = 0) -> None:
        self.target.post_message(cm.ContactsLoaded(0, CONTACTS))

    def load_timeline(self, contact_id: int) -> None:
        self.target.post_message(cm.TimelineLoaded(contact_id, EMAILS if contact_id == 1 else ()))

    def load_thread(self, thread_id: int) -> None: ...
    def preview(self, template: str, contact_ids: Any) -> None: ...


def scripted_app(bridge: ScriptedBridge | None = None) -> InboxLabApp:
    app = InboxLabApp(bridge or ScriptedBridge(), cursor_blink=False,  # type: ignore[arg-type]
                      clock=lambda: AT)
    app.crm_actions = FiveContacts(app)
    return app


def status(app: InboxLabApp) -> str:
    label = app.screen.query_one("#find-status", Label)
    return str(label.render()) if label.display else ""


def test_find_is_a_substring_of_the_row_and_wraps() -> None:
    rows = ["Dana Acme", "Lee GLOBEX", "Sam", "Ana globex"]
    assert find_rows(rows, " Globex ") == (1, 3)  # case-insensitive, trimmed
    assert find_rows(rows, "") == ()
    assert next_hit((1, 3), 0, 1, here=True) == 1
    assert next_hit((1, 3), 1, 1, here=True) == 1  # a new find starts on the cursor's row
    assert next_hit((1, 3), 1, 1) == 3 and next_hit((1, 3), 3, 1) == 1  # n wraps
    assert next_hit((1, 3), 1, -1) == 3 and next_hit((1, 3), 3, -1) == 1  # N wraps
    assert next_hit((), 0, 1) is None


async def test_slash_finds_on_the_records_contacts_and_timeline() -> None:
    app = scripted_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("r")
        screen = app.screen
        assert isinstance(screen, RecordsScreen)
        contacts = screen.query_one("#contacts", DataTable)
        await async_wait_until(lambda: contacts.row_count == 5, what="five contacts")
        contacts.focus()
        await pilot.press("slash", *"globex", "enter")
        assert contacts.cursor_row == 1 and screen.contact_id == 2
        assert status(app) == "/globex: 1 of 2 hits in Contacts (n/N)"
        assert app.focused is contacts and not screen.query_one("#find", Input).display
        await pilot.press("n")
        assert contacts.cursor_row == 3 and screen.contact_id == 4
        assert status(app).startswith("/globex: 2 of 2 hits")
        await pilot.press("n")
        assert contacts.cursor_row == 1  # wraps around
        await pilot.press("N")
        assert contacts.cursor_row == 3
        await pilot.press("slash", *"nobody", "enter")
        assert contacts.cursor_row == 3  # no hit: the cursor stays
        assert status(app) == "/nobody: no row of Contacts holds it"
        await pilot.press("slash", "escape")  # Escape closes the prompt, not the screen
        assert app.screen is screen and app.focused is contacts
        await pilot.press("g")
        await async_wait_until(lambda: screen.contact_id == 1, what="Dana's record")
        timeline = screen.query_one("#timeline", DataTable)
        await async_wait_until(lambda: timeline.row_count == 3, what="Dana's timeline")
        await pilot.press("tab", "slash", *"visit", "enter")
        assert app.focused is timeline and timeline.cursor_row == 2
        assert status(app) == "/visit: 1 of 1 hit in the timeline (n/N)"


async def test_n_finds_in_the_list_as_it_is_now_after_a_reload() -> None:
    app = scripted_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("r")
        contacts = app.screen.query_one("#contacts", DataTable)
        await async_wait_until(lambda: contacts.row_count == 5, what="five contacts")
        contacts.focus()
        await pilot.press("slash", *"globex", "enter")
        assert contacts.cursor_row == 1
        newcomer = v.ContactView(9, "ivy@globex.example", "Ivy Chen", "Globex", 0)
        app.post_message(cm.ContactsLoaded(0, (newcomer, *CONTACTS)))  # a record added
        await async_wait_until(lambda: contacts.row_count == 6, what="six contacts")
        contacts.move_cursor(row=2)  # Lee, where the cursor was, is now row 2
        await pilot.press("n")
        assert contacts.cursor_row == 4  # Ana, not the stale row 3 (Sam)
        assert status(app) == "/globex: 3 of 3 hits in Contacts (n/N)"


async def test_slash_finds_on_the_scenario_and_fault_lists_and_enter_runs_the_hit() -> None:
    bridge = ScriptedBridge()
    app = scripted_app(bridge)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("s")
        assert isinstance(app.screen, ScenariosScreen)
        scenarios = app.screen.query_one("#scenario-list", OptionList)
        await pilot.press("slash", *"TARPIT", "enter")
        assert scenarios.highlighted == 2 and app.focused is scenarios
        assert status(app) == "/TARPIT: 1 of 1 hit in the scenarios (n/N)"
        await pilot.press("f", "slash", *"password", "enter")
        faults = app.screen.query_one("#fault-list", OptionList)
        assert faults.highlighted == 2 and app.focused is faults
        await pilot.press("enter")
        assert ("fault", "password changed") in bridge.asked
        await pilot.press("a", *"/n")  # in the custom action prompt / and n are text
        assert app.screen.query_one("#custom-action", Input).value == "/n"


def footer_keys(app: InboxLabApp) -> list[str]:
    """The keys a person can see in the footer: what fits left of the palette key."""
    footer = app.screen.query_one(Footer)
    palette = footer.query_one(".-command-palette", FooterKey)
    return [k.key for k in footer.query(FooterKey)
            if k is not palette and k.region.right <= palette.region.x]


@pytest.mark.parametrize(("keys", "lists"), [
    ((), True),  # the dashboard's folder table
    (("t",), False), (("s",), True), (("r",), True), (("m",), True), (("o",), False),
    (("enter",), True),  # the folder browser
])
async def test_the_footer_at_80_columns_keeps_enter_back_and_help(
        keys: tuple[str, ...], lists: bool) -> None:
    app = scripted_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*keys)
        if keys == ("enter",):
            await async_wait_until(lambda: isinstance(app.screen, BrowserScreen),
                                   what="the browser")
        await pilot.pause()
        shown = await async_wait_until(lambda: footer_keys(app), what="the footer")
        assert "q" in shown and "question_mark" in shown, (type(app.screen).__name__, shown)
        if lists:  # Enter says what it does on a table or list
            assert shown[0] == "enter", (type(app.screen).__name__, shown)


async def test_forms_show_escape_back_where_q_is_typed() -> None:
    app = scripted_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.focused, Input)
        shown = await async_wait_until(lambda: footer_keys(app), what="the footer")
        assert shown[0] == "escape"


async def test_help_lists_the_find_keys_a_screen_inherits() -> None:
    app = scripted_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("r", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text", Static).render())
        for binding_id in ("find.start", "find.next", "find.prev", "records.reload",
                           "table.open", "app.quit"):
            assert binding_id in text, binding_id
