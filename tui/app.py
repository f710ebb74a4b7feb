"""The inboxlab App: owns the engine bridge, the session model and the screens.

The App (not a Screen) starts the engine thread, so switching screens never starts or
stops a connection. Engine messages land here, update one ``SessionModel`` and are
shown by whichever screens are registered as views. Screens are modes, so each keeps
its state while another is shown; the folder browser is pushed on top of the dashboard.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from textual.app import App, ScreenStackError, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.message_pump import MessagePump
from textual.screen import Screen

from inboxlab.tui import crm_messages as cm
from inboxlab.tui import messages as m
from inboxlab.tui import views as v
from inboxlab.tui.errors import SettingsError
from inboxlab.tui.export import export_dir, stamped, write_trace
from inboxlab.tui.incidents import HEALED_STATES, cause_words, duration_text, plural
from inboxlab.tui.settings_store import SettingsStore, UiSettings

TRACE_TICK = 0.25  # seconds between trace batches written to the diagnostics Log
TRACE_KEEP = 5000  # lines kept for the filter; older ones scroll away
# The screens share one footer entry ("d t s r m c o Screens"): at 80 columns one entry
# each pushed the screen's own keys out of sight. ``?`` names each one.
GOTO = Binding.Group("Screens")


class Bridge(Protocol):
    """What the UI asks of the engine side (``tui.bridge.EngineBridge`` or a test script)."""

    def start(self, target: MessagePump) -> None: ...
    def stop(self, timeout: float = 10.0) -> None: ...
    def drain_trace(self, limit: int = 2000) -> list[str]: ...
    def open_folder(self, folder: str, reply_to: MessagePump) -> Any: ...
    def fetch_rows(self, folder: str, start: int, count: int, reply_to: MessagePump,
                   generation: int = 0) -> Any: ...
    def search(self, folder: str, query: str, reply_to: MessagePump) -> Any: ...
    def close_folder(self) -> Any: ...
    def scan(self, folder: str) -> Any: ...
    def run_scenario(self, name: str) -> Any: ...
    def fire_fault(self, name: str) -> Any: ...
    def fire_action(self, action: dict[str, Any]) -> Any: ...
    def connect_account(self, server: str, username: str, password: str,
                        sent_folder: str | None = None, *, oauth: str | None = None,
                        token_command: str | None = None, security: str = "",
                        smtp: str = "", cafile: str = "") -> Any: ...
    def reconnect_now(self) -> Any: ...
    def open_message(self, folder: str, uid: int, reply_to: MessagePump) -> Any: ...
    def export_bundle(self, path: Path, reply_to: MessagePump | None = None) -> Any: ...
    def find_message(self, message_id: str, reply_to: MessagePump) -> Any: ...
    def validate(self, server: str, username: str, **extra: str) -> str | None: ...
    def scenarios(self) -> list[m.ScenarioView]: ...
    def faults(self) -> list[str]: ...


class CrmActions(Protocol):
    """What the Records and Compose screens ask of the CRM (``tui.bridge.crm.CrmBridge``)."""

    def template_names(self) -> list[str]: ...
    def load_contacts(self, offset: int = 0) -> Any: ...
    def load_timeline(self, contact_id: int) -> Any: ...
    def load_thread(self, thread_id: int) -> Any: ...
    def preview(self, template: str, contact_ids: Any) -> Any: ...
    def send(self, template: str, contact_ids: Any) -> Any: ...
    def send_to(self, template: str, contact_ids: Any, addresses: Any) -> Any: ...
    def add_contact(self, email: str, name: str = "", company: str = "") -> Any: ...
    def edit_contact(self, contact_id: int, name: str, company: str) -> Any: ...
    def import_csv(self, path: str) -> Any: ...


class View(Protocol):
    def show_model(self, model: m.SessionModel) -> None: ...


class InboxLabApp(App[None]):
    """``inboxlab`` with no arguments: the demo on the bundled fake servers."""

    TITLE = "inboxlab"
    CSS_PATH = "inboxlab.tcss"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("q", "back_or_quit", "Back/Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("ctrl+r", "reconnect", "Reconnect now", id="app.reconnect"),
        Binding("d", "goto('dashboard')", "Dashboard", id="app.dashboard", group=GOTO),
        Binding("t", "goto('diagnostics')", "Diagnostics", id="app.diagnostics", group=GOTO),
        Binding("s", "goto('scenarios')", "Scenarios", id="app.scenarios", group=GOTO),
        Binding("r", "goto('records')", "Records", id="app.records", group=GOTO),
        Binding("m", "goto('compose')", "Compose", id="app.compose", group=GOTO),
        Binding("c", "goto('connect')", "Connect", id="app.connect", group=GOTO),
        Binding("o", "goto('settings')", "Settings", id="app.settings", group=GOTO),
        Binding("ctrl+c", "quit", "Quit", id="app.force_quit", show=False, priority=True),
    ]

    def __init__(self, bridge: Bridge, *, clock: Callable[[], datetime] | None = None,
                 cursor_blink: bool = True, settings_store: SettingsStore | None = None) -> None:
        super().__init__()
        self.bridge = bridge
        self.settings_store = settings_store
        self.settings = UiSettings()
        self.settings_problem: str | None = None
        self.settings_migrated: list[str] = []
        if settings_store is not None:
            try:
                self.settings = settings_store.load()
                self.settings_migrated = list(settings_store.migrations)
            except SettingsError as exc:
                self.settings_problem = f"{exc} - {exc.remediation}".rstrip(" -")
        self.clock = clock or (lambda: datetime.now(UTC))
        self.cursor_blink = cursor_blink
        self.model = m.SessionModel()
        self.crm_model = v.CrmModel()
        # The CRM side of the bridge, when it has one (the scripted test bridge may not).
        self.crm_actions: CrmActions | None = getattr(bridge, "crm", None)
        self.views: list[View] = []
        self.trace: deque[str] = deque(maxlen=TRACE_KEEP)
        self.trace_listeners: list[Callable[[list[str]], None]] = []
        self.notified: list[str] = []  # what notify() showed, for tests and the timeline
        self._scenarios: list[m.ScenarioView] | None = None  # for the palette
        self.exports: list[str] = []  # files written this session (bundle, trace)

    # -- lifecycle -------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        from inboxlab.tui.screens.dashboard import DashboardScreen

        return DashboardScreen()

    def on_mount(self) -> None:
        from inboxlab.tui.screens.compose import ComposeScreen
        from inboxlab.tui.screens.connect import ConnectScreen
        from inboxlab.tui.screens.diagnostics import DiagnosticsScreen
        from inboxlab.tui.screens.records import RecordsScreen
        from inboxlab.tui.screens.scenarios import ScenariosScreen
        from inboxlab.tui.screens.settings import SettingsScreen

        self.install_screen(DiagnosticsScreen(), "diagnostics")
        self.install_screen(ScenariosScreen(), "scenarios")
        self.install_screen(ConnectScreen(), "connect")
        self.install_screen(SettingsScreen(), "settings")
        self.install_screen(RecordsScreen(), "records")
        self.install_screen(ComposeScreen(), "compose")
        self._apply_settings(self.settings)
        self._apply_look(self.settings)
        self.theme_changed_signal.subscribe(self, self._theme_chosen)
        if self.settings_problem:
            self.notify(self.settings_problem, title="Settings not loaded", severity="error",
                        markup=False)
        for note in self.settings_migrated:
            self.notified.append(note)
            self.notify(note, title="Settings migrated", markup=False)
        self.set_interval(TRACE_TICK, self._drain_trace)
        self.bridge.start(self)

    async def action_quit(self) -> None:
        self.bridge.stop()
        self.exit()

    def _drain_trace(self) -> None:
        lines = self.bridge.drain_trace()
        if not lines:
            return
        self.trace.extend(lines)
        for listener in list(self.trace_listeners):
            listener(lines)

    # -- navigation ------------------------------------------------------------------------------

    def action_goto(self, name: str) -> None:
        if name == "dashboard":
            while len(self.screen_stack) > 1:
                self.pop_screen()
            return
        if self.screen.id == name or getattr(self.screen, "name_", None) == name:
            return
        if self.is_screen_installed(name) and self.get_screen(name) in self.screen_stack:
            while self.screen is not self.get_screen(name):
                self.pop_screen()
            return
        self.push_screen(name)

    def action_back_or_quit(self) -> None:
        if len(self.screen_stack) > 1:
            self.pop_screen()
        else:
            self.run_worker(self.action_quit())

    def action_help(self) -> None:
        from inboxlab.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def save_settings(self, settings: UiSettings) -> str:
        """Keep and persist the person's settings; raises SettingsError naming the field."""
        self.settings = settings
        self._apply_settings(settings)
        if self.settings_store is None:
            return "(memory only)"
        return str(self.settings_store.save(settings))

    def _apply_look(self, settings: UiSettings) -> None:
        """The saved theme and keymap (binding id -> keys, as posting keeps one)."""
        if settings.keymap:
            self.set_keymap(settings.keymap)
        if settings.theme and settings.theme in self.available_themes:
            self.theme = settings.theme

    def _theme_chosen(self, theme: Any) -> None:
        """A theme picked in the palette is kept for the next start."""
        name = getattr(theme, "name", None)
        if not name or name == self.settings.theme or self.settings_store is None:
            return
        try:
            self.settings = replace(self.settings, theme=name)
            self.settings_store.save(self.settings)
        except (SettingsError, OSError) as exc:
            self.notify(f"Theme not saved: {exc}", severity="warning", markup=False)

    def _apply_settings(self, settings: UiSettings) -> None:
        """The saved logging mode, never-log list and attachment switch reach the engine."""
        apply = getattr(self.bridge, "apply_settings", None)
        if apply is not None:
            apply(settings)

    def compose_to(self, contact_ids: tuple[int, ...]) -> None:
        """Compose from records: the Compose screen with these recipients."""
        from inboxlab.tui.screens.compose import ComposeScreen

        screen = self.get_screen("compose")
        if isinstance(screen, ComposeScreen):
            screen.set_recipients(contact_ids)
        self.action_goto("compose")

    def open_folder(self, folder: str) -> None:
        from inboxlab.tui.screens.browser import BrowserScreen

        self.push_screen(BrowserScreen(folder))

    # -- export ----------------------------------------------------------------------------------

    def action_export_bundle(self) -> None:
        """The diagnostic bundle (settings, timeline, causes, redacted traces) to a file."""
        try:
            path = export_dir() / stamped("bundle", ".json", self.clock())
        except OSError as exc:
            self.on_exported(m.Exported("diagnostic bundle", None, str(exc)))
            return
        self.bridge.export_bundle(path, self)

    def action_export_trace(self) -> None:
        """The protocol trace as the Diagnostics screen shows it, to a text file."""
        self._drain_trace()
        try:
            path = write_trace(self.trace, export_dir(), self.clock())
        except OSError as exc:
            self.on_exported(m.Exported("trace", None, str(exc)))
            return
        self.on_exported(m.Exported("trace", str(path), None))

    def on_exported(self, msg: m.Exported) -> None:
        if msg.path is not None:
            text = f"{msg.what.capitalize()} written to {msg.path}"
            self.exports.append(msg.path)
            self.notified.append(text)
            self.notify(text, title="Exported", markup=False, timeout=10)
        else:
            text = f"Could not write the {msg.what}: {msg.error}"
            self.notified.append(text)
            self.notify(text, title="Export failed", severity="error", markup=False)

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """Textual saves to ~/Downloads and fails when it is missing: use export_dir()."""
        if path is None:
            try:
                path = str(export_dir())
            except OSError as exc:
                self.on_exported(m.Exported("screenshot", None, str(exc)))
                return None
        return super().deliver_screenshot(filename, path, time_format)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Dashboard", "Account state, folders, sync progress",
                            lambda: self.action_goto("dashboard"))
        yield SystemCommand("Diagnostics", "Disconnect timeline and the protocol trace",
                            lambda: self.action_goto("diagnostics"))
        yield SystemCommand("Scenarios", "Run a bundled scenario, trigger faults",
                            lambda: self.action_goto("scenarios"))
        yield SystemCommand("Connect", "Connect an account", lambda: self.action_goto("connect"))
        yield SystemCommand("Settings", "Watched folders, logging, never-log list",
                            lambda: self.action_goto("settings"))
        yield SystemCommand("Records", "Contacts, their logged emails, why each joined",
                            lambda: self.action_goto("records"))
        yield SystemCommand("Compose", "Templates, preview per contact, bulk send, outbox",
                            lambda: self.action_goto("compose"))
        yield SystemCommand("Reconnect now", "Cut the retry wait short after an outage",
                            self.action_reconnect)
        yield SystemCommand("Export diagnostic bundle",
                            "Settings, timeline, causes, redacted traces: one JSON file",
                            self.action_export_bundle)
        yield SystemCommand("Export trace", "The protocol trace (redacted) to a text file",
                            self.action_export_trace)
        yield SystemCommand("Help", "Every key binding", self.action_help)
        for info in self._scenario_views():
            yield SystemCommand(f"Run scenario {info.name}", info.description or info.profile,
                                lambda n=info.name: self._run_scenario(n))
        for fault in self.bridge.faults():
            yield SystemCommand(f"Fire fault {fault}", "Through the scenario's control endpoint",
                                lambda f=fault: self.bridge.fire_fault(f))
        for folder in self.model.folders:
            yield SystemCommand(f"Open folder {folder.name}", "Browse it in the virtual list",
                                lambda f=folder.name: self.open_folder(f))
            yield SystemCommand(f"Scan folder {folder.name}", "Read every header, with progress",
                                lambda f=folder.name: self._scan(f))

    def _scenario_views(self) -> list[m.ScenarioView]:
        if self._scenarios is None:  # loading every bundled file once is enough
            self._scenarios = [s for s in self.bridge.scenarios() if s.error is None]
        return self._scenarios

    def _run_scenario(self, name: str) -> None:
        self.model.scenario_log.append(f"starting {name}...")
        self.bridge.run_scenario(name)
        self.notify(f"Starting scenario {name}", markup=False, timeout=3)

    def _scan(self, folder: str) -> None:
        self.bridge.scan(folder)
        self.notify(f"Scanning every header of {folder}", markup=False, timeout=3)

    # -- engine messages -> model -> views -------------------------------------------------------

    def _changed(self) -> None:
        """Only the screen on top repaints now; the others catch up when they resume."""
        try:
            top = self.screen
        except ScreenStackError:
            return  # the App is exiting: no screen left to repaint
        for view in list(self.views):
            if view is top:
                try:
                    view.show_model(self.model)
                except NoMatches:
                    # Engine messages still arriving while the App exits and the screen's
                    # widgets are already gone: nothing left to show.
                    if self.is_running:  # False from the start of App._shutdown
                        raise

    def on_endpoint(self, msg: m.Endpoint) -> None:
        self.model.title, self.model.detail = msg.title, msg.detail
        self.sub_title = msg.title
        self._changed()

    def on_engine_state(self, msg: m.EngineState) -> None:
        if msg.view.state in HEALED_STATES:
            self._healed(msg.view.at or self.clock())
        self.model.state = msg.view
        self.model.states.append(msg.view)
        del self.model.states[:-200]
        self._changed()

    def on_capabilities(self, msg: m.Capabilities) -> None:
        self.model.caps = msg.caps
        self._changed()

    def on_folders_changed(self, msg: m.FoldersChanged) -> None:
        self.model.folders = msg.folders
        self._changed()

    def on_scan_progress(self, msg: m.ScanProgress) -> None:
        self.model.progress[msg.view.folder] = msg.view
        if msg.view.rate > 0:
            self.model.rates.append(msg.view.rate)
            del self.model.rates[:-60]
        self._changed()

    def on_connections_in_use(self, msg: m.ConnectionsInUse) -> None:
        self.model.in_use, self.model.limit = msg.in_use, msg.limit
        self._changed()

    def on_connect_stage(self, msg: m.ConnectStage) -> None:
        self.model.stages[msg.view.stage] = msg.view
        self._changed()

    def on_new_mail(self, msg: m.NewMail) -> None:
        count = "" if msg.exists is None else f" ({msg.exists:,} messages)"
        text = f"New mail in {msg.folder}{count}"
        self.model.mail_log.append(text)
        self.notified.append(text)
        self.notify(text, title="New mail", markup=False, timeout=4)
        self._changed()

    def on_disconnect_reported(self, msg: m.DisconnectReported) -> None:
        """One failed attempt. An outage is one incident: its first failure and a change of
        cause are notified, in the catalogue's words; further retries only update it."""
        view = msg.view
        self.model.disconnects.append(view)
        what = self.model.incidents.failure(view)
        if what is not None:
            self._notify_failure(view, changed=what == "changed")
        self._changed()

    def _notify_failure(self, view: m.DisconnectView, *, changed: bool) -> None:
        heal = ("Reconnecting by itself (ctrl+r: now)" if view.heals
                else "Not retrying: needs you" + (f". {view.remediation}"
                                                 if view.remediation else ""))
        words = f"\nServer said: {view.server_text}" if view.server_text else ""
        lead = "Still disconnected; the cause changed." if changed else \
            f"Lost the connection to the mailbox at {view.at:%H:%M:%S}."
        text = f"{lead}{words}\n{heal} - press t for Diagnostics"
        self.notified.append(text)
        # Server text can look like markup ("[ALERT]"): never interpret it.
        self.notify(text, title=cause_words(view), markup=False,
                    severity="warning" if view.heals else "error", timeout=8)

    def on_retry_planned(self, msg: m.RetryPlanned) -> None:
        self.model.incidents.retry(msg.view)
        self._changed()

    def _healed(self, at: datetime) -> None:
        done = self.model.incidents.healed(at)
        if done is None:
            return
        tries = f" ({plural(done.retries, 'retry', 'retries')})" if done.retries else ""
        text = f"Reconnected after {duration_text(done.seconds(at))}{tries}"
        self.notified.append(text)
        self.notify(text, title="Reconnected", markup=False, timeout=6)

    def action_reconnect(self) -> None:
        """Reconnect now: cut the supervisor's backoff wait short (or restart after a fix)."""
        state = self.model.state.state if self.model.state is not None else ""
        if state in HEALED_STATES or state in ("connecting", "authenticating"):
            self.notify("Connected already: nothing to reconnect.", markup=False, timeout=3)
            return
        self.bridge.reconnect_now()
        self.model.incidents.asked()
        text = "Reconnecting now"
        self.notified.append(text)
        self.notify(text, title="Reconnect", markup=False, timeout=3)
        self._changed()

    def on_folder_gone_reported(self, msg: m.FolderGoneReported) -> None:
        text = f"Not watching {msg.folder!r}" + (f": {msg.detail}" if msg.detail else "")
        self.notified.append(text)
        self.notify(text, title="Folder not found", severity="warning", markup=False)

    def on_engine_failed(self, msg: m.EngineFailed) -> None:
        text = f"{msg.what}: {msg.error}"
        self.notified.append(text)
        self.notify(text, title="Could not do that", severity="error", markup=False)

    # -- CRM messages -> crm_model -> views ------------------------------------------------------

    def on_records_changed(self, _msg: cm.RecordsChanged) -> None:
        """Something was logged or sent: reload what a CRM screen on top shows."""
        try:
            screen = self.screen
        except ScreenStackError:
            return  # the App is exiting (the after-pass hook may log right up to the end)
        reload = getattr(screen, "action_reload", None)
        if screen.id in ("records", "compose") and reload is not None:
            reload()
        elif self.crm_actions is not None:
            self.crm_actions.load_contacts()

    def on_contacts_loaded(self, msg: cm.ContactsLoaded) -> None:
        keep = self.crm_model.contacts[:msg.offset]
        self.crm_model.contacts = keep + msg.contacts
        self._changed()

    def on_timeline_loaded(self, msg: cm.TimelineLoaded) -> None:
        self.crm_model.timelines[msg.contact_id] = msg.emails
        self._changed()

    def on_thread_loaded(self, msg: cm.ThreadLoaded) -> None:
        self.crm_model.threads[msg.view.thread_id] = msg.view
        self._changed()

    def on_previews_ready(self, msg: cm.PreviewsReady) -> None:
        self.crm_model.preview_template, self.crm_model.previews = msg.template, msg.previews
        self._changed()

    def on_outbox_changed(self, msg: cm.OutboxChanged) -> None:
        old = self.crm_model.outbox.get(msg.view.message_id)
        view = msg.view
        if old is not None:  # transitions carry ids and states; keep who and what
            view = v.OutboxView(view.message_id, view.to or old.to,
                                view.subject or old.subject, view.state, view.error)
        self.crm_model.outbox[view.message_id] = view
        self._changed()

    def on_bcc_listening(self, msg: cm.BccListening) -> None:
        self.model.bcc = f"BCC/forward logging: {msg.address} (SMTP on {msg.host}:{msg.port})"
        self._changed()

    def on_contacts_imported(self, msg: cm.ContactsImported) -> None:
        text = f"{msg.imported} contact(s) imported from {msg.path}" + (
            f", {msg.problems} row(s) with problems" if msg.problems else "")
        self.notified.append(text)
        self.notify(text, title="CRM", markup=False)
        self.on_records_changed(cm.RecordsChanged())

    def on_crm_failed(self, msg: cm.CrmFailed) -> None:
        text = f"{msg.what}: {msg.error}"
        self.crm_model.problems.append(text)
        self.notified.append(text)
        self.notify(text, title="CRM", severity="error", markup=False)

    def on_fault_result(self, msg: m.FaultResult) -> None:
        err = msg.reply.get("error")
        line = f"fault {msg.fault}: " + (f"refused - {err}" if err else "fired")
        self.model.scenario_log.append(line)
        self._changed()

    def on_views_reset(self, _msg: m.ViewsReset) -> None:
        """Another scenario or account: nothing of the old one stays on any screen
        (state, capabilities, folders, sparkline, progress, outages). The scenario log
        is the history of switches, so it stays."""
        self.model = m.SessionModel(scenario_log=self.model.scenario_log)
        self.sub_title = ""
        for view in list(self.views):
            with contextlib.suppress(NoMatches):
                view.show_model(self.model)

    def on_scenario_done(self, msg: m.ScenarioDone) -> None:
        self.model.scenario_log.append(
            f"scenario {msg.name}: " + ("running" if msg.ok else "failed to start"))
        self._changed()


def run_demo(scenario: str | None = None) -> int:
    """``inboxlab`` / ``inboxlab demo``: the TUI on a bundled scenario; the exit status."""
    import sys

    from inboxlab.harness.demo import scenario_problem
    from inboxlab.scenarios import DEFAULT
    from inboxlab.tui.bridge import EngineBridge

    problem = scenario_problem(scenario or DEFAULT)
    if problem is not None:  # refused before a terminal opens, as `scenario check` does
        print(f"error: {problem}", file=sys.stderr)
        return 3  # engine.exitcodes.Exit.USAGE (the App module does not import the engine)
    from inboxlab.tui.settings_store import SettingsStore, data_dir

    bridge = EngineBridge(scenario=scenario or DEFAULT)
    bridge.real_data_dir = data_dir()
    try:
        InboxLabApp(bridge, settings_store=SettingsStore()).run()
    finally:
        bridge.stop()  # idempotent; also covers an exit that skipped action_quit
    return 0


def run_connect(server: str, username: str, *, cafile: str | None = None,
                smtp: str | None = None, bcc: str | None = None,
                bcc_listen: tuple[str, int] = ("127.0.0.1", 2525), oauth: str | None = None,
                token_command: str | None = None, token_env: str | None = None,
                token_keyring: bool = False) -> int:
    """``inboxlab connect SERVER --user NAME``: the same screens on a real mailbox."""
    import sys

    from inboxlab.tui.bridge import EngineBridge, account_dir
    from inboxlab.tui.bridge.crm import BccConfig
    from inboxlab.tui.bridge.translate import account_from_cli
    from inboxlab.tui.settings_store import SettingsStore, data_dir

    try:
        settings, secret = account_from_cli(
            server, username, smtp, oauth=oauth, token_command=token_command,
            token_env=token_env, token_keyring=token_keyring)
    except Exception as exc:  # the engine's ConfigError, with its remediation
        fix = getattr(exc, "remediation", None)
        print(f"error: {exc}" + (f"\n  fix: {fix}" if fix else ""), file=sys.stderr)
        return 3  # engine.exitcodes.Exit.USAGE
    store = SettingsStore()
    bridge = EngineBridge(settings=settings, secret=secret, scenario=None,
                          data_dir=account_dir(data_dir(), settings), cafile=cafile,
                          bcc=BccConfig(bcc, *bcc_listen) if bcc else None)
    bridge.real_data_dir = data_dir()
    try:
        InboxLabApp(bridge, settings_store=store).run()
    finally:
        bridge.stop()
    return 0
