"""bench/drain_compare.py end to end at a tiny size: both servers, both clients, all messages.

Run as the CLI (a subprocess from the repository root) because that is how it is used, and
because bench/ is not importable from the test path.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from dovecot import find_dovecot

pytestmark = [pytest.mark.dovecot, pytest.mark.interop]

ROOT = Path(__file__).resolve().parents[2]


def _compare(*args: str) -> dict[str, object]:
    if find_dovecot() is None:
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    done = subprocess.run(
        [sys.executable, "-m", "bench.drain_compare", "--json", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


@pytest.mark.parametrize("transport", ["plain", "tls"])
def test_drain_compare_drains_both_servers_completely(transport: str) -> None:
    extra = ["--tls"] if transport == "tls" else []
    report = _compare("--count", "60", "--rounds", "2", *extra)
    legs = report["legs"]
    assert isinstance(legs, list)
    assert {(leg["server"], leg["client"], leg["phase"]) for leg in legs} == {
        ("dovecot", "raw", "cold"), ("dovecot", "raw", "warm"), ("dovecot", "imaplib", "warm"),
        ("fake", "raw", "cold"), ("fake", "raw", "warm"), ("fake", "imaplib", "warm"),
    }
    assert all(leg["messages"] == 60 for leg in legs)
    assert isinstance(report["ratio_fake_over_dovecot"], float)


def test_drain_compare_rejects_an_unknown_server() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.drain_compare", "--servers", "exchange"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2
    assert "expected dovecot and/or fake" in done.stderr


def test_engine_scan_times_every_leg_over_every_message() -> None:
    """bench/engine_scan.py at 60 messages: each leg, the product's scan with and without
    the TUI's trace subscriber included, saw all 60 (the bench aborts otherwise)."""
    if find_dovecot() is None:
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    done = subprocess.run(
        [sys.executable, "-m", "bench.engine_scan", "--json", "--count", "60", "--rounds", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    legs = json.loads(done.stdout)["legs"]
    assert set(legs) == {"raw", "scan", "scan+trace", "imaplib", "fetch", "parse"}
    assert all(leg["messages"] == 60 for leg in legs.values())


def test_engine_scan_legs_ask_what_the_product_scan_asks() -> None:
    """The raw floor, imaplib and the fetch leg send the scan's own FETCH items (no FLAGS,
    the scan's field order), so every leg makes Dovecot do the same work."""
    from inboxlab.engine.sync import FETCH_ITEMS

    done = subprocess.run(  # bench/ is run from the repository root, not installed
        [sys.executable, "-c", "from bench.engine_scan import ITEMS; print(ITEMS)"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )
    assert done.stdout.strip() == "(" + " ".join(FETCH_ITEMS) + ")"
