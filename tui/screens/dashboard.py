"""Dashboard: the account at a glance - state, capabilities, folders and their roles,
counts, scan progress with rate and ETA, connections in use, a sync-rate sparkline."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Label, ProgressBar, Sparkline, Static

from inboxlab.tui.incidents import badge_note, status_line, uptime_cells, uptime_share
from inboxlab.tui.messages import FolderView, ProgressView, SessionModel
from inboxlab.tui.screens.base import ModelScreen
from inboxlab.tui.widgets.badge import StateBadge
from inboxlab.tui.widgets.lists import OpenTable


def eta_text(view: ProgressView) -> str:
    if view.done >= view.total:
        return f"{view.total:,} of {view.total:,}  done"
    rate = f"{view.rate:,.0f} msg/s" if view.rate > 0 else "starting"
    eta = view.eta_s
    left = "" if eta is None else f"  ETA {int(eta) // 60}:{int(eta) % 60:02d}"
    return f"{view.done:,} of {view.total:,}  {rate}{left}"


def uptime_text(model: SessionModel, now: datetime) -> Text:
    """The last 10 minutes as a strip: green up, red down (one outage, one gap)."""
    since = next((s.at for s in model.states if s.at is not None), None)
    cells = uptime_cells(model.incidents, now, since=since)
    text = Text("last 10 min ")
    for cell in cells:
        text.append("█" if cell != " " else "·",
                    style={"+": "green", "-": "red"}.get(cell, "dim"))
    share = uptime_share(cells)
    if share is not None:
        text.append(f" {share:.0%} up")
    return text


def read_to(folder: FolderView) -> str:
    """The checkpoint column: the last UID read, or where reading starts for a folder
    whose first sync skipped the old mail (saying "read to 100000" would be untrue)."""
    if folder.scanned_to is None:
        return ""
    if folder.warning:
        return f"new after {folder.scanned_to}"
    return str(folder.scanned_to)


def rate_caption(rates: list[float]) -> str:
    """The sparkline's scale and current value (it has no axis of its own)."""
    if not rates:
        return "sync rate: no scan running"
    return f"sync rate {rates[-1]:,.0f} msg/s (peak {max(rates):,.0f}, last {len(rates)})"


def progress_key(folder: str) -> str:
    return "p-" + "".join(ch if ch.isalnum() else "_" for ch in folder)


def scan_note(model: SessionModel) -> str:
    """While a scan runs the account is not "up to date": say which folder and how far."""
    if model.state is None or model.state.state not in ("idle", "syncing"):
        return ""
    running = [p for p in model.progress.values() if p.done < p.total]
    if not running:
        return ""
    p = running[0]
    return f"Scanning {p.folder}: {p.done:,} of {p.total:,} headers read."


class DashboardScreen(ModelScreen):
    BINDINGS = [
        Binding("enter", "open_folder", "Open folder", id="dashboard.open"),
        Binding("S", "scan", "Scan folder", id="dashboard.scan"),
        Binding("j", "cursor(1)", "Down", id="dashboard.down", show=False),
        Binding("k", "cursor(-1)", "Up", id="dashboard.up", show=False),
        Binding("g", "first", "First", id="dashboard.first", show=False),
        Binding("G", "last", "Last", id="dashboard.last", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="dash-top"):
            with Vertical(id="dash-state"):
                yield StateBadge(id="badge")
                yield Label("", id="endpoint")
                yield Label("", id="connections")
                yield Label("", id="stages")
            with Vertical(id="dash-rate"):
                yield Label(rate_caption([]), classes="caption", id="rate-caption")
                yield Sparkline([], id="rate")
        yield Static("", id="outage")
        yield Static("", id="caps")
        yield Static("", id="warnings")
        yield Static("", id="mail-log")
        table = OpenTable(id="folders", cursor_type="row", zebra_stripes=True)
        yield table
        yield VerticalScroll(id="progress")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#folders", DataTable)
        table.add_columns("Folder", "Role", "Why this folder", "Messages", "Read to UID")
        self.show_model(self.inbox_app.model)
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        """Once a second: the retry countdown and the outage's duration move on."""
        if self.is_current:
            self._show_state(self.inbox_app.model)
            self._show_connections(self.inbox_app.model)  # "as of" moves with the clock

    def _show_connections(self, model: SessionModel) -> None:
        now = self.inbox_app.clock()
        self.query_one("#connections", Label).update(
            f"connections in use: {model.in_use} / {model.limit}   (as of {now:%H:%M:%S})")

    def _show_state(self, model: SessionModel) -> None:
        now = self.inbox_app.clock()
        if model.state is not None:
            note = badge_note(model.incidents, now) or scan_note(model)
            self.query_one(StateBadge).show(model.state, note)
        outage = self.query_one("#outage", Static)
        line = status_line(model.incidents, now)
        outage.display = line is not None
        outage.set_class(model.incidents.current is not None, "-open")
        text = Text(line or "")
        if line is not None:
            text.append("\n").append_text(uptime_text(model, now))
        outage.update(text)

    def on_screen_resume(self) -> None:
        self.show_model(self.inbox_app.model)

    def show_model(self, model: SessionModel) -> None:
        self._show_state(model)
        self.query_one("#endpoint", Label).update(
            Text(f"{model.title}  {model.detail}".strip()
                 + (f"\n{model.bcc}" if model.bcc else "")))
        mail = self.query_one("#mail-log", Static)
        mail.display = bool(model.mail_log)
        mail.update(Text("  ".join(model.mail_log[-3:])))
        self._show_connections(model)
        stages = "  ".join(
            f"{s.stage} {s.status}" + (f" {s.elapsed_ms:.0f} ms" if s.elapsed_ms is not None
                                        else "")
            for s in model.stages.values())
        self.query_one("#stages", Label).update(Text(stages))
        caps = " ".join(model.caps) if model.caps else "(not connected yet)"
        self.query_one("#caps", Static).update(Text(f"capabilities: {caps}"))
        spark = self.query_one("#rate", Sparkline)
        spark.data = list(model.rates) or [0.0]
        spark.display = bool(model.rates)  # no data: no bars (it drew full ones)
        self.query_one("#rate-caption", Label).update(rate_caption(model.rates))
        self._show_folders(model.folders)
        self._show_progress(model)

    def _show_folders(self, folders: tuple[FolderView, ...]) -> None:
        table = self.query_one("#folders", DataTable)
        rows = [(f.name, f.role or "", f.reason, "" if f.messages is None else f"{f.messages:,}",
                 read_to(f)) for f in folders]
        warnings = [f"! {f.name}: {f.warning}" for f in folders if f.warning]
        box = self.query_one("#warnings", Static)
        box.display = bool(warnings)
        box.update(Text("\n".join(warnings)))
        current = [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
        if current == [tuple(str(c) for c in r) for r in rows]:
            return
        cursor = table.cursor_row
        table.clear()
        for row in rows:
            table.add_row(*row, key=row[0])
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def _show_progress(self, model: SessionModel) -> None:
        box = self.query_one("#progress", VerticalScroll)
        keys = {progress_key(folder) for folder in model.progress}
        for row in list(box.children):  # folders of a scenario or account no longer shown
            if row.id not in keys:
                row.remove()
        for folder, view in model.progress.items():
            key = progress_key(folder)
            found = box.query(f"#{key}")
            if not found:
                row = Horizontal(Label(folder, classes="pname"),
                                 ProgressBar(total=max(1, view.total), show_eta=False,
                                             id=f"{key}-bar"),
                                 Label("", id=f"{key}-eta", classes="eta"),
                                 id=key, classes="progress-row")
                box.mount(row)
                self.call_after_refresh(self._fill_progress, key, view)
            else:
                self._fill_progress(key, view)

    def _fill_progress(self, key: str, view: ProgressView) -> None:
        bars = self.query(f"#{key}-bar")
        if not bars:
            return
        bar = bars.first(ProgressBar)
        bar.update(total=max(1, view.total), progress=min(view.done, max(1, view.total)))
        self.query_one(f"#{key}-eta", Label).update(eta_text(view))

    # -- intents ---------------------------------------------------------------------------------

    def _selected(self) -> str | None:
        table = self.query_one("#folders", DataTable)
        if not table.row_count:
            return None
        return str(table.get_row_at(table.cursor_row)[0])

    def action_open_folder(self) -> None:
        folder = self._selected()
        if folder:
            self.inbox_app.open_folder(folder)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_folder()

    def action_scan(self) -> None:
        folder = self._selected()
        if folder:
            self.inbox_app.bridge.scan(folder)
            self.notify(f"scanning every header of {folder}", markup=False)

    def action_cursor(self, delta: int) -> None:
        table = self.query_one("#folders", DataTable)
        table.move_cursor(row=table.cursor_row + delta)

    def action_first(self) -> None:
        self.query_one("#folders", DataTable).move_cursor(row=0)

    def action_last(self) -> None:
        table = self.query_one("#folders", DataTable)
        table.move_cursor(row=max(0, table.row_count - 1))
