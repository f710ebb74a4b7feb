"""The person's TUI settings, persisted under XDG_CONFIG_HOME, never holding a secret.

``$XDG_CONFIG_HOME/inboxlab/settings.json`` (``~/.config`` when unset): which folders
to watch, whether attachments are logged, the logging mode, addresses and domains never
to log, and a Sent-folder override. JSON because the standard library writes it (TOML it
only reads). Passwords live in ``engine.secrets`` sources (env, keyring, prompt), so a
key that smells of a secret is refused on load and on save. Writes are atomic (temp
file + rename) and private (0600); a bad file is reported by field, never half-read.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from inboxlab.tui.errors import SettingsError

# The engine's logging modes (engine.crm.rules.Mode, HubSpot's wording in the labels) and
# "off": the engine's inbox-disconnected switch (LoggingRules.inbox_connected=False), under
# which it logs nothing from the inbox. Spelled out here because this module may not import
# the engine; tests/tui/test_tui_settings.py checks they stay the engine's values.
LOGGING_MODES = ("replies_only", "all_contacts", "off")
MODE_LABELS = {
    "replies_only": "Log replies only",
    "all_contacts": "Log all mail to and from existing contacts",
    "off": "Off: inbox disconnected, nothing logged",
}
# Values saved by earlier versions, and what they meant on the engine.
OLD_MODES = {"metadata": "replies_only", "full": "all_contacts"}
_SECRETISH = re.compile(r"pass|secret|token|credential|api.?key", re.IGNORECASE)
_ADDRESS = re.compile(r"^(@?[^@\s]+\.[^@\s]+|[^@\s]+@[^@\s]+\.[^@\s]+)$")


def config_dir(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "inboxlab"


def data_dir(env: dict[str, str] | None = None) -> Path:
    """Where the engine's database lives for a real account (XDG_DATA_HOME)."""
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_DATA_HOME") or str(
        Path(env.get("HOME", "~")).expanduser() / ".local" / "share")
    return Path(base) / "inboxlab"


def _folder_list(name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise SettingsError("must be a list of folder names", field=name,
                            remediation='e.g. ["INBOX", "Sent"]')
    out = tuple(v.strip() for v in value if v.strip())
    for v in out:
        if any(ord(ch) < 32 for ch in v):
            raise SettingsError(f"{v!r} contains a control character", field=name)
    return out


@dataclass(frozen=True)
class UiSettings:
    """What the person chose; every field is validated on construction."""

    watched_folders: tuple[str, ...] = ()  # empty: INBOX and Sent, as the engine picks
    # Attachments are logged by default, as in the engine (LoggingRules) and `scenario run`
    # (tests/tui/test_tui_records.py checks the three agree).
    log_attachments: bool = True
    logging_mode: str = "replies_only"
    never_log: tuple[str, ...] = ()  # addresses or @domains the CRM must never log
    sent_folder: str | None = None  # override the detected Sent folder
    theme: str | None = None  # the Textual theme last chosen (palette "Change theme")
    # Binding id -> keys, e.g. {"app.records": "R", "browser.reload": "ctrl+l"}
    # (the ids are listed by `?`); applied with Textual's App.set_keymap.
    keymap: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "watched_folders",
                           _folder_list("watched_folders", self.watched_folders))
        if not isinstance(self.log_attachments, bool):
            raise SettingsError("must be true or false", field="log_attachments")
        if self.logging_mode not in LOGGING_MODES:
            raise SettingsError(f"{self.logging_mode!r} is not a logging mode",
                                field="logging_mode",
                                remediation=f"use one of {', '.join(LOGGING_MODES)}")
        entries = _folder_list("never_log", self.never_log)
        for entry in entries:
            if not _ADDRESS.match(entry):
                raise SettingsError(f"{entry!r} is not an address or @domain", field="never_log",
                                    remediation="write me@example.com or @example.com")
        object.__setattr__(self, "never_log", tuple(e.lower() for e in entries))
        if self.theme is not None and (not isinstance(self.theme, str) or not self.theme):
            raise SettingsError("must be a theme name or absent", field="theme")
        if not isinstance(self.keymap, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and k and v.strip()
                for k, v in self.keymap.items()):
            raise SettingsError("must map binding ids to keys", field="keymap",
                                remediation='e.g. {"app.records": "R"}; ? lists the ids')
        if self.sent_folder is not None:
            if not isinstance(self.sent_folder, str) or not self.sent_folder.strip():
                raise SettingsError("must be a folder name or absent", field="sent_folder")
            object.__setattr__(self, "sent_folder", self.sent_folder.strip())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        data["watched_folders"] = list(self.watched_folders)
        data["never_log"] = list(self.never_log)
        data["keymap"] = dict(self.keymap)
        return data

    @classmethod
    def from_json(cls, data: Any) -> UiSettings:
        if not isinstance(data, dict):
            raise SettingsError("the settings file must hold a JSON object")
        for key in data:
            if _SECRETISH.search(str(key)):
                raise SettingsError("secrets never go in the settings file", field=str(key),
                                    remediation="remove it; passwords come from INBOXLAB_"
                                    "PASSWORD, the keyring or a prompt")
        known = {f.name for f in fields(cls)} - {"extra"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(f"unknown setting(s) {', '.join(unknown)}",
                                remediation=f"known: {', '.join(sorted(known))}")
        return cls(**data)


class SettingsStore:
    """Load and save ``UiSettings`` at one path (``config_dir()/settings.json`` by default)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "settings.json"
        self.migrations: list[str] = []  # what the last load() rewrote, for the person

    def _migrate(self, data: Any) -> Any:
        """Old logging-mode names become the engine's; each change is said in words."""
        if not isinstance(data, dict):
            return data
        old = data.get("logging_mode")
        if isinstance(old, str) and old in OLD_MODES:
            new = OLD_MODES[old]
            data = {**data, "logging_mode": new}
            self.migrations.append(
                f"logging mode {old!r} is now {new!r} ({MODE_LABELS[new]}): the same "
                f"behaviour under the engine's name; saved to {self.path}")
        return data

    def load(self) -> UiSettings:
        """The saved settings, the defaults when there is no file, or a SettingsError."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return UiSettings()
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"cannot read {self.path}: {exc}") from exc
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{self.path} is not valid JSON (line {exc.lineno}: "
                                f"{exc.msg})", remediation="fix or delete the file") from exc
        self.migrations = []
        data = self._migrate(data)
        settings = UiSettings.from_json(data)
        if self.migrations:
            self.save(settings)  # once: the next load reads the new names
        return settings

    def save(self, settings: UiSettings) -> Path:
        data = settings.to_json()
        UiSettings.from_json(data)  # the same checks a later load will make
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, self.path)
        return self.path

    def update(self, **changes: Any) -> UiSettings:
        settings = replace(self.load(), **changes)
        self.save(settings)
        return settings
