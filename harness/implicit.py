"""Checks every ``scenario run`` makes, whether or not the scenario asks for them.

They judge the engine from the outside, from what it left behind: the database file
(nothing about a scanned message may be in it; the checkpoints must agree with the
server's UIDVALIDITY) and the warnings it published (every watched folder at the
large-folder threshold must have been flagged). No engine import here: the facts come
in as plain data from ``harness.run``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

from inboxlab.harness.report import Outcome

_MESSAGE_ID = re.compile(rb"^message-id:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


def message_id(headers: bytes) -> bytes | None:
    """The Message-ID in a scanned message's header block, if it has one."""
    found = _MESSAGE_ID.search(headers)
    return found.group(1) if found else None


def database_bytes(db_path: Path) -> bytes:
    """Every page of the database as SQLite sees it now (committed WAL frames included,
    free pages too: a backup copies pages, not rows), read through SQLite; b"" if there
    is no database. Never ``read_bytes()`` on the file or its WAL: the engine may have it
    open in this process, and closing any descriptor of the file outside SQLite drops
    every POSIX lock the process holds on it, after which another process that opens and
    closes the database believes it is the last user and deletes the live WAL (see
    tests/engine/test_db.py::test_a_second_open_keeps_the_first_connections_wal_alive).
    SQLite's own connections share one descriptor per file in a process, so this is safe.
    What it cannot see: WAL frames already superseded by newer ones."""
    if not db_path.exists():
        return b""
    source = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    copy = sqlite3.connect(":memory:")
    try:
        source.backup(copy)
        return copy.serialize()
    finally:
        copy.close()
        source.close()


def nothing_stored(db_path: Path, message_ids: Iterable[bytes]) -> Outcome:
    """No Message-ID the sink was handed appears in the database (``database_bytes``)."""
    blob = database_bytes(db_path)
    ids = list(message_ids)
    if not blob:
        return Outcome("nothing_stored", "", "skip", "no database file was written")
    if not ids:
        return Outcome("nothing_stored", "", "skip", "no message was scanned")
    leaked = [i for i in ids if i in blob]
    if leaked:
        return Outcome("nothing_stored", "", "fail",
                       f"{len(leaked)} Message-ID(s) found in the database, e.g. {leaked[0]!r}")
    return Outcome("nothing_stored", "", "pass",
                   f"none of {len(ids)} scanned Message-IDs is in the database "
                   f"({len(blob):,} bytes)")


def checkpoints(db_path: Path, account: str, server: Mapping[str, int],
                watching: bool) -> Outcome:
    """Each checkpoint's UIDVALIDITY is the server's (``server``: folder -> UIDVALIDITY now).

    Judged only when the engine was watching at the end: a run cut short mid-retry has
    not had the chance to notice a change.
    """
    if not watching:
        return Outcome("checkpoints", "", "skip", "the engine was not watching at the end")
    if not db_path.exists():
        return Outcome("checkpoints", "", "skip", "no database file was written")
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT folder, uidvalidity, last_uid FROM checkpoints "
                          "WHERE account = ? ORDER BY folder", (account,)).fetchall()
    if not rows:
        return Outcome("checkpoints", "", "skip", "the engine never checkpointed a folder")
    wrong = [f"{folder}: UIDVALIDITY {validity}, the server's is {server[folder]}"
             for folder, validity, _ in rows if folder in server and server[folder] != validity]
    if wrong:
        return Outcome("checkpoints", "", "fail", "; ".join(wrong))
    listed = ", ".join(f"{f} (UIDVALIDITY {v}, last UID {u})" for f, v, u in rows)
    return Outcome("checkpoints", "", "pass", listed)


def warnings(warned: Iterable[str], sizes: Mapping[str, int | None],
             threshold: int) -> Outcome:
    """Every watched folder of ``threshold`` messages or more was warned about."""
    big = sorted(f for f, n in sizes.items() if n is not None and n >= threshold)
    missing = [f for f in big if f not in set(warned)]
    if missing:
        return Outcome("warnings", "", "fail", f"no large-folder warning for {missing}")
    if not big:
        return Outcome("warnings", "", "pass", f"no watched folder reaches {threshold:,}")
    return Outcome("warnings", "", "pass", f"warned about {', '.join(big)}")


__all__ = ["checkpoints", "database_bytes", "message_id", "nothing_stored", "warnings"]
