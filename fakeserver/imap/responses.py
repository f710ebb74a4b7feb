"""Framing of server responses: tagged/untagged lines, strings, dates, flag lists.

Everything here returns ``bytes`` ready for the wire so handlers join bytes, never
format per-message ``str`` objects on hot paths.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

CRLF = b"\r\n"


def tagged(tag: str, status: str, text: str, code: str | None = None) -> bytes:
    """``tag OK [code] text``; ``status`` is OK, NO or BAD."""
    middle = f"[{code}] " if code else ""
    return f"{tag} {status} {middle}{text}\r\n".encode()


def untagged(text: str) -> bytes:
    return f"* {text}\r\n".encode()


def ok_code(code: str, text: str) -> bytes:
    """An untagged ``* OK [code] text`` line (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ...)."""
    return f"* OK [{code}] {text}\r\n".encode()


RECENT = frozenset({"\\Recent"})


def flag_list(flags: Iterable[str]) -> bytes:
    return b"(" + " ".join(sorted(flags)).encode() + b")"


def uid_set(uids: Iterable[int]) -> str:
    """Compress ascending UIDs into an IMAP sequence set: ``1:3,7,9:10``."""
    parts: list[str] = []
    start = prev = -1
    for uid in uids:
        if prev >= 0 and uid == prev + 1:
            prev = uid
            continue
        if prev >= 0:
            parts.append(str(start) if start == prev else f"{start}:{prev}")
        start = prev = uid
    if prev >= 0:
        parts.append(str(start) if start == prev else f"{start}:{prev}")
    return ",".join(parts)

SYSTEM_FLAGS = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"


def flag_lines(keywords: Iterable[str], *, readonly: bool) -> Iterator[bytes]:
    """FLAGS and PERMANENTFLAGS: the system flags plus every keyword the folder has known.

    Sent at SELECT and again when a keyword first appears in the selected folder (this
    session's APPEND or STORE), as Dovecot does, so clients can list keywords as tags.
    """
    flags = " ".join((SYSTEM_FLAGS, *sorted(keywords)))
    yield untagged(f"FLAGS ({flags})")
    permanent = "" if readonly else f"{flags} \\*"
    yield ok_code(f"PERMANENTFLAGS ({permanent})", "Flags permitted")
