"""README's "Using it" documents every key binding of the TUI and every exit code.

The bindings are read from the code (the App's ``BINDINGS`` and every screen's and
widget's in ``tui.screens`` and ``tui.widgets``, found by walking the packages), so a key
added without a line in README fails here, and so does a screen or widget with keys but
no README row. Each binding must appear in its row: a printable key as `` `k` ``, a named
key by its name (Enter, Escape, Tab, Space, Ctrl+R, PageUp...). Moving in a list (ids
ending ``.down``, ``.up``, ``.first``, ``.last``) is the "lists" row, on any screen;
Escape back (ids ending ``.back``) is the "everywhere" row.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen

import inboxlab.tui.screens
import inboxlab.tui.widgets
from inboxlab.engine.exitcodes import Exit
from inboxlab.tui.app import InboxLabApp

README = Path(__file__).resolve().parents[2] / "README.md"

# The README row ("where") that documents each class's keys.
ROW = {
    "InboxLabApp": "everywhere", "HelpScreen": "everywhere",
    "OpenTable": "lists", "ChoiceList": "lists",
    "DashboardScreen": "dashboard",
    "BrowserScreen": "folder browser", "HeaderList": "folder browser",
    "MessageScreen": "message view",
    "DiagnosticsScreen": "diagnostics",
    "ScenariosScreen": "scenarios", "RunList": "scenarios",
    "RecordsScreen": "records", "ContactForm": "records", "CsvForm": "records",
    "ComposeScreen": "compose", "ConfirmScreen": "compose",
    "SettingsScreen": "settings", "ConnectScreen": "connect",
    "FindScreen": "records", "FindInput": "records",  # and "scenarios": see SHARED
}
BY_ID = {"down": "lists", "up": "lists", "first": "lists", "last": "lists",
         "back": "everywhere"}
SHARED = {"FindScreen": ("records", "scenarios"), "FindInput": ("records", "scenarios")}
NAMED = {"question_mark": "`?`", "slash": "`/`", "enter": "Enter", "escape": "Escape",
         "tab": "Tab", "space": "Space", "pageup": "PageUp", "pagedown": "PageDown",
         "home": "Home", "end": "End", "up": "arrows", "down": "arrows"}


def using_it() -> str:
    text = README.read_text()
    start = text.index("\n## Using it\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def key_rows() -> dict[str, str]:
    rows = {}
    for line in using_it().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 2 and not cells[0].isdigit() \
                and cells[0] not in ("where", "code"):
            rows[cells[0]] = cells[1]
    return rows


def classes_with_keys() -> list[type[DOMNode]]:
    found: list[type[DOMNode]] = [InboxLabApp]
    for package in (inboxlab.tui.screens, inboxlab.tui.widgets):
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for _name, cls in inspect.getmembers(module, inspect.isclass):
                if (issubclass(cls, DOMNode) and cls.__module__ == module.__name__
                        and cls.__dict__.get("BINDINGS")):
                    found.append(cls)
    return found


def spelled(key: str) -> str:
    if key in NAMED:
        return NAMED[key]
    if key.startswith("ctrl+"):
        return "Ctrl+" + key.removeprefix("ctrl+").upper()
    return f"`{key}`"


def undocumented(classes: list[type[DOMNode]], rows: dict[str, str]) -> list[str]:
    missing = []
    for cls in classes:
        name = cls.__name__
        if name not in ROW:
            missing.append(f"{name} has key bindings: give it a README row (ROW here)")
            continue
        for where in SHARED.get(name, (ROW[name],)):
            if where not in rows:
                missing.append(f"{where}: no such row in the table (for {name})")
                continue
            for binding in cls.__dict__["BINDINGS"]:
                assert isinstance(binding, Binding), f"{name}: bindings are Binding(...)"
                assert binding.id, f"{name}: {binding.key} has no id (the keymap needs one)"
                row = BY_ID.get(binding.id.rsplit(".", 1)[-1], where)
                for key in binding.key.split(","):
                    word = spelled(key.strip())
                    if not re.search(rf"(?<!\w){re.escape(word)}(?!\w)", rows[row]):
                        missing.append(f"{row}: {word} ({binding.id}, {binding.description})")
    return missing


def test_every_key_binding_is_in_the_readme() -> None:
    missing = undocumented(classes_with_keys(), key_rows())
    assert not missing, "keys missing from README's Using it table:\n" + "\n".join(missing)


def test_a_key_added_without_docs_is_found() -> None:
    class DashboardScreen(Screen[None]):
        BINDINGS = [Binding("z", "zap", "Zap", id="dashboard.zap"),
                    Binding("ctrl+r", "zap", "Zap", id="dashboard.again")]

    class NewScreen(Screen[None]):
        BINDINGS = [Binding("x", "go", "Go", id="new.go")]

    assert undocumented([DashboardScreen, NewScreen], key_rows()) == [
        "dashboard: `z` (dashboard.zap, Zap)", "dashboard: Ctrl+R (dashboard.again, Zap)",
        "NewScreen has key bindings: give it a README row (ROW here)"]


def test_every_exit_code_is_in_the_readme_and_nothing_else() -> None:
    documented = {int(m.group(1)) for m in re.finditer(r"^\| (\d+) \|", using_it(), re.M)}
    assert documented == {int(code) for code in Exit}
