"""The message view: "why did this reply (not) thread?" answered on one screen.

Message-ID, In-Reply-To and References (what threading reads), the CRM's tracking
decision with the engine's reason, size, flags and folder. Reached with Enter in the
folder browser and with ``v`` on a Records timeline email; ``q``/Escape goes back.
Server text is shown as plain text, never parsed as markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from inboxlab.tui import messages as m
from inboxlab.tui.screens.base import KeyScreen

DECISION_STYLE = {"logged": "green", "tracked": "green", "would join": "green",
                  "refused": "red", "malformed": "magenta", "flagged": "yellow",
                  "would be flagged": "yellow", "not tracked": "dim"}


def message_text(view: m.MessageView) -> Text:
    text = Text()
    if view.problem:
        text.append(f"{view.problem}\n\n", style="bold red")

    def field(name: str, value: str) -> None:
        text.append(f"{name:<13}", style="bold")
        text.append(f"{value}\n")

    where = view.folder + (f"  UID {view.uid}" if view.uid is not None else "")
    field("Folder", where or "-")
    field("Subject", view.subject or "-")
    field("From", view.sender or "-")
    field("Date", view.date or "-")
    field("Size", "-" if view.size is None else f"{view.size:,} bytes")
    field("Flags", " ".join(view.flags) or "(none: unread)")
    text.append("\n")
    field("Message-ID", view.message_id or "(none)")
    field("In-Reply-To", " ".join(view.in_reply_to) or "(none)")
    if view.references:
        text.append(f"{'References':<13}", style="bold")
        text.append(f"{len(view.references)}, oldest first\n")
        for ref in view.references:
            text.append(f"  {ref}\n")
    else:
        field("References", "(none)")
    text.append("\n")
    text.append(f"{'Tracking':<13}", style="bold")
    text.append(view.decision, style=f"bold {DECISION_STYLE.get(view.decision, '')}".strip())
    text.append("\n")
    field("Why", view.reason or "-")
    return text


class MessageScreen(KeyScreen):
    BINDINGS = [
        Binding("escape", "app.back_or_quit", "Back", id="message.back"),
        Binding("j,down", "scroll(1)", "Down", id="message.down", show=False),
        Binding("k,up", "scroll(-1)", "Up", id="message.up", show=False),
    ]

    def __init__(self, *, folder: str = "", uid: int | None = None,
                 message_id: str = "") -> None:
        super().__init__()
        self.folder, self.uid, self.message_id = folder, uid, message_id
        self.view: m.MessageView | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        what = self.message_id or f"UID {self.uid} in {self.folder}"
        yield VerticalScroll(Static(Text(f"Reading {what}..."), id="message"), id="message-box")
        yield Footer()

    def on_mount(self) -> None:
        bridge = self.inbox_app.bridge
        if self.message_id:
            bridge.find_message(self.message_id, self)
        elif self.uid is not None:
            bridge.open_message(self.folder, self.uid, self)

    def on_message_opened(self, msg: m.MessageOpened) -> None:
        self.view = msg.view
        self.query_one("#message", Static).update(message_text(msg.view))

    def action_scroll(self, lines: int) -> None:
        box = self.query_one("#message-box", VerticalScroll)
        box.scroll_relative(y=lines, animate=False)
