"""Diagnostics: the disconnect timeline, each cause as the engine classified it, and the
redacted protocol trace with a filter, written in batches on a timer.

Every field shown comes from the engine error itself (cause code, permanent or not,
stage, the server's own words, remediation); nothing is re-guessed from strings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Input, Label, Log, Static

from inboxlab.tui.incidents import Incident, duration_text, plural
from inboxlab.tui.messages import DisconnectView, SessionModel
from inboxlab.tui.screens.base import ModelScreen


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


def incident_text(incident: Incident, now: datetime) -> Text:
    """One outage: start, retries (and the next one's countdown), the cause as it evolved,
    end and duration; then the latest failure explained."""
    text = Text()
    lasted = duration_text(incident.seconds(now))
    if incident.is_open:
        text.append(f"Outage since {incident.started:%H:%M:%S} ({lasted}, ongoing)\n",
                    style="bold")
    else:
        assert incident.ended is not None
        text.append(f"Outage {incident.started:%H:%M:%S} - {incident.ended:%H:%M:%S}, "
                    f"healed after {lasted}\n", style="bold")
    tries = plural(incident.retries, "retry", "retries")
    left = incident.countdown(now)
    nxt = "" if left is None else f"; next in {duration_text(left)} (ctrl+r: now)"
    asked = f"; reconnect asked {incident.asked}x" if incident.asked else ""
    text.append(f"{tries}, {plural(len(incident.failures), 'failed attempt')}{nxt}{asked}\n")
    for at, words in incident.causes():
        text.append(f"  {at:%H:%M:%S}  {words}\n")
    text.append("\n")
    text.append_text(explain(incident.latest))
    return text


def incident_row(incident: Incident, now: datetime) -> tuple[str, str, str, str]:
    causes = incident.causes()
    cause = causes[-1][1] if len(causes) == 1 else f"{causes[0][1]} -> {causes[-1][1]}"
    lasted = duration_text(incident.seconds(now))
    return (f"{incident.started:%H:%M:%S}", cause,
            f"{lasted}" + ("..." if incident.is_open else ""),
            "yes" if incident.heals else "NO")


class DiagnosticsScreen(ModelScreen):
    BINDINGS = [
        Binding("slash", "filter", "Filter trace", id="diagnostics.filter"),
        Binding("escape", "clear_filter", "Clear filter", id="diagnostics.clear", show=False),
        Binding("j", "cursor(1)", "Down", id="diagnostics.down", show=False),
        Binding("k", "cursor(-1)", "Up", id="diagnostics.up", show=False),
        Binding("g", "first", "First outage", id="diagnostics.first", show=False),
        Binding("G", "latest", "Latest", id="diagnostics.latest", show=False),
        Binding("e", "app.export_bundle", "Export bundle", id="diagnostics.export_bundle"),
        Binding("w", "app.export_trace", "Write trace", id="diagnostics.export_trace"),
    ]

    def __init__(self) -> None:
        super().__init__(id="diagnostics")
        self.filter_text = ""
        self._rows: list[tuple[str, str, str, str]] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="diag-top"):
            with Vertical(id="diag-timeline"):
                yield Label("Outages (one row each)", classes="caption")
                table: DataTable[Any] = DataTable(id="disconnects", cursor_type="row")
                yield table
            yield VerticalScroll(Static("No outage so far.", id="explain"), id="explain-box")
        yield Label("Protocol trace (redacted at the source)", id="trace-caption",
                    classes="caption")
        yield Input(placeholder="filter the trace (substring), Enter to apply", id="filter")
        yield Log(id="trace", max_lines=5000)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#disconnects", DataTable).add_columns(
            "started", "cause", "lasted", "heals")
        self.set_interval(1.0, self._tick)
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
        """One row per outage, oldest first. Rows are updated in place and the cursor
        stays where the person put it: a new outage never moves the selection."""
        table = self.query_one("#disconnects", DataTable)
        now = self.inbox_app.clock()
        rows = [incident_row(i, now) for i in model.incidents.items]
        if rows == self._rows:
            self._explain(table.cursor_row)
            return
        first = not self._rows
        cursor = table.cursor_row
        table.clear()
        for row in rows:
            table.add_row(*row)
        self._rows = rows
        if rows:
            table.move_cursor(row=len(rows) - 1 if first else min(cursor, len(rows) - 1))
            self._explain(table.cursor_row)

    def _tick(self) -> None:
        if self.is_current:
            self.show_model(self.inbox_app.model)

    def _explain(self, row: int) -> None:
        items = self.inbox_app.model.incidents.items
        if 0 <= row < len(items):
            self.query_one("#explain", Static).update(
                incident_text(items[row], self.inbox_app.clock()))

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

    def action_first(self) -> None:
        self.query_one("#disconnects", DataTable).move_cursor(row=0)

    def action_latest(self) -> None:
        self.query_one("#trace", Log).scroll_end(animate=False)
