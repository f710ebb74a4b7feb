"""The connection-state badge: label and colour straight from the engine's STATE_INFO."""

from __future__ import annotations

from rich.color import Color, ColorParseError
from rich.text import Text
from textual.widgets import Static

from inboxlab.tui.messages import StateView


def colour(name: str) -> str:
    """The engine's plain colour name as Rich knows it ("grey" is not one; "grey50" is)."""
    for candidate in (name, f"{name}50"):
        try:
            Color.parse(candidate)
            return candidate
        except ColorParseError:
            continue
    return "white"


class StateBadge(Static):
    """Shows one ``StateView``; the tone becomes a CSS class for the border colour."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.view: StateView | None = None

    def show(self, view: StateView, note: str = "") -> None:
        """``note`` replaces the state's description when there is more to say now
        (the next retry's countdown, the scan in progress)."""
        self.view = view
        for tone in ("off", "busy", "ok", "warn", "error"):
            self.set_class(view.tone == tone, f"-{tone}")
        text = Text()
        text.append(f" {view.label} ", style=f"bold reverse {colour(view.colour)}")
        text.append(f"  {note or view.description}")
        self.update(text)
