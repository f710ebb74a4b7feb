"""Records: contacts, each one's timeline of logged emails, and the thread view.

The contact list is a page of the CRM's contacts (``CONTACT_PAGE`` rows, a DataTable
page, never the whole table). The thread view shows why each message joined, or was
refused or flagged (the forward-reuse case): the engine's words, nothing re-derived.
Widgets post; this screen asks the CRM bridge and renders ``app.crm_model``.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Footer, Header, Static

from inboxlab.tui import views as v
from inboxlab.tui.screens.contact_form import ContactForm, ContactInput, CsvForm
from inboxlab.tui.screens.find import FindScreen
from inboxlab.tui.widgets.lists import OpenTable

STATUS_STYLE = {"logged": "green", "refused": "red", "flagged": "yellow", "malformed": "magenta"}


def thread_text(view: v.ThreadLinesView | None) -> Text:
    """The thread view as text: one block per message, its status and the reason."""
    text = Text()
    if view is None:
        text.append("Select an email and press Enter to see its thread.", style="dim")
        return text
    text.append(f"Thread {view.thread_id}: {view.subject}\n", style="bold")
    for e in view.entries:
        text.append(f"[{e.status}] ", style=STATUS_STYLE.get(e.status, ""))
        text.append(f"{e.who or '(unknown sender)'}  {e.message_id or '(no Message-ID)'}\n")
        text.append(f"    why: {e.reason}\n", style="dim")
    return text


def attachment_cell(email: v.EmailView) -> str:
    """The files, or why there are none: the engine stores the reason (over the 50 MB
    limit, attachment logging switched off, size unknown) in the email's notes."""
    if email.attachments:
        return ", ".join(email.attachments)
    return f"none: {email.notes}" if email.notes else "-"


class RecordsScreen(FindScreen):
    CSS_PATH = "crm.tcss"
    BINDINGS = [
        Binding("j", "cursor('down')", "Down", id="records.down", show=False),
        Binding("k", "cursor('up')", "Up", id="records.up", show=False),
        Binding("g", "edge('top')", "First", id="records.first", show=False),
        Binding("G", "edge('bottom')", "Last", id="records.last", show=False),
        Binding("tab", "switch_pane", "Contacts/Timeline", id="records.pane"),
        Binding("m", "compose", "Compose", id="records.compose"),
        Binding("a", "add_contact", "Add contact", id="records.add"),
        Binding("e", "edit_contact", "Edit contact", id="records.edit"),
        Binding("i", "import_csv", "Import CSV", id="records.import"),
        Binding("space", "mark", "Mark for a list", id="records.mark"),
        Binding("R", "reload", "Reload", id="records.reload"),
        Binding("v", "view_message", "View message", id="records.message"),
        Binding("escape", "app.back_or_quit", "Back", id="records.back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="records")
        self.contact_id: int | None = None
        self.thread_id: int | None = None
        self.marked: set[int] = set()  # the list a template goes to (space marks)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="records-top"):
            with Vertical(id="records-left"):
                yield Static("Contacts", classes="caption")
                yield OpenTable(id="contacts", name="Contacts", cursor_type="row",
                                zebra_stripes=True)
            with Vertical(id="records-right"):
                yield Static("Timeline", classes="caption", id="timeline-title")
                yield OpenTable(id="timeline", name="the timeline", cursor_type="row")
                yield Static(thread_text(None), id="thread")
        yield from self.find_bar()
        yield Footer()

    def on_mount(self) -> None:
        contacts = self.query_one("#contacts", DataTable)
        contacts.add_columns("Name", "Email", "Company", "Emails")
        timeline = self.query_one("#timeline", DataTable)
        timeline.add_columns("", "From", "Subject", "Why logged", "Attachments")
        self.show_model(self.inbox_app.model)
        self.action_reload()

    def on_screen_resume(self) -> None:
        self.show_model(self.inbox_app.model)
        self.action_reload()

    # -- rendering the model ----------------------------------------------------------------

    def show_model(self, _model: Any) -> None:
        crm = self.inbox_app.crm_model
        table = self.query_one("#contacts", DataTable)
        if self._contacts_changed(crm):
            row = table.cursor_row
            table.clear()
            for c in crm.contacts:
                mark = "* " if c.id in self.marked else ""
                table.add_row(f"{mark}{c.name or '-'}", c.email, c.company or "-",
                              str(c.emails), key=str(c.id))
            if crm.contacts:
                table.move_cursor(row=min(max(row, 0), len(crm.contacts) - 1))
        if self.contact_id is None and crm.contacts:
            self._select_contact(crm.contacts[0].id)
        self._show_timeline()
        self.query_one("#thread", Static).update(
            thread_text(crm.threads.get(self.thread_id) if self.thread_id else None))

    def _contacts_changed(self, crm: v.CrmModel) -> bool:
        shown = getattr(self, "_shown_contacts", None)
        self._shown_contacts = crm.contacts
        return shown != crm.contacts

    def _show_timeline(self) -> None:
        crm = self.inbox_app.crm_model
        emails = crm.timelines.get(self.contact_id, ()) if self.contact_id else ()
        table = self.query_one("#timeline", DataTable)
        if getattr(self, "_shown_timeline", None) == (self.contact_id, emails):
            return
        self._shown_timeline = (self.contact_id, emails)
        row = table.cursor_row
        table.clear()
        for e in emails:
            arrow = "->" if e.direction == "outgoing" else "<-"
            files = attachment_cell(e)
            table.add_row(arrow, e.sender, e.subject, e.join_reason, files, key=str(e.id))
        if emails:
            table.move_cursor(row=min(max(row, 0), len(emails) - 1))
        who = next((c for c in crm.contacts if c.id == self.contact_id), None)
        title = f"Timeline of {who.name or who.email}" if who else "Timeline"
        self.query_one("#timeline-title", Static).update(
            f"{title} ({len(emails)} email{'' if len(emails) == 1 else 's'})")

    # -- intents ------------------------------------------------------------------------------

    def _select_contact(self, contact_id: int) -> None:
        if contact_id != self.contact_id:
            self.thread_id = None
        self.contact_id = contact_id
        crm = self.inbox_app.crm_actions
        if crm is not None:
            crm.load_timeline(contact_id)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "contacts" and event.row_key.value is not None:
            self._select_contact(int(event.row_key.value))
            self._show_timeline()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "contacts":
            self.query_one("#timeline", DataTable).focus()
            return
        emails = self.inbox_app.crm_model.timelines.get(self.contact_id or -1, ())
        chosen = next((e for e in emails if str(e.id) == event.row_key.value), None)
        crm = self.inbox_app.crm_actions
        if chosen is not None and crm is not None:
            self.thread_id = chosen.thread_id
            crm.load_thread(chosen.thread_id)

    def action_view_message(self) -> None:
        """The highlighted timeline email as the message view (headers, decision, flags)."""
        from inboxlab.tui.screens.message import MessageScreen

        table = self.query_one("#timeline", DataTable)
        emails = self.inbox_app.crm_model.timelines.get(self.contact_id or -1, ())
        if not table.row_count or not emails:
            self.notify("Select a logged email on the timeline first.", markup=False)
            return
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        chosen = next((e for e in emails if str(e.id) == key), None)
        if chosen is None or not chosen.message_id:
            self.notify("This email has no Message-ID to look up.", markup=False)
            return
        self.app.push_screen(MessageScreen(message_id=chosen.message_id))

    def action_edge(self, where: str) -> None:
        table = self.focused if isinstance(self.focused, DataTable) else \
            self.query_one("#contacts", DataTable)
        table.move_cursor(row=0 if where == "top" else max(0, table.row_count - 1))

    def action_cursor(self, direction: str) -> None:
        focused = self.focused if isinstance(self.focused, DataTable) else \
            self.query_one("#contacts", DataTable)
        if direction == "down":
            focused.action_cursor_down()
        else:
            focused.action_cursor_up()

    def action_switch_pane(self) -> None:
        contacts = self.query_one("#contacts", DataTable)
        target = "#timeline" if self.focused is contacts else "#contacts"
        self.query_one(target, DataTable).focus()

    def action_reload(self) -> None:
        crm = self.inbox_app.crm_actions
        if crm is None:
            return
        crm.load_contacts()
        if self.contact_id is not None:
            crm.load_timeline(self.contact_id)
        if self.thread_id is not None:
            crm.load_thread(self.thread_id)

    def action_compose(self) -> None:
        if self.marked:
            self.inbox_app.compose_to(tuple(sorted(self.marked)))
        elif self.contact_id is not None:
            self.inbox_app.compose_to((self.contact_id,))
        else:
            self.inbox_app.compose_to(())  # compose to any address typed there

    def action_mark(self) -> None:
        if self.contact_id is None:
            return
        self.marked ^= {self.contact_id}
        self._shown_contacts = ()  # repaint the marks
        self.show_model(None)
        self.notify(f"{len(self.marked)} record(s) marked: m composes to them", timeout=2)

    def _current(self) -> v.ContactView | None:
        return next((c for c in self.inbox_app.crm_model.contacts if c.id == self.contact_id),
                    None)

    def action_add_contact(self) -> None:
        def done(result: ContactInput | None) -> None:
            crm = self.inbox_app.crm_actions
            if result is not None and crm is not None:
                crm.add_contact(result.email, result.name, result.company)

        self.app.push_screen(ContactForm(), done)

    def action_edit_contact(self) -> None:
        who = self._current()
        if who is None:
            self.notify("No record selected", severity="warning")
            return

        def done(result: ContactInput | None) -> None:
            crm = self.inbox_app.crm_actions
            if result is not None and crm is not None and who is not None:
                crm.edit_contact(who.id, result.name, result.company)

        self.app.push_screen(ContactForm(who.email, who.name, who.company or ""), done)

    def action_import_csv(self) -> None:
        def done(path: str | None) -> None:
            crm = self.inbox_app.crm_actions
            if path and crm is not None:
                crm.import_csv(path)

        self.app.push_screen(CsvForm(), done)
