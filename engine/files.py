"""Files that may hold traces or bundles: private (0600) whether or not they existed.

``os.open(path, O_CREAT, 0o600)`` applies the mode only when it creates the file: writing
a trace over an existing 0644 file used to leave it readable by everyone. ``open_private``
sets the mode on the open descriptor as well, before a byte is written.
"""

from __future__ import annotations

import os

PRIVATE = 0o600


def open_private(path: str | os.PathLike[str]) -> int:
    """Open ``path`` for writing (created or truncated), mode 0600 either way; an fd."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    try:
        os.fchmod(fd, PRIVATE)
    except BaseException:
        os.close(fd)
        raise
    return fd


__all__ = ["PRIVATE", "open_private"]
