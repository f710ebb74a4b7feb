"""Temporary files of an ``AttachmentStore.put`` killed mid-write are removed at start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from inboxlab.engine.crm.attachments import AttachmentStore


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_orphans_of_dead_writers_go_and_a_live_writers_file_stays(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path / "files")
    sha = store.put(b"a whole file")
    shelf = store.path(sha).parent
    orphan = shelf / f".{'ab' * 32}.{dead_pid()}.tmp"
    orphan.write_bytes(b"half a fi")
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as live:
        try:
            in_flight = shelf / f".{'cd' * 32}.{live.pid}.tmp"
            in_flight.write_bytes(b"being written")
            again = AttachmentStore(tmp_path / "files")
            assert again.removed_orphans == 1
            assert not orphan.exists() and in_flight.exists()
            assert again.read(sha) == b"a whole file"
        finally:
            live.kill()
