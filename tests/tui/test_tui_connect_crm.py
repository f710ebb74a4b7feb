"""The CRM on a real mailbox: ``inboxlab connect`` (EngineBridge with account settings, not
a scenario) against the fake servers over loopback, driven through the screens.

Add a contact on Records, send to it from Compose, the persona replies, and the reply
shows on the record; the BCC logging endpoint started with the account (its address on
the dashboard) logs a BCC'd mail to two contacts on both records. Issue 20: before, a real
mailbox had no way to add a contact, Compose showed "To: nobody yet", and nothing
started the logging endpoint.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Label, OptionList
from waiting import async_wait_until

from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer, SmtpServer
from inboxlab.fakeserver.scenario.load import load
from inboxlab.fakeserver.scenario.serve import ScenarioServer
from inboxlab.scenarios import path_of
from inboxlab.tui import views as v
from inboxlab.tui.app import InboxLabApp
from inboxlab.tui.bridge import EngineBridge
from inboxlab.tui.bridge.crm import BccConfig
from inboxlab.tui.screens.compose import ComposeScreen
from inboxlab.tui.screens.contact_form import ContactForm
from inboxlab.tui.screens.records import RecordsScreen

SIZE = (140, 40)
DANA = "dana@acme.example"  # the demo scenario's persona: answers what it is sent
LOG = "log@bcc.example.com"


@pytest.fixture
async def connected(tmp_path: Path) -> AsyncIterator[tuple[InboxLabApp, Pilot[Any], str]]:
    server = ScenarioServer(load(path_of("demo")))
    await server.start()
    try:
        account = server.scenario.accounts[0]
        assert server.smtp is not None
        settings = AccountSettings(
            username=account.username, imap=ImapServer(server.host, server.tls_port, "tls"),
            smtp=SmtpServer(server.host, server.smtp.tls_port, "tls"))
        bridge = EngineBridge(settings=settings, secret=Secret(account.password or ""),
                              scenario=None, data_dir=tmp_path / "data",
                              cafile=str(server.ca_pem_path),
                              bcc=BccConfig(LOG, "127.0.0.1", 0))
        app = InboxLabApp(bridge, cursor_blink=False)
        try:
            async with app.run_test(size=SIZE) as pilot:
                yield app, pilot, account.username
        finally:
            bridge.stop()
    finally:
        await server.stop()


def timeline(app: InboxLabApp, email: str) -> tuple[v.EmailView, ...]:
    who = next((c for c in app.crm_model.contacts if c.email == email), None)
    return app.crm_model.timelines.get(who.id, ()) if who is not None else ()


async def test_add_a_contact_send_and_the_reply_shows_on_the_record(connected: Any) -> None:
    app, pilot, user = connected
    await async_wait_until(lambda: LOG in app.model.bcc, timeout=30, what="the BCC endpoint")
    assert LOG in str(app.screen.query_one("#endpoint", Label).render())  # on the dashboard
    await pilot.press("r")
    assert isinstance(app.screen, RecordsScreen)
    await pilot.press("a")
    assert isinstance(app.screen, ContactForm)
    await pilot.press(*DANA, "tab", *"Dana Buyer", "tab", *"Acme Corp", "enter")
    await async_wait_until(lambda: any(c.email == DANA for c in app.crm_model.contacts),
                           timeout=20, what="the new contact on Records")
    dana = next(c for c in app.crm_model.contacts if c.email == DANA)
    assert (dana.name, dana.company) == ("Dana Buyer", "Acme Corp")
    contacts = app.screen.query_one("#contacts", DataTable)
    contacts.focus()
    await pilot.press("m")
    assert isinstance(app.screen, ComposeScreen)
    assert app.screen.recipients == (dana.id,)
    templates = app.screen.query_one("#templates", OptionList)
    templates.focus()
    await pilot.press("g", "enter")  # the first template: check-in
    assert app.screen.template == "check-in", app.screen.template
    await pilot.press("x")
    await async_wait_until(lambda: any(o.to == DANA and o.state == "logged"
                                       for o in app.crm_model.outbox.values()),
                           timeout=30, what="the send through the outbox to logged")
    await pilot.press("r")
    await async_wait_until(lambda: any(e.direction == "incoming" and e.sender == DANA
                                       for e in timeline(app, DANA)),
                           timeout=40, what="Dana's reply on her record")
    assert [e.direction for e in timeline(app, DANA)] == ["outgoing", "incoming"]

    # A mail sent from another client with the logging address in BCC, to two people.
    port = int(app.model.bcc.rsplit(":", 1)[1].rstrip(")"))
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = user, f"{DANA}, Lee <lee@globex.example>", "Visit"
    msg["Message-ID"] = "<phone-visit-1@example.com>"
    msg.set_content("See you both on Tuesday.")
    await aiosmtplib.send(msg, hostname="127.0.0.1", port=port, sender=user,
                          recipients=[LOG], timeout=20)

    def counts() -> dict[str, int]:
        return {c.email: c.emails for c in app.crm_model.contacts}

    await async_wait_until(lambda: counts().get(DANA) == 3
                           and counts().get("lee@globex.example") == 1,
                           timeout=20, what="the BCC'd mail on both records")
    crm = app.crm_actions
    assert crm is not None
    for who in (DANA, "lee@globex.example"):
        contact = next(c for c in app.crm_model.contacts if c.email == who)
        crm.load_timeline(contact.id)
        await async_wait_until(lambda w=who: any(e.subject == "Visit" for e in timeline(app, w)),
                               what=f"the BCC'd mail on {who}'s timeline")
    assert all(c.email != LOG for c in app.crm_model.contacts)


async def test_compose_to_any_address_creates_a_tracked_contact(connected: Any) -> None:
    app, pilot, _ = connected
    await pilot.press("m")
    assert isinstance(app.screen, ComposeScreen)
    await pilot.press("t", *DANA, "enter")  # typed, not a contact yet
    assert app.screen.addresses == (DANA,)
    await pilot.press("g", "enter", "x")
    await async_wait_until(lambda: any(o.to == DANA and o.state == "logged"
                                       for o in app.crm_model.outbox.values()),
                           timeout=30, what="the send to the typed address")
    await pilot.press("r")
    await async_wait_until(lambda: any(e.direction == "incoming" for e in timeline(app, DANA)),
                           timeout=40, what="the persona's reply on the new contact")


async def test_import_contacts_from_csv_and_edit_one(connected: Any, tmp_path: Path) -> None:
    app, pilot, _ = connected
    csv = tmp_path / "contacts.csv"
    csv.write_text("email,name,company\nkim@initech.example,Kim Lee,Initech\n"
                   "bad row,x,y\nsam@umbrella.example,Sam Roe,\n", encoding="utf-8")
    await pilot.press("r", "i", *str(csv), "enter")
    await async_wait_until(lambda: {"kim@initech.example", "sam@umbrella.example"}
                           <= {c.email for c in app.crm_model.contacts},
                           timeout=20, what="the imported contacts")
    assert any("line 3" in p for p in app.crm_model.problems)  # the bad row, by line
    contacts = app.screen.query_one("#contacts", DataTable)
    contacts.focus()
    sam = next(c for c in app.crm_model.contacts if c.email == "sam@umbrella.example")
    contacts.move_cursor(row=contacts.get_row_index(str(sam.id)))
    await pilot.press("e")
    assert isinstance(app.screen, ContactForm)
    await pilot.press("tab", *"Umbrella Ltd", "enter")
    await async_wait_until(lambda: any(c.email == sam.email and c.company == "Umbrella Ltd"
                                       for c in app.crm_model.contacts),
                           timeout=20, what="the edited company on Records")
