"""A small form over the Records screen: add or edit a contact, or import a CSV file.

It only collects what a person typed and dismisses with it (``ContactForm.Result``, or the
CSV path); the Records screen decides what to ask of the CRM. Escape cancels.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


@dataclass(frozen=True)
class ContactInput:
    email: str
    name: str
    company: str


class ContactForm(ModalScreen[ContactInput | None]):
    """Add (``email`` empty) or edit (``email`` given, not editable) a contact."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="contact_form.cancel")]
    DEFAULT_CSS = """
    ContactForm { align: center middle; }
    #contact-form { width: 60; height: auto; border: round $primary; padding: 1 2;
                    background: $surface; }
    """

    def __init__(self, email: str = "", name: str = "", company: str = "") -> None:
        super().__init__()
        self._email, self._name, self._company = email, name, company

    def compose(self) -> ComposeResult:
        with Vertical(id="contact-form"):
            yield Label("Edit contact" if self._email else "Add a contact")
            yield Input(self._email, placeholder="email (name@example.com)", id="form-email",
                        disabled=bool(self._email))
            yield Input(self._name, placeholder="name", id="form-name")
            yield Input(self._company, placeholder="company (default: from the domain)",
                        id="form-company")
            yield Static("Tab to the next field, Enter saves, Escape cancels",
                         classes="caption")

    def on_mount(self) -> None:
        self.query_one("#form-name" if self._email else "#form-email", Input).focus()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        email = self.query_one("#form-email", Input).value.strip()
        if "@" not in email:
            self.notify(f"{email!r} is not an email address", severity="warning", markup=False)
            return
        self.dismiss(ContactInput(email, self.query_one("#form-name", Input).value.strip(),
                                  self.query_one("#form-company", Input).value.strip()))

    def action_cancel(self) -> None:
        self.dismiss(None)


class CsvForm(ModalScreen[str | None]):
    """The path of a CSV file to import (columns: email, name, company)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="csv_form.cancel")]
    DEFAULT_CSS = """
    CsvForm { align: center middle; }
    #csv-form { width: 70; height: auto; border: round $primary; padding: 1 2;
                background: $surface; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="csv-form"):
            yield Label("Import contacts from a CSV file (header: email,name,company)")
            yield Input(placeholder="path/to/contacts.csv", id="csv-path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


__all__ = ["ContactForm", "ContactInput", "CsvForm"]
