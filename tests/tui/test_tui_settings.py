"""Settings persisted under XDG_CONFIG_HOME: validated, atomic, private, never a secret."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from textual.widgets import Input, Select, Static, Switch
from tui_script import ScriptedBridge

from inboxlab.tui.app import InboxLabApp
from inboxlab.tui.errors import SettingsError
from inboxlab.tui.settings_store import (
    LOGGING_MODES,
    MODE_LABELS,
    SettingsStore,
    UiSettings,
    config_dir,
    data_dir,
)


def test_xdg_locations() -> None:
    assert config_dir({"XDG_CONFIG_HOME": "/x/cfg"}) == Path("/x/cfg/inboxlab")
    assert config_dir({"HOME": "/home/me"}) == Path("/home/me/.config/inboxlab")
    assert data_dir({"XDG_DATA_HOME": "/x/data"}) == Path("/x/data/inboxlab")


def test_round_trip_is_private_and_atomic(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "inboxlab" / "settings.json")
    assert store.load() == UiSettings()  # no file: the defaults
    saved = UiSettings(watched_folders=("INBOX", "Sent Items"), log_attachments=True,
                       logging_mode="all_contacts",
                       never_log=("Boss@Example.com", "@hr.example.com"),
                       sent_folder="Sent Items")
    path = store.save(saved)
    assert store.load() == saved
    assert store.load().never_log == ("boss@example.com", "@hr.example.com")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.with_suffix(".tmp").exists()


@pytest.mark.parametrize(("data", "field"), [
    ({"logging_mode": "loud"}, "logging_mode"),
    ({"logging_mode": "log_everything"}, "logging_mode"),
    ({"never_log": ["not an address"]}, "never_log"),
    ({"watched_folders": "INBOX"}, "watched_folders"),
    ({"log_attachments": "yes"}, "log_attachments"),
    ({"password": "hunter2"}, "password"),
    ({"imap_token": "x"}, "imap_token"),
])
def test_bad_values_are_named(tmp_path: Path, data: dict[str, object], field: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SettingsError) as caught:
        SettingsStore(path).load()
    assert caught.value.field == field


def test_modes_are_the_engines_vocabulary() -> None:
    """Every saved mode but "off" is an engine Mode; "off" is its inbox-disconnected switch."""
    from inboxlab.engine.crm.rules import Mode
    from inboxlab.tui.bridge.translate import crm_rules

    assert set(LOGGING_MODES) - {"off"} == {m.value for m in Mode}
    assert MODE_LABELS["replies_only"] == "Log replies only"
    assert MODE_LABELS["all_contacts"] == "Log all mail to and from existing contacts"
    assert crm_rules("off", (), False).inbox_connected is False
    assert all(crm_rules(m, (), False).inbox_connected for m in LOGGING_MODES if m != "off")
    assert UiSettings().logging_mode == Mode.REPLIES_ONLY.value  # the engine's default


@pytest.mark.parametrize(("old", "new"), [("metadata", "replies_only"),
                                          ("full", "all_contacts"), ("off", "off")])
def test_old_modes_are_migrated_once_and_said(tmp_path: Path, old: str, new: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"logging_mode": old, "never_log": ["@hr.example.com"]}))
    store = SettingsStore(path)
    settings = store.load()
    assert settings.logging_mode == new and settings.never_log == ("@hr.example.com",)
    if old == new:
        assert store.migrations == []
        return
    assert len(store.migrations) == 1
    assert repr(old) in store.migrations[0] and repr(new) in store.migrations[0]
    assert json.loads(path.read_text())["logging_mode"] == new  # rewritten once
    assert store.load().logging_mode == new and store.migrations == []


async def test_a_migration_is_shown_on_start(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    store.path.write_text(json.dumps({"logging_mode": "full"}))
    app = InboxLabApp(ScriptedBridge(), cursor_blink=False, settings_store=store)  # type: ignore[arg-type]
    async with app.run_test(size=(110, 40)):
        assert app.settings.logging_mode == "all_contacts"
        assert any("'full' is now 'all_contacts'" in n for n in app.notified)


def test_unknown_keys_and_broken_json(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"colour": "red"}')
    with pytest.raises(SettingsError, match="unknown setting"):
        SettingsStore(path).load()
    path.write_text("{not json")
    with pytest.raises(SettingsError, match="not valid JSON"):
        SettingsStore(path).load()


async def test_settings_screen_saves_and_refuses(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    app = InboxLabApp(ScriptedBridge(), cursor_blink=False, settings_store=store)  # type: ignore[arg-type]
    async with app.run_test(size=(110, 40)) as pilot:
        await pilot.press("o")
        screen = app.screen
        screen.query_one("#watched", Input).value = "INBOX, Projects/Acme"
        screen.query_one("#never", Input).value = "@hr.example.com"
        screen.query_one("#attachments", Switch).value = True
        screen.query_one("#mode", Select).value = "all_contacts"
        await pilot.press("ctrl+s")
        assert "saved to" in str(screen.query_one("#settings-status", Static).render())
        assert store.load().watched_folders == ("INBOX", "Projects/Acme")
        assert store.load().log_attachments is True
        assert store.load().logging_mode == "all_contacts"
        screen.query_one("#never", Input).value = "nobody"
        await pilot.press("ctrl+s")
        status = str(screen.query_one("#settings-status", Static).render())
        assert "never_log" in status
        assert store.load().never_log == ("@hr.example.com",)  # nothing written
        assert "hunter" not in store.path.read_text()


async def test_saved_watch_list_reaches_the_engine(tmp_path: Path) -> None:
    """The demo account watches INBOX, Sent and the chosen folder (not every folder, as it
    does with an empty list); a name the server lacks is a warning, not a crash."""
    from waiting import async_wait_until

    from inboxlab.tui.bridge import EngineBridge

    store = SettingsStore(tmp_path / "settings.json")
    store.save(UiSettings(watched_folders=("Projects/Acme", "No Such Folder")))
    bridge = EngineBridge(scenario="demo", timeline=False)
    app = InboxLabApp(bridge, cursor_blink=False, settings_store=store)
    try:
        async with app.run_test(size=(110, 40)):
            # Discovery fills the list in watch order (INBOX, Sent, then the chosen ones).
            await async_wait_until(
                lambda: "Projects/Acme" in {f.name for f in app.model.folders}, timeout=20,
                what="the chosen folder on the dashboard")
            assert {f.name for f in app.model.folders} == {"INBOX", "Sent", "Projects/Acme"}
            await async_wait_until(
                lambda: any("Not watching 'No Such Folder'" in n for n in app.notified),
                timeout=20, what="the unknown folder reported")
            assert bridge.account is not None and bridge.account.options.folders == (
                "Projects/Acme", "No Such Folder")
    finally:
        bridge.stop()
