"""Writing messages straight into a Maildir++ tree the way Dovecot expects to find them.

Why not APPEND: 100k messages over IMAP take minutes; files take seconds. Dovecot then
indexes them on first access, exactly as it would a migrated mailbox.

- INTERNALDATE is the file mtime.
- File names sort in load order (a per-writer sequence in the name), which is the order
  Dovecot assigns new UIDs in: message i of a load gets the i-th new UID.
- ``S=``/``W=`` (physical/virtual size) in the name spare Dovecot a read for RFC822.SIZE.
- Each file is written in tmp/ and renamed into cur/, so a Dovecot syncing mid-load never
  sees a half-written message, nor message i+1 before message i.
- Measured: a thread pool was slower than this plain loop (the work is syscalls under the
  GIL); 100k files take ~5-7 s on tmpfs on a busy 2-core machine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from dovecot_setup import DovecotError

# IMAP system flag -> maildir info letter (letters must be written in ASCII order).
_FLAG_LETTERS = {"\\draft": "D", "\\flagged": "F", "\\answered": "R", "\\seen": "S",
                 "\\deleted": "T"}


def maildir_letters(flags: str) -> str:
    """Translate IMAP system flags ("\\Seen \\Flagged") into maildir info letters ("FS")."""
    letters = set()
    for flag in flags.split():
        letter = _FLAG_LETTERS.get(flag.lower())
        if letter is None:
            raise DovecotError(
                f"flag {flag!r} is not an IMAP system flag this loader supports "
                f"(one of {', '.join(sorted(_FLAG_LETTERS))}; keywords are not supported)"
            )
        letters.add(letter)
    return "".join(sorted(letters))


def folder_dir(maildir: Path, folder: str) -> Path:
    """Maildir++ directory of an IMAP folder ('.' is the hierarchy separator)."""
    if folder.upper() == "INBOX":
        return maildir
    if not folder.isascii() or not folder.isprintable() or "/" in folder or not folder.strip("."):
        raise DovecotError(f"unusable folder name {folder!r}: printable ASCII, no '/'")
    if ".." in folder or folder.startswith(".") or folder.endswith("."):
        raise DovecotError(f"unusable folder name {folder!r}: empty hierarchy level")
    return maildir / f".{folder}"


class MaildirWriter:
    """Writes messages into maildir folders owned by uid:gid; file names never repeat."""

    def __init__(self, uid: int, gid: int) -> None:
        self.uid, self.gid = uid, gid
        self._seq = 0
        self._base_secs = int(time.time())

    def write(self, box: Path, messages: Iterable[tuple[bytes, str, datetime]]) -> int:
        """Write (bytes, IMAP flags, aware INTERNALDATE) into box, in order; returns count.

        Input is checked message by message; on bad input the earlier ones stay written.
        """
        uid, gid = self.uid, self.gid
        for sub in (box, box / "cur", box / "new", box / "tmp"):
            if not sub.exists():
                sub.mkdir(mode=0o700)
                os.chown(sub, uid, gid)
        tmp_dir, cur_dir = str(box / "tmp"), str(box / "cur")
        pid, count = os.getpid(), 0
        for raw, flags, when in messages:
            if not isinstance(raw, bytes | bytearray):
                raise DovecotError(f"message {count} is {type(raw).__name__}, not bytes")
            stamp = _datetime_seconds(when)
            letters = maildir_letters(flags)
            secs, usec = divmod(self._seq, 1_000_000)
            self._seq += 1
            base = (f"{self._base_secs + secs}.M{usec:06d}P{pid}.inboxlab,"
                    f"S={len(raw)},W={_vsize(raw)}")
            _write_file(f"{tmp_dir}/{base}", raw, stamp, uid, gid)
            os.rename(f"{tmp_dir}/{base}", f"{cur_dir}/{base}:2,{letters}")
            count += 1
        return count


def _datetime_seconds(when: datetime) -> float:
    if when.tzinfo is None:
        raise DovecotError(f"internal date {when!r} has no timezone; pass an aware datetime")
    return when.timestamp()


def _vsize(raw: bytes) -> int:
    """IMAP RFC822.SIZE: the size with every bare LF counted as CRLF."""
    return len(raw) + raw.count(b"\n") - raw.count(b"\r\n")


def _write_file(path: str, raw: bytes | bytearray, stamp: float, uid: int, gid: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(raw)
        while view:
            view = view[os.write(fd, view):]
        os.fchown(fd, uid, gid)
    finally:
        os.close(fd)
    os.utime(path, (stamp, stamp))
