"""Where the TUI writes what a support engineer takes away: bundles, traces, screenshots.

``~/Downloads`` when it exists (what a person looks in first), else the XDG data
directory's ``exports/`` (created 0700), so an export never fails because a desktop
folder is missing (a server, a container). Files are written 0600: a trace is redacted
at the source, but it is still the person's mail traffic.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from inboxlab.tui.settings_store import data_dir


def export_dir(env: dict[str, str] | None = None) -> Path:
    """``~/Downloads`` if it is a directory, else ``$XDG_DATA_HOME/inboxlab/exports``."""
    env = dict(os.environ) if env is None else env
    downloads = Path(env.get("HOME", "~")).expanduser() / "Downloads"
    if downloads.is_dir():
        return downloads
    where = data_dir(env) / "exports"
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    return where


def stamped(prefix: str, suffix: str, now: datetime) -> str:
    """``inboxlab-trace-20260102-093000.txt``: sortable, no characters shells dislike."""
    return f"inboxlab-{prefix}-{now:%Y%m%d-%H%M%S}{suffix}"


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path``, 0600 (replaced if it exists, whatever its mode was)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # O_CREAT's mode applies only to a new file
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def write_trace(lines: Iterable[str], directory: Path, now: datetime) -> Path:
    """The trace as the Diagnostics screen shows it (redacted at the source), one file."""
    return write_private(directory / stamped("trace", ".txt", now),
                         "".join(f"{line}\n" for line in lines))
