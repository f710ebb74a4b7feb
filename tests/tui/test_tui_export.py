"""Export from the TUI: the diagnostic bundle and the trace to files (path shown), and
a screenshot when ~/Downloads does not exist."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from waiting import async_wait_until

from inboxlab.tui.app import InboxLabApp
from inboxlab.tui.bridge import EngineBridge
from inboxlab.tui.export import export_dir


@pytest.fixture
def no_downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    (tmp_path / "home").mkdir()
    return tmp_path / "data" / "inboxlab" / "exports"


def test_the_export_directory_falls_back_when_downloads_is_missing(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    fallback = export_dir(env)
    assert fallback == tmp_path / "data" / "inboxlab" / "exports" and fallback.is_dir()
    assert stat.S_IMODE(fallback.stat().st_mode) == 0o700
    (tmp_path / "Downloads").mkdir()
    assert export_dir(env) == tmp_path / "Downloads"


def _read(path: Path) -> tuple[int, str]:
    """The file's permission bits and text (sync: the test's loop is the app's)."""
    return stat.S_IMODE(path.stat().st_mode), path.read_text()


def _svgs(directory: Path) -> list[Path]:
    return list(directory.glob("*.svg"))


async def test_bundle_trace_and_screenshot_are_written_and_shown(no_downloads: Path) -> None:
    bridge = EngineBridge(scenario="demo", timeline=False, sends=False)
    app = InboxLabApp(bridge, cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await async_wait_until(lambda: app.model.state and app.model.state.state == "idle",
                               timeout=20, what="watching")
        await pilot.press("t", "e")
        await async_wait_until(lambda: app.exports, timeout=10, what="the bundle written")
        bundle = Path(app.exports[0])
        assert bundle.parent == no_downloads and bundle.suffix == ".json"
        assert any(str(bundle) in t for t in app.notified)  # the path is shown
        mode, text = _read(bundle)
        assert mode == 0o600
        data = json.loads(text)
        assert data["format"].startswith("inboxlab-diagnostic-bundle")
        assert data["account"] == "user@example.com" and data["traces"]
        assert "inboxlab-demo" not in text  # the demo password never reaches the file
        await pilot.press("w")
        await async_wait_until(lambda: len(app.exports) == 2, what="the trace written")
        trace = Path(app.exports[1])
        _, written = _read(trace)
        assert trace.suffix == ".txt" and any(" < " in line for line in written.splitlines())
        assert "inboxlab-demo" not in written
        app.deliver_screenshot()
        await async_wait_until(lambda: _svgs(no_downloads), timeout=10,
                               what="the screenshot in the fallback directory")
    bridge.stop()
