"""Compose and templates: pick a template, preview it per contact, send or bulk send.

Opened from a record (``m`` on the Records screen) with that record (or the marked list)
as the recipients, or on its own (then ``a`` takes every contact: a bulk send). Any
address typed in the To field (``t`` focuses it; commas between several) becomes a
contact when the mail is sent, and its thread is tracked like any other. The outbox
table shows each mail's state from the engine's outbox state table as it moves (queued, submitted,
copied, logged), fed by the outbox's own transition events. A send to more than one
record asks first, with the count; so does the same template to the same records again
within ``REPEAT_WINDOW`` (two presses of ``x`` are one send unless the person says so).
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Input, OptionList, Static

from inboxlab.tui import views as v
from inboxlab.tui.screens.base import ModelScreen
from inboxlab.tui.screens.confirm import ConfirmScreen
from inboxlab.tui.widgets.lists import ChoiceList

REPEAT_WINDOW = 120.0  # s: the same template to the same people again within this asks first
STATE_STYLE = {"queued": "dim", "submitted": "cyan", "copied": "blue", "logged": "green",
               "failed": "red", "uncertain": "yellow"}


def preview_text(template: str, previews: tuple[v.PreviewView, ...]) -> Text:
    text = Text()
    if not template:
        text.append("Pick a template (Enter) to preview it for each recipient.", style="dim")
        return text
    for p in previews:
        text.append(f"To {p.email}\n", style="bold")
        if p.error:
            text.append(f"  cannot render: {p.error}\n\n", style="red")
            continue
        text.append(f"Subject: {p.subject}\n")
        text.append(p.text.rstrip() + "\n\n", style="dim")
    return text


class ComposeScreen(ModelScreen):
    CSS_PATH = "crm.tcss"
    monotonic = staticmethod(time.monotonic)  # tests replace it
    AUTO_FOCUS = "#templates"  # keys act on the screen; t focuses the To field
    BINDINGS = [
        Binding("x", "send", "Send", id="compose.send"),
        Binding("a", "all_contacts", "All contacts (bulk)", id="compose.all"),
        Binding("t", "focus_to", "To: any address", id="compose.to"),
        Binding("j", "cursor('down')", "Down", id="compose.down", show=False),
        Binding("k", "cursor('up')", "Up", id="compose.up", show=False),
        Binding("g", "cursor('first')", "First", id="compose.first", show=False),
        Binding("escape", "app.back_or_quit", "Back", id="compose.back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="compose")
        self.recipients: tuple[int, ...] = ()
        self.addresses: tuple[str, ...] = ()  # typed: not contacts yet
        self.template = ""
        # (template, recipients) -> when it was last sent: a second press asks first.
        self._last_sent: dict[tuple[str, tuple[int, ...]], float] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="compose-to")
        yield Input(placeholder="To: any address (t), e.g. pat@example.com, lee@example.org",
                    id="compose-address")
        with Horizontal(id="compose-top"):
            with Vertical(id="compose-left"):
                yield Static("Templates", classes="caption")
                yield ChoiceList(id="templates", name="the templates")
            with VerticalScroll(id="compose-preview"):
                yield Static(preview_text("", ()), id="preview")
        yield Static("Outbox", classes="caption")
        yield DataTable(id="outbox", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        crm = self.inbox_app.crm_actions
        names = crm.template_names() if crm is not None else []
        self.query_one("#templates", OptionList).add_options(names)
        self.query_one("#outbox", DataTable).add_columns("State", "To", "Subject", "Message-ID",
                                                         "Problem")
        self.show_model(None)

    def on_screen_resume(self) -> None:
        self.show_model(None)

    def set_recipients(self, contact_ids: tuple[int, ...]) -> None:
        self.recipients = contact_ids
        self._preview()
        if self.is_mounted:
            self.show_model(None)

    # -- rendering ----------------------------------------------------------------------------

    def show_model(self, _model: Any) -> None:
        crm = self.inbox_app.crm_model
        by_id = {c.id: c for c in crm.contacts}
        names = [by_id[i].email if i in by_id else f"record {i}" for i in self.recipients]
        names += [f"{a} (new contact)" for a in self.addresses]
        to = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        self.query_one("#compose-to", Static).update(
            f"To: {to}" if names else "To: nobody yet - type an address (t), open a record "
            "(r, then m) or press a")
        shown = crm.previews if crm.preview_template == self.template else ()
        self.query_one("#preview", Static).update(preview_text(self.template, shown))
        table = self.query_one("#outbox", DataTable)
        rows = list(crm.outbox.values())
        if getattr(self, "_shown_outbox", None) != rows:
            self._shown_outbox = rows
            table.clear()
            for o in rows:
                table.add_row(Text(o.state, style=STATE_STYLE.get(o.state, "")), o.to,
                              o.subject, o.message_id, o.error or "", key=o.message_id)

    # -- intents ------------------------------------------------------------------------------

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.template = str(event.option.prompt)
        self._preview()
        self.show_model(None)

    def _preview(self) -> None:
        crm = self.inbox_app.crm_actions
        if crm is not None and self.template and self.recipients:
            crm.preview(self.template, self.recipients)

    def action_send(self) -> None:
        crm = self.inbox_app.crm_actions
        if crm is None:
            return
        if not self.template:
            self.notify("Pick a template first (Enter on one)", severity="warning")
            return
        if not self.recipients and not self.addresses:
            self.notify("No recipients: type an address (t), compose from a record, or "
                        "press a", severity="warning")
            return
        what = (self.template, self.recipients)
        count = len(self.recipients) + len(self.addresses)
        questions = []
        if count > 1:
            questions.append(f"Send {self.template!r} to {count} recipients?")
        last = self._last_sent.get(what)
        now = self.monotonic()
        if last is not None and now - last < REPEAT_WINDOW:
            questions.append(f"You sent {self.template!r} to the same "
                             f"{'recipients' if count > 1 else 'record'} {now - last:.0f} s "
                             "ago. Send it again?")
        if not questions:
            self._send(*what)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._send(*what)

        self.app.push_screen(ConfirmScreen("\n".join(questions)), answered)

    def _send(self, template: str, recipients: tuple[int, ...]) -> None:
        crm = self.inbox_app.crm_actions
        if crm is None:
            return
        self._last_sent[(template, recipients)] = self.monotonic()
        if self.addresses:  # typed addresses: each becomes a contact, then the same send
            crm.send_to(template, recipients, self.addresses)
            self.notify(f"Sending {template!r} to {len(recipients) + len(self.addresses)} "
                        "recipient(s)", markup=False, timeout=3)
            return
        crm.send(template, recipients)
        self.notify(f"Sending {template!r} to {len(recipients)} record(s)",
                    markup=False, timeout=3)

    def action_focus_to(self) -> None:
        self.query_one("#compose-address", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        typed = [a.strip() for a in event.value.replace(";", ",").split(",") if a.strip()]
        bad = [a for a in typed if "@" not in a or " " in a]
        if bad:
            self.notify(f"not an email address: {', '.join(bad)}", severity="warning",
                        markup=False)
            return
        self.addresses = tuple(dict.fromkeys(a.lower() for a in typed))
        self.query_one("#templates", OptionList).focus()
        self.show_model(None)

    def action_all_contacts(self) -> None:
        self.set_recipients(tuple(c.id for c in self.inbox_app.crm_model.contacts))

    def action_cursor(self, direction: str) -> None:
        options = self.query_one("#templates", OptionList)
        if direction == "first":
            options.highlighted = 0 if options.option_count else None
        elif direction == "down":
            options.action_cursor_down()
        else:
            options.action_cursor_up()
