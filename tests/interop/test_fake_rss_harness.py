"""bench/fake_rss.py end to end at a tiny size: the child server, the drain, the /proc reads.

Run as the CLI from the repository root, as it is used. Checks that every stage is reported
and every message was drained; nothing about the figures (those belong in bench/README.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(),
                                reason="fake_rss reads /proc/<pid>/status (Linux only)")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.fake_rss", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_fake_rss_reports_every_stage_of_a_complete_drain() -> None:
    done = _run("--count", "300", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["count"] == 300 and report["target_mb"] == 200.0
    stages = report["stages"]
    assert [s["stage"] for s in stages] == [
        "listening", "after LOGIN", "after SELECT", "after FETCH 1:* (UID FLAGS)"]
    peaks = [s["peak_rss_mb"] for s in stages]
    assert peaks == sorted(peaks) and peaks[0] > 0  # a high-water mark never goes down
    assert report["peak_rss_mb"] == peaks[-1] and report["met"] is (peaks[-1] <= 200.0)
    assert report["fetch_bytes"] > 300 * len(b"* 1 FETCH (UID 1 FLAGS ())")


def test_fake_rss_names_a_server_that_cannot_start() -> None:
    done = _run("--count", "-5")
    assert done.returncode != 0
    assert "fake server failed to start" in done.stderr
