"""Compose asks before a second identical send and before a bulk send (with the count).

``x x`` used to send the same template to the same contact twice (two Message-IDs, both
logged), and ``a`` then ``x`` sent to every contact without a word.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import OptionList, Static
from tui_script import AT, ScriptedBridge
from waiting import async_wait_until

from inboxlab.tui import crm_messages as cm
from inboxlab.tui import views as v
from inboxlab.tui.app import InboxLabApp
from inboxlab.tui.screens.compose import REPEAT_WINDOW, ComposeScreen
from inboxlab.tui.screens.confirm import ConfirmScreen

CONTACTS = tuple(v.ContactView(n, f"c{n}@acme.example", f"C {n}", "Acme", 0)
                 for n in (1, 2, 3))


class CountingCrm:
    def __init__(self, target: Any) -> None:
        self.target = target
        self.sends: list[tuple[str, tuple[int, ...]]] = []

    def template_names(self) -> list[str]:
        return ["renewal", "check-in"]

    def load_contacts(self, offset: int = 0) -> None:
        self.target.post_message(cm.ContactsLoaded(0, CONTACTS))

    def load_timeline(self, contact_id: int) -> None: ...
    def load_thread(self, thread_id: int) -> None: ...
    def preview(self, template: str, contact_ids: Any) -> None: ...

    def send(self, template: str, contact_ids: Any) -> None:
        self.sends.append((template, tuple(contact_ids)))


async def compose(app: InboxLabApp, pilot: Any, recipients: tuple[int, ...]) -> ComposeScreen:
    app.post_message(cm.ContactsLoaded(0, CONTACTS))
    await async_wait_until(lambda: len(app.crm_model.contacts) == 3, what="contacts")
    await pilot.pause()
    app.compose_to(recipients)
    await async_wait_until(lambda: isinstance(app.screen, ComposeScreen), what="Compose")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, ComposeScreen)
    options = screen.query_one("#templates", OptionList)
    options.focus()
    options.highlighted = 0
    await pilot.press("enter")  # the first template: renewal
    assert screen.template == "renewal"
    return screen


async def test_a_second_identical_send_asks_and_no_keeps_it_at_one() -> None:
    app = InboxLabApp(ScriptedBridge(), cursor_blink=False,  # type: ignore[arg-type]
                      clock=lambda: AT)
    crm = app.crm_actions = CountingCrm(app)  # type: ignore[assignment]
    now = [1000.0]
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await compose(app, pilot, (1,))
        screen.monotonic = lambda: now[0]  # type: ignore[method-assign]
        await pilot.press("x")
        assert crm.sends == [("renewal", (1,))] and app.screen is screen
        now[0] += 5
        await pilot.press("x")  # the second press: a question, not a send
        assert isinstance(app.screen, ConfirmScreen)
        assert "5 s ago" in str(app.screen.query_one("#confirm-question", Static).render())
        await pilot.press("n")
        assert app.screen is screen and crm.sends == [("renewal", (1,))]
        await pilot.press("x", "y")  # asked again; this time the person means it
        assert crm.sends == [("renewal", (1,))] * 2
        now[0] += REPEAT_WINDOW + 1
        await pilot.press("x")  # long after: no question
        assert app.screen is screen and len(crm.sends) == 3


async def test_bulk_send_confirms_with_the_recipient_count() -> None:
    app = InboxLabApp(ScriptedBridge(), cursor_blink=False,  # type: ignore[arg-type]
                      clock=lambda: AT)
    crm = app.crm_actions = CountingCrm(app)  # type: ignore[assignment]
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await compose(app, pilot, ())
        await pilot.press("a", "x")  # every contact
        assert isinstance(app.screen, ConfirmScreen)
        question = str(app.screen.query_one("#confirm-question", Static).render())
        assert "to 3 recipients" in question
        assert crm.sends == []
        await pilot.press("y")
        assert app.screen is screen and crm.sends == [("renewal", (1, 2, 3))]
