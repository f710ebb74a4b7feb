"""The chaos soak, short: 3,000 messages, 30 sends and replies, 20+ faults across both
layers, every invariant checked (bench/soak.py; the long run is its default). Run as a
command, the way the long soak is run, because bench/ is not on the test path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 3.0  # bench.soak.TIMEOUT


def test_short_soak_holds_every_invariant() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--json", "--messages", "3000", "--sends", "30",
         "--faults", "20", "--fault-every", "0.2", "--seed", "8"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert done.stdout, done.stderr[-3000:]
    fig = json.loads(done.stdout)
    assert fig["faults_fired"] >= 20, fig
    assert fig["replies_on_server"] >= 30 and fig["replies_missing"] == 0, fig
    assert fig["replies_duplicated"] == 0, fig
    assert fig["replies_logged_once"] == fig["replies_on_server"], fig
    assert fig["submitted_once"] == 30 and fig["submitted_twice_or_more"] == 0, fig
    assert fig["sent_copies_exactly_one"] == 30, fig
    assert fig["untracked_rows"] == 0, fig
    assert fig["longest_wait_s"] <= TIMEOUT + 1.0, fig
    assert fig["ok"] and done.returncode == 0, fig
