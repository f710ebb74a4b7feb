"""The CRM screens end to end: the demo's templated mail, the persona's reply logged to
the contact on the Records screen, the thread view's join reason, and a compose from a
record whose outbox row walks to 'logged' - against the in-process fake servers, waiting
on conditions, never on sleeps. Plus one snapshot of the Records screen (scripted)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, OptionList, Static
from tui_script import AT, ScriptedBridge
from waiting import async_wait_until

from inboxlab.engine.crm.errors import BadInput
from inboxlab.engine.crm.rules import Mode
from inboxlab.engine.errors import EngineError
from inboxlab.tui import crm_messages as cm
from inboxlab.tui import views as v
from inboxlab.tui.app import InboxLabApp
from inboxlab.tui.bridge import EngineBridge
from inboxlab.tui.bridge.translate import account_from_cli, crm_rules
from inboxlab.tui.screens.compose import ComposeScreen
from inboxlab.tui.screens.help import HelpScreen
from inboxlab.tui.screens.records import RecordsScreen
from inboxlab.tui.settings_store import UiSettings

SIZE = (140, 40)
DANA = "dana@acme.example"


@pytest.fixture
async def demo() -> AsyncIterator[tuple[InboxLabApp, Pilot[Any], EngineBridge]]:
    bridge = EngineBridge(scenario="demo", timeline=False)
    # Which pooled connections the CRM borrows: replies ride the scanner's after_pass.
    real_open, borrowed = bridge.crm._open, []

    async def recording_open(purpose: str) -> Any:
        borrowed.append(purpose)
        return await real_open(purpose)

    bridge.crm._open = recording_open  # type: ignore[method-assign]
    bridge.crm_borrowed = borrowed  # type: ignore[attr-defined]
    app = InboxLabApp(bridge, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        yield app, pilot, bridge
    bridge.stop()


def _timeline(app: InboxLabApp, email: str) -> tuple[v.EmailView, ...]:
    crm = app.crm_model
    who = next((c for c in crm.contacts if c.email == email), None)
    return crm.timelines.get(who.id, ()) if who is not None else ()


async def test_templated_mail_reply_logged_to_contact_with_join_reason(demo: Any) -> None:
    app, pilot, bridge = demo
    # The demo sends the 'renewal' template to Dana once the account settles.
    await async_wait_until(lambda: any(o.to == DANA and o.state == "logged"
                                       for o in app.crm_model.outbox.values()),
                           timeout=30, what="the demo mail through the outbox to 'logged'")
    sent = next(o for o in app.crm_model.outbox.values() if o.to == DANA)
    assert sent.subject == "Renewal quote for Acme"  # the template, filled from the record
    await pilot.press("r")
    assert isinstance(app.screen, RecordsScreen)
    # The persona answers a few seconds later; IDLE wakes the scan; the CRM logs it.
    await async_wait_until(lambda: any(e.direction == "incoming" for e in _timeline(app, DANA)),
                           timeout=30, what="Dana's reply logged to her record")
    emails = _timeline(app, DANA)
    assert [e.direction for e in emails] == ["outgoing", "incoming"]
    # The reply was read on the scanner's connection; the CRM only borrowed one to file
    # the sent copy in Sent.
    assert set(bridge.crm_borrowed) == {"crm-sent"}
    reply = emails[1]
    assert reply.sender == DANA and reply.thread_id == emails[0].thread_id
    timeline = app.screen.query_one("#timeline", DataTable)
    await async_wait_until(lambda: timeline.row_count == 2, what="two rows on the timeline")
    timeline.focus()
    timeline.move_cursor(row=1)
    await pilot.press("enter")
    await async_wait_until(lambda: reply.thread_id in app.crm_model.threads,
                           what="the thread view")
    thread = app.crm_model.threads[reply.thread_id]
    logged = [e for e in thread.entries if e.who == DANA]
    assert logged and logged[0].status == "logged"
    assert sent.message_id in logged[0].reason  # joined because it names our Message-ID
    shown = app.screen.query_one("#thread", Static)
    await async_wait_until(lambda: logged[0].reason in str(shown.render()),
                           what="the join reason on the Records screen")

    # The forward-reuse case: the old mail forwarded to someone new names our Message-ID
    # but nobody on it was ever on the thread - flagged, not joined, and the view says why.
    forward = (f"From: Eve New <eve@newco.example>\r\nTo: user@example.com\r\n"
               f"Subject: Fwd: {sent.subject}\r\nMessage-ID: <fwd1@newco.example>\r\n"
               f"In-Reply-To: {sent.message_id}\r\nReferences: {sent.message_id}\r\n"
               "Date: Thu, 01 Jan 2026 10:00:00 +0000\r\n\r\nFYI, see below.\r\n").encode()

    async def deliver() -> None:  # on the engine loop, where the fake server lives
        server = bridge.servers.server
        server.store.authenticate(server.scenario.accounts[0].username,
                                  server.scenario.accounts[0].password).get("INBOX").append(
                                      forward)

    await asyncio.wrap_future(bridge.submit(deliver()))

    def flagged() -> list[v.ThreadEntryView]:  # the screen reloads it on RecordsChanged
        view = app.crm_model.threads.get(reply.thread_id)
        return [e for e in view.entries if e.status == "flagged"] if view else []

    await async_wait_until(flagged, timeout=20, what="the forwarded mail flagged on the thread")
    [entry] = flagged()
    assert entry.message_id == "<fwd1@newco.example>" and "forward reuse" in entry.reason
    assert "eve@newco.example" in entry.reason
    await async_wait_until(lambda: "[flagged]" in str(shown.render()),
                           what="the flag on the Records screen")
    assert all(e.sender != "eve@newco.example" for e in _timeline(app, DANA))  # not logged


async def test_compose_from_record_shows_outbox_states_to_logged(demo: Any) -> None:
    app, pilot, _ = demo
    await async_wait_until(lambda: any(c.email == DANA for c in app.crm_model.contacts),
                           timeout=30, what="Dana's record")
    await pilot.press("r")
    contacts = app.screen.query_one("#contacts", DataTable)
    await async_wait_until(lambda: contacts.row_count >= 1, what="the contact list")
    contacts.focus()
    await pilot.press("m")  # compose from the highlighted record
    assert isinstance(app.screen, ComposeScreen)
    screen = app.screen
    dana = next(c for c in app.crm_model.contacts if c.email == DANA)
    assert screen.recipients == (dana.id,)
    templates = screen.query_one("#templates", OptionList)
    templates.focus()
    await pilot.press("j", "enter")  # the second template: check-in
    assert screen.template == "check-in"
    await async_wait_until(lambda: app.crm_model.preview_template == "check-in"
                           and app.crm_model.previews, what="the preview for Dana")
    assert app.crm_model.previews[0].subject == "Checking in, Dana"
    await pilot.press("x")
    await async_wait_until(
        lambda: any(o.subject == "Checking in, Dana" for o in app.crm_model.outbox.values()),
        timeout=20, what="the compose in the outbox")
    mid = next(o.message_id for o in app.crm_model.outbox.values()
               if o.subject == "Checking in, Dana")
    seen: list[str] = []

    def state() -> str:
        s = app.crm_model.outbox[mid].state
        if not seen or seen[-1] != s:
            seen.append(s)
        return s

    await async_wait_until(lambda: state() == "logged", timeout=20, what="'logged'")
    table = screen.query_one("#outbox", DataTable)
    await async_wait_until(lambda: table.row_count >= 1, what="outbox rows")
    order = ["queued", "submitted", "copied", "logged"]
    assert seen == sorted(seen, key=order.index) and seen[-1] == "logged"  # forward only
    row = table.get_row(mid)
    assert str(row[0]) == "logged" and row[1] == DANA


async def test_keys_on_help_and_palette(demo: Any) -> None:
    app, pilot, _ = demo
    await pilot.press("question_mark")
    assert isinstance(app.screen, HelpScreen)
    text = str(app.screen.query_one("#help-text", Static).render())
    assert "app.records" in text and "app.compose" in text
    await pilot.press("escape")
    titles = [c.title for c in app.get_system_commands(app.screen)]
    assert "Records" in titles and "Compose" in titles


async def test_saved_settings_reach_the_engine(demo: Any) -> None:
    app, _, bridge = demo
    await async_wait_until(lambda: bridge.crm.logger is not None, timeout=20,
                           what="the CRM logger")
    app.save_settings(UiSettings(logging_mode="all_contacts", never_log=("@spam.example",),
                                 log_attachments=True))

    def engine_rules() -> Any:
        logger = bridge.crm.logger
        return logger.rules if logger is not None else None

    await async_wait_until(lambda: (r := engine_rules()) is not None
                           and r.mode is Mode.ALL_CONTACTS, what="the new rules on the engine")
    rules = engine_rules()
    assert "@spam.example" in rules.never_log and rules.log_attachments and rules.inbox_connected


def test_logging_modes_map_onto_the_engine_rules() -> None:
    assert crm_rules("off", (), False).inbox_connected is False
    assert crm_rules("replies_only", ("A@B.example",), False).mode is Mode.REPLIES_ONLY
    assert crm_rules("replies_only", ("A@B.example",), False).never_log == {"a@b.example"}
    assert crm_rules("all_contacts", (), False).mode is Mode.ALL_CONTACTS
    with pytest.raises(BadInput, match="logging mode"):
        crm_rules("full", (), True)  # the old TUI name: migrated on load, never sent on
    with pytest.raises(BadInput, match="logging mode"):
        crm_rules("everything", (), True)


def test_connect_from_the_command_line_can_name_an_smtp_server(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXLAB_PASSWORD", "from-env")
    settings, secret = account_from_cli("imaps://mail.example.com", "me@example.com",
                                        "smtps://mail.example.com:465")
    assert settings.smtp is not None and (settings.smtp.port, settings.smtp.security) == \
        (465, "tls")
    assert "from-env" not in repr(secret)
    with pytest.raises(EngineError, match="smtp"):
        account_from_cli("imaps://mail.example.com", "me@example.com", "smtp://a b")


# -- snapshot (scripted, no sockets) -------------------------------------------------------------

CONTACTS = (v.ContactView(1, DANA, "Dana Buyer", "Acme", 2),
            v.ContactView(2, "lee@globex.example", "Lee Park", "Globex", 0))
EMAILS = (
    v.EmailView(1, "<1@example.com>", 7, "outgoing", "user@example.com",
                "Renewal quote for Acme", "sent from the CRM", "", ()),
    v.EmailView(2, "<2@acme.example>", 7, "incoming", DANA, "Re: Renewal quote for Acme",
                "In-Reply-To names <1@example.com> of thread 7", "", ("quote.pdf (12,345 B)",)),
)
THREAD = v.ThreadLinesView(7, "Renewal quote for Acme", (
    v.ThreadEntryView("<1@example.com>", "logged", "user@example.com", "", "sent from the CRM"),
    v.ThreadEntryView("<2@acme.example>", "logged", DANA, "",
                      "In-Reply-To names <1@example.com> of thread 7"),
    v.ThreadEntryView("<3@other.example>", "flagged", "", "",
                      "forwarded: Fwd: subject with a new participant; flagged, not joined"),
))


class ScriptedCrm:
    def __init__(self, target: Any) -> None:
        self.target = target

    def template_names(self) -> list[str]:
        return ["renewal", "check-in"]

    def load_contacts(self, offset: int = 0) -> None:
        self.target.post_message(cm.ContactsLoaded(0, CONTACTS))

    def load_timeline(self, contact_id: int) -> None:
        self.target.post_message(cm.TimelineLoaded(contact_id,
                                                    EMAILS if contact_id == 1 else ()))

    def load_thread(self, thread_id: int) -> None:
        self.target.post_message(cm.ThreadLoaded(THREAD))

    def preview(self, template: str, contact_ids: Any) -> None: ...
    def send(self, template: str, contact_ids: Any) -> None: ...


def test_the_attachment_switch_has_one_default_everywhere() -> None:
    from inboxlab.engine.crm.rules import LoggingRules

    assert UiSettings().log_attachments is True
    assert LoggingRules().log_attachments is True
    assert crm_rules(UiSettings().logging_mode, (), UiSettings().log_attachments) \
        .log_attachments is True


class WhyNoFilesCrm(ScriptedCrm):
    NOTE = ("email is 63,743,399 bytes, over the 50 MB (50,000,000 bytes) limit: logged "
            "without attachments")

    def load_timeline(self, contact_id: int) -> None:
        self.target.post_message(cm.TimelineLoaded(contact_id, (
            v.EmailView(9, "<9@acme.example>", 7, "incoming", DANA, "Big drawings",
                        "In-Reply-To names <1@example.com>", self.NOTE, ()),)))


async def test_the_timeline_says_why_an_attachment_is_missing() -> None:
    app = InboxLabApp(ScriptedBridge(), cursor_blink=False,  # type: ignore[arg-type]
                      clock=lambda: AT)
    app.crm_actions = WhyNoFilesCrm(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        timeline = app.screen.query_one("#timeline", DataTable)
        await async_wait_until(lambda: timeline.row_count == 1, what="the timeline row")
        assert str(timeline.get_row("9")[4]) == f"none: {WhyNoFilesCrm.NOTE}"


def test_records_snapshot(snap_compare: Any) -> None:
    app = InboxLabApp(ScriptedBridge(), cursor_blink=False,  # type: ignore[arg-type]
                      clock=lambda: AT)
    app.theme = "textual-dark"
    app.crm_actions = ScriptedCrm(app)

    async def before(pilot: Any) -> None:
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        screen = pilot.app.screen
        timeline = screen.query_one("#timeline", DataTable)
        timeline.focus()
        timeline.move_cursor(row=1)
        await pilot.press("enter")
        await pilot.pause()
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(110, 34), run_before=before)


async def test_a_marked_list_of_records_is_the_compose_recipients() -> None:
    app = InboxLabApp(ScriptedBridge(), cursor_blink=False,  # type: ignore[arg-type]
                      clock=lambda: AT)
    app.crm_actions = ScriptedCrm(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        contacts = app.screen.query_one("#contacts", DataTable)
        await async_wait_until(lambda: contacts.row_count == 2, what="two contacts")
        contacts.focus()
        await pilot.press("space", "j")
        await async_wait_until(lambda: app.screen.contact_id == 2,  # type: ignore[attr-defined]
                               what="the second record selected")
        await pilot.press("space")
        assert app.screen.marked == {1, 2}  # type: ignore[attr-defined]
        assert str(contacts.get_row("1")[0]).startswith("* ")
        await pilot.press("m")
        assert isinstance(app.screen, ComposeScreen)
        assert app.screen.recipients == (1, 2)
