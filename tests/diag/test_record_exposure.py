"""``inboxlab record`` stays on loopback unless told otherwise; traces and bundles are 0600
even when written over an existing, world-readable file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from inboxlab.cli.main import main as cli_main
from inboxlab.engine.diag.bundle import export_bundle
from inboxlab.engine.diag.record import Recorder
from inboxlab.engine.errors import ConfigError


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "example.com"])
def test_record_refuses_a_non_loopback_listen_address(host: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        Recorder("127.0.0.1", 1, tmp_path / "t.jsonl", listen_host=host)
    assert err.value.code == "record_listen_not_loopback"
    assert "--allow-remote-listen" in (err.value.remediation or "")
    assert not (tmp_path / "t.jsonl").exists()


def test_the_cli_refuses_it_and_warns_when_explicitly_allowed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.jsonl"
    code = cli_main(["record", "--listen", "0.0.0.0:0", "--upstream", "127.0.0.1:9",
                     "--out", str(out)])
    assert code == 3 and not out.exists()
    assert "refusing to listen on 0.0.0.0" in capsys.readouterr().err
    for host in ("127.0.0.1", "localhost", "[::1]"):  # loopback needs no flag
        Recorder("127.0.0.1", 1, out, listen_host=host.strip("[]"))
    Recorder("127.0.0.1", 1, out, listen_host="0.0.0.0", allow_remote_listen=True)


def _world_readable(path: Path) -> None:
    path.write_text("old\n")
    os.chmod(path, 0o644)


async def test_a_trace_over_an_existing_0644_file_becomes_0600(tmp_path: Path) -> None:
    out = tmp_path / "session.trace.jsonl"
    _world_readable(out)
    async with Recorder("127.0.0.1", 1, out):
        pass
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "old" not in out.read_text()


async def test_a_bundle_over_an_existing_0644_file_becomes_0600(tmp_path: Path) -> None:
    out = tmp_path / "bundle.json"
    _world_readable(out)
    await export_bundle(out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_a_tui_export_over_an_existing_0644_file_becomes_0600(tmp_path: Path) -> None:
    from inboxlab.tui.export import write_private

    out = tmp_path / "trace.txt"
    _world_readable(out)
    write_private(out, "new")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
