"""Scenarios: the bundled scenarios with their descriptions; run one against in-process
fake servers, and trigger any fault live through the scenario's control endpoint."""

from __future__ import annotations

import json

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from inboxlab.tui.messages import SessionModel
from inboxlab.tui.screens.find import FindScreen
from inboxlab.tui.widgets.lists import ChoiceList


class RunList(ChoiceList):
    """Enter runs the scenario or fires the fault."""

    BINDINGS = [Binding("enter", "select", "Run/fire", id="scenarios.run")]


class ScenariosScreen(FindScreen):
    BINDINGS = [
        Binding("j", "cursor(1)", "Down", id="scenarios.down", show=False),
        Binding("k", "cursor(-1)", "Up", id="scenarios.up", show=False),
        Binding("g", "edge(0)", "First", id="scenarios.first", show=False),
        Binding("G", "edge(-1)", "Last", id="scenarios.last", show=False),
        Binding("f", "focus_faults", "Faults", id="scenarios.faults"),
        Binding("l", "focus_list", "Scenarios", id="scenarios.list"),
        Binding("a", "focus_action", "Custom action", id="scenarios.action"),
    ]

    def __init__(self) -> None:
        super().__init__(id="scenarios")

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="scen-top"):
            with Vertical(id="scen-left"):
                yield Label("Bundled scenarios - Enter runs one", classes="caption")
                yield RunList(id="scenario-list", name="the scenarios")
            with Vertical(id="scen-right"):
                yield Label("Faults - Enter fires one now", classes="caption")
                yield RunList(id="fault-list", name="the faults")
        yield Input(placeholder='any action as JSON, e.g. {"type": "bye", "text": "bye now"}'
                    ' - Enter fires it (a to focus)', id="custom-action")
        yield Static("", id="scenario-log")
        yield from self.find_bar()
        yield Footer()

    def on_mount(self) -> None:
        bridge = self.inbox_app.bridge
        scen = self.query_one("#scenario-list", OptionList)
        for info in bridge.scenarios():
            text = Text()
            text.append(f"{info.name:<22}", style="bold")
            text.append(f" [{info.profile}] ")
            text.append(info.error or info.description, style="red" if info.error else "")
            scen.add_option(Option(text, id=info.name))
        faults = self.query_one("#fault-list", OptionList)
        for name in bridge.faults():
            faults.add_option(Option(Text(name), id=name))  # "bye [ALERT]" is not markup
        scen.highlighted = 0
        faults.highlighted = 0
        self.query_one("#custom-action", Input).cursor_blink = self.inbox_app.cursor_blink
        scen.focus()
        self.show_model(self.inbox_app.model)

    def on_screen_resume(self) -> None:
        self.show_model(self.inbox_app.model)

    def show_model(self, model: SessionModel) -> None:
        lines = [f"now: {model.title}", *model.scenario_log[-8:]]
        self.query_one("#scenario-log", Static).update(Text("\n".join(lines)))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        name = event.option.id
        if name is None:
            return
        if event.option_list.id == "scenario-list":
            self.inbox_app.model.scenario_log.append(f"starting {name}...")
            self.inbox_app.bridge.run_scenario(name)
        else:
            self.inbox_app.bridge.fire_fault(name)
        self.show_model(self.inbox_app.model)

    def action_cursor(self, delta: int) -> None:
        focused = self.focused
        if isinstance(focused, OptionList):
            if delta > 0:
                focused.action_cursor_down()
            else:
                focused.action_cursor_up()

    def action_edge(self, which: int) -> None:
        focused = self.focused
        if isinstance(focused, OptionList) and focused.option_count:
            focused.highlighted = 0 if which == 0 else focused.option_count - 1

    def action_focus_action(self) -> None:
        self.query_one("#custom-action", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "custom-action":
            return  # the find prompt: FindScreen's handler
        event.stop()
        try:
            action = json.loads(event.value)
        except json.JSONDecodeError as exc:
            self.inbox_app.model.scenario_log.append(f"not JSON: {exc.msg} at {exc.pos}")
        else:
            if isinstance(action, dict):
                self.inbox_app.bridge.fire_action(action)
            else:
                self.inbox_app.model.scenario_log.append("an action is a JSON object {...}")
        self.show_model(self.inbox_app.model)

    def action_focus_faults(self) -> None:
        self.query_one("#fault-list", OptionList).focus()

    def action_focus_list(self) -> None:
        self.query_one("#scenario-list", OptionList).focus()
