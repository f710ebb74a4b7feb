"""Settings: the person's choices, saved under XDG_CONFIG_HOME (never a password).

Fields are checked by ``tui.settings_store.UiSettings`` on save; a bad value is named
with its fix and nothing is written.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static, Switch

from inboxlab.tui.errors import SettingsError
from inboxlab.tui.screens.base import KeyScreen
from inboxlab.tui.settings_store import LOGGING_MODES, MODE_LABELS, UiSettings


def _split(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


class SettingsScreen(KeyScreen):
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="settings.save"),
        Binding("escape", "app.back_or_quit", "Back", id="settings.back"),
    ]

    def __init__(self) -> None:
        super().__init__(id="settings")

    def compose(self) -> ComposeResult:
        s = self.inbox_app.settings
        yield Header()
        with VerticalScroll(id="settings-form"):
            yield Label("Extra folders to watch (comma-separated; INBOX and Sent always; "
                        "empty: just those, or every folder on the demo mailbox)")
            yield Input(", ".join(s.watched_folders), id="watched")
            with Horizontal(classes="switch-row"):
                yield Switch(s.log_attachments, id="attachments")
                yield Label("Log attachments to the CRM")
            yield Label("Logging mode")
            yield Select([(MODE_LABELS[m], m) for m in LOGGING_MODES], value=s.logging_mode,
                         allow_blank=False, id="mode")
            yield Label("Never log these addresses or @domains (comma-separated)")
            yield Input(", ".join(s.never_log), id="never")
            yield Label("Sent folder override (empty: detected from the server)")
            yield Input(s.sent_folder or "", id="sent")
            yield Button("Save", id="save", variant="primary")
            yield Static("", id="settings-status")
        yield Footer()

    def on_mount(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = self.inbox_app.cursor_blink
        store = self.inbox_app.settings_store
        where = str(store.path) if store is not None else "(not saved: no settings store)"
        self.query_one("#settings-status", Static).update(Text(f"file: {where}"))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        status = self.query_one("#settings-status", Static)
        mode = self.query_one("#mode", Select).value
        try:
            settings = UiSettings(
                watched_folders=_split(self.query_one("#watched", Input).value),
                log_attachments=self.query_one("#attachments", Switch).value,
                logging_mode=str(mode),
                never_log=_split(self.query_one("#never", Input).value),
                sent_folder=self.query_one("#sent", Input).value.strip() or None,
            )
            where = self.inbox_app.save_settings(settings)
        except SettingsError as exc:
            fix = f" - {exc.remediation}" if exc.remediation else ""
            status.update(Text(f"{exc}{fix}", style="red"))
            return
        status.update(Text(f"saved to {where}", style="green"))
