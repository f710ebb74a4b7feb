"""Help: every key binding with its id, from the App and the screen underneath."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close help", id="help.close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help-text", Static).update(self.binding_table())

    def binding_table(self) -> Text:
        stack = self.app.screen_stack
        under = stack[-2] if len(stack) > 1 else None
        sources: list[tuple[str, list[Binding]]] = [("Everywhere", self._declared(self.app))]
        if under is not None:
            sources.append((f"This screen ({type(under).__name__})", self._declared(under)))
            for widget in under.query("*"):
                own = self._declared(widget)
                if own and type(widget).__module__.startswith("inboxlab.tui."):
                    sources.append((type(widget).__name__, own))
        text = Text()
        text.append("Keys (Ctrl+P opens the command palette)\n\n", style="bold")
        for title, bindings in sources:
            text.append(f"{title}\n", style="bold underline")
            for b in bindings:
                keys = b.key.replace("question_mark", "?").replace("slash", "/")
                text.append(f"  {keys:<18} {b.description:<18} {b.id or ''}\n")
            text.append("\n")
        return text

    @staticmethod
    def _declared(node: object) -> list[Binding]:
        """The node's bindings, with those its class inherits from this app's bases (the
        Records screen's ``/``, ``n``, ``N`` come from FindScreen); a subclass's wins."""
        by_key: dict[str, Binding] = {}
        for cls in reversed(type(node).__mro__):
            if cls is type(node) or cls.__module__.startswith("inboxlab.tui."):
                for b in cls.__dict__.get("BINDINGS", []):
                    if isinstance(b, Binding):
                        by_key[b.key] = b
        return list(by_key.values())
