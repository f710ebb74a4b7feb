"""Diagnostics: the disconnect timeline, each cause as the engine classified it, and the
redacted protocol trace with a filter, written in batches on a timer.

Every field shown comes from the engine error itself (cause code, permanent or not,
stage, the server's own words, remediation); nothing is re-guessed from strings.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Input, Label, Log, Static

from tui.messages import DisconnectView, SessionModel
from tui.screens.base import ModelScreen


def explain(view: DisconnectView) -> Text:
    """The detail pane for one disconnect; server text stays plain text (never markup)."""
    text = Text()
    text.append(f"{view.cause_title or view.title}\n", style="bold")
    text.append(f"at {view.at:%Y-%m-%d %H:%M:%S} UTC - {view.title}\n")
    text.append("cause: ", style="bold")
    text.append(f"{view.cause or view.code}: {view.message}\n")
    text.append("evidence (server said): ", style="bold")
    text.append(f"{view.server_text or '(nothing: the connection just ended)'}\n")
    if view.matched_by:
        text.append("matched by: ", style="bold")
        text.append(f"{view.matched_by}\n")
    text.append("kind: ", style="bold")
    text.append("permanent" if view.permanent else "transient")
    text.append(" - heals by itself\n" if view.heals else " - does NOT heal by itself\n")
    text.append("remediation: ", style="bold")
    text.append(f"{view.remediation or '-'}\n")
    if view.it_fix:
        text.append("for IT: ", style="bold")
        text.append(f"{view.it_fix}\n")
    return text


class DiagnosticsScreen(ModelScreen):
    BINDINGS = [
        Binding("slash", "filter", "Filter trace", id="diagnostics.filter"),
        Binding("escape", "clear_filter", "Clear filter", id="diagnostics.clear", show=False),
        Binding("j", "cursor(1)", "Down", id="diagnostics.down", show=False),
        Binding("k", "cursor(-1)", "Up", id="diagnostics.up", show=False),
        Binding("G", "latest", "Latest", id="diagnostics.latest", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="diagnostics")
        self.filter_text = ""
        self._shown = 0

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="diag-top"):
            with Vertical(id="diag-timeline"):
                yield Label("Disconnects", classes="caption")
                table: DataTable[Any] = DataTable(id="disconnects", cursor_type="row")
                yield table
            yield Static("No disconnect so far.", id="explain")
        yield Label("Protocol trace (redacted at the source)", id="trace-caption",
                    classes="caption")
        yield Input(placeholder="filter the trace (substring), Enter to apply", id="filter")
        yield Log(id="trace", max_lines=5000)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#disconnects", DataTable).add_columns(
            "time", "cause", "heals")
        flt = self.query_one("#filter", Input)
        flt.display = False
        flt.cursor_blink = self.inbox_app.cursor_blink
        self.inbox_app.trace_listeners.append(self._write_lines)
        self._write_lines(list(self.inbox_app.trace))
        self.show_model(self.inbox_app.model)

    def on_unmount(self) -> None:
        app = self.inbox_app
        if self._write_lines in app.trace_listeners:
            app.trace_listeners.remove(self._write_lines)

    def on_screen_resume(self) -> None:
        self.show_model(self.inbox_app.model)

    def show_model(self, model: SessionModel) -> None:
        table = self.query_one("#disconnects", DataTable)
        if table.row_count == len(model.disconnects) and self._shown == len(model.disconnects):
            return
        table.clear()
        for view in model.disconnects:
            table.add_row(f"{view.at:%H:%M:%S}", view.cause or view.code,
                          "yes" if view.heals else "NO")
        self._shown = len(model.disconnects)
        if model.disconnects:
            table.move_cursor(row=len(model.disconnects) - 1)
            self._explain(len(model.disconnects) - 1)

    def _explain(self, row: int) -> None:
        views = self.inbox_app.model.disconnects
        if 0 <= row < len(views):
            self.query_one("#explain", Static).update(explain(views[row]))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._explain(event.cursor_row)

    # -- trace -----------------------------------------------------------------------------------

    def _write_lines(self, lines: list[str]) -> None:
        if self.filter_text:
            needle = self.filter_text.lower()
            lines = [line for line in lines if needle in line.lower()]
        # The app's trace timer can fire while this screen is being torn down (children
        # already removed, on_unmount not yet run): no Log then, nothing to write.
        for log in self.query("#trace").results(Log) if lines else ():
            log.write_lines(lines)

    def action_filter(self) -> None:
        flt = self.query_one("#filter", Input)
        flt.display = True
        flt.focus()

    def action_clear_filter(self) -> None:
        flt = self.query_one("#filter", Input)
        flt.value = ""
        flt.display = False
        self._apply("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._apply(event.value.strip())
        self.query_one("#trace", Log).focus()

    def _apply(self, text: str) -> None:
        self.filter_text = text
        log = self.query_one("#trace", Log)
        log.clear()
        self._write_lines(list(self.inbox_app.trace))
        self.query_one("#trace-caption", Label).update(
            "Protocol trace" + (f" - filter: {text}" if text else " (redacted at the source)"))

    def action_cursor(self, delta: int) -> None:
        table = self.query_one("#disconnects", DataTable)
        table.move_cursor(row=table.cursor_row + delta)

    def action_latest(self) -> None:
        self.query_one("#trace", Log).scroll_end(animate=False)
