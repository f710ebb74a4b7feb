"""Attachment bytes on disk, content-addressed: ``<root>/<sha[:2]>/<sha>``.

Why content-addressed: the same PDF sent to fifty contacts is stored once; the file
name on disk is a hex digest, so no sender-chosen name ever becomes a path (the
sanitized display name lives in the database row). The directory is 0700 and every
file 0600: attachments are the most private thing the connector keeps. Writes go to a
temporary file and are renamed into place, so a crash leaves either nothing or the
whole file, never a truncated one under the final name; the temporary files a kill
leaves behind are removed when the store is opened.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from inboxlab.engine.crm.errors import BadInput

DIR_MODE = 0o700
FILE_MODE = 0o600
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


class AttachmentStore:
    """``put(data) -> sha256``; ``open_bytes(sha)``; ``path(sha)``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(self.root, DIR_MODE)
        self.removed_orphans = self._remove_orphans()

    def _remove_orphans(self) -> int:
        """Delete the temporary files of ``put`` calls a kill interrupted (at start).

        A temporary file is named ``.<sha>.<pid>.tmp``; one whose process is gone can
        never be renamed into place. A live writer's file (another process on the same
        directory) is left alone.
        """
        removed = 0
        for tmp in self.root.glob("??/.*.tmp"):
            pid = tmp.name.rsplit(".", 2)[-2]
            if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
                continue
            tmp.unlink(missing_ok=True)
            removed += 1
        return removed

    def path(self, sha256: str) -> Path:
        if not isinstance(sha256, str) or not _DIGEST.match(sha256):
            raise BadInput(f"{sha256!r} is not a sha256 hex digest", code="bad_digest")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        final = self.path(digest)
        if final.exists():
            return digest
        final.parent.mkdir(mode=DIR_MODE, exist_ok=True)
        tmp = final.with_name(f".{digest}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return digest

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def __repr__(self) -> str:
        return f"AttachmentStore({str(self.root)!r})"


__all__ = ["AttachmentStore"]
