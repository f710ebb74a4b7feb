"""The engine's SQLite file: private permissions, WAL, and numbered migrations.

Why these choices:

- WAL lets the TUI read (folder lists, checkpoints) while the engine writes,
  without "database is locked" errors, and survives a kill mid-write.
- Migrations are a numbered tuple of SQL scripts; ``PRAGMA user_version`` records
  how many ran. Adding a table later (tracked Message-IDs, sends) is appending
  one entry; a migration and its version bump commit together, so a crash
  mid-migration leaves the previous version intact and the next start retries.
- The file is created 0600 and its directory (when we create it) 0700: it
  holds addresses and subjects, never passwords (see ``engine.secrets``), but
  mail metadata is still nobody else's business. SQLite gives its ``-wal`` and
  ``-shm`` companions the database file's permissions.

One connection per ``Database``, used from one event loop; ``transaction()`` is
serialised by a lock and must not be nested.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType

import aiosqlite

from inboxlab.engine.errors import ConfigError
from inboxlab.engine.schema.crm import (
    CRM_IDENTITY_SCHEMA,
    CRM_LINKS_SCHEMA,
    CRM_PENDING_SCHEMA,
    CRM_SCHEMA,
)
from inboxlab.engine.schema.timeline import TIMELINE_SCHEMA

FILE_MODE = 0o600
DIR_MODE = 0o700

MIGRATIONS: tuple[str, ...] = (
    # 1: where each folder's scan stands, so a reconnect resumes instead of rescanning.
    """
    CREATE TABLE checkpoints (
        account       TEXT    NOT NULL,
        folder        TEXT    NOT NULL,
        uidvalidity   INTEGER NOT NULL CHECK (uidvalidity > 0),
        uidnext       INTEGER CHECK (uidnext IS NULL OR uidnext > 0),
        highestmodseq INTEGER CHECK (highestmodseq IS NULL OR highestmodseq >= 0),
        last_uid      INTEGER NOT NULL DEFAULT 0 CHECK (last_uid >= 0),
        updated_at    TEXT    NOT NULL,
        PRIMARY KEY (account, folder)
    ) STRICT;
    """,
    # 2: the CRM records (contacts, threads, logged emails, attachments, outbox).
    CRM_SCHEMA,
    # 3: the diagnostics timeline (engine.diag.timeline): connects, logins, syncs,
    # disconnects with their classified cause, backoff waits; queried by time.
    TIMELINE_SCHEMA,
    # 4: tracked messages whose bodies the CRM still has to read (durable scan sink).
    CRM_PENDING_SCHEMA,
    # 5: logged emails' identity (Message-ID, or a digest for mail without one).
    CRM_IDENTITY_SCHEMA,
    # 6: every contact record an email is logged on (a BCC to several contacts).
    CRM_LINKS_SCHEMA,
)


def _db_error(path: Path, problem: str, code: str, fix: str) -> ConfigError:
    return ConfigError(f"database {path}: {problem}", code=code, remediation=fix)


def _prepare_path(path: Path) -> None:
    """Create the directory 0700 (only if we make it) and the file 0600, before SQLite."""
    missing = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
    for directory in reversed(missing):  # top-down, each one private
        directory.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(directory, DIR_MODE)  # mkdir's mode is filtered by the umask
    if path.exists() and not path.is_file():
        raise _db_error(path, "exists and is not a file", "db_unusable",
                        "choose another database path")
    # Never open an existing file here: closing any descriptor of it drops every POSIX
    # lock this process holds on it, including those of a Database already open on it
    # (the TUI opens two). Another process closing its connection would then take itself
    # for the last user, checkpoint and delete the live WAL, and this process's later
    # commits would go to an unlinked file. Only a file we create is opened, exclusively.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE))
    if stat.S_IMODE(path.stat().st_mode) != FILE_MODE:
        os.chmod(path, FILE_MODE)


class Database:
    """An open engine database; use ``await Database.open(path)`` or ``async with``."""

    def __init__(self, path: Path, conn: aiosqlite.Connection) -> None:
        self.path = path
        self.conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | os.PathLike[str],
                   migrations: Sequence[str] = MIGRATIONS) -> Database:
        where = Path(path)
        try:
            _prepare_path(where)
        except OSError as exc:
            raise _db_error(where, f"cannot be created ({exc.strerror})", "db_unusable",
                            "check the directory exists and is writable") from exc
        conn = await aiosqlite.connect(where, isolation_level=None)
        db = cls(where, conn)
        try:
            await db._configure()
            await migrate(db, migrations)
        except BaseException:
            await conn.close()
            raise
        return db

    async def _configure(self) -> None:
        try:
            mode = await self.scalar("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            raise _db_error(self.path, f"is not a readable SQLite database ({exc})",
                            "db_unreadable", "move the file aside; the engine will "
                            "rescan from scratch") from exc
        if str(mode).lower() != "wal":
            raise _db_error(self.path, f"cannot use WAL (journal_mode is {mode})",
                            "db_unusable", "put the database on a local disk")
        for pragma in ("PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON",
                       "PRAGMA busy_timeout=5000"):
            await self.conn.execute(pragma)

    async def scalar(self, sql: str, params: Sequence[object] = ()) -> object:
        async with self.conn.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return None if row is None else row[0]

    async def user_version(self) -> int:
        return int(await self.scalar("PRAGMA user_version") or 0)  # type: ignore[call-overload]

    @asynccontextmanager
    async def transaction(self, write: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN ... COMMIT, or ROLLBACK if the block raises.

        Writers take the write lock up front (IMMEDIATE), so a read-then-write can
        never fail half-way with SQLITE_BUSY; readers use a deferred BEGIN.
        """
        async with self._lock:
            try:
                await self._settled("BEGIN IMMEDIATE" if write else "BEGIN")
            except asyncio.CancelledError:
                # BEGIN ran to the end in aiosqlite's thread; undo it before leaving.
                await self._settled("ROLLBACK")
                raise
            try:
                yield self.conn
            except BaseException:
                await self._settled("ROLLBACK")
                raise
            await self._settled("COMMIT")

    async def write(self, sql: str, params: Sequence[object] = ()) -> None:
        """One statement as its own transaction: one trip to SQLite's thread where
        ``transaction()`` takes three (BEGIN, the statement, COMMIT). The connection is in
        autocommit mode, so SQLite wraps the statement in an implicit transaction; the
        lock keeps it out of another coroutine's open BEGIN ... COMMIT. For a hot single
        upsert (a scan checkpoints every batch)."""
        async with self._lock:
            await self._settled(sql, params)

    async def _settled(self, sql: str, params: Sequence[object] = ()) -> None:
        """Run a transaction-control statement to its end even if we are cancelled meanwhile.

        aiosqlite runs the statement in its own thread whatever happens to our await; a
        cancellation that abandoned the await would leave SQLite's transaction state unknown
        to us ("cannot start a transaction within a transaction" on the next BEGIN). So the
        await is shielded, and a cancellation is re-raised only once the statement is done.
        """
        step = asyncio.ensure_future(self.conn.execute(sql, params))
        cancelled = False
        while True:
            try:
                await asyncio.shield(step)
                break
            except asyncio.CancelledError:
                if step.cancelled() or step.done():
                    raise
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError

    async def close(self) -> None:
        await self.conn.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r})"


async def migrate(db: Database, migrations: Sequence[str] = MIGRATIONS) -> int:
    """Run the migrations not yet applied; returns how many ran (0 when up to date)."""
    current = await db.user_version()
    if current > len(migrations):
        raise _db_error(db.path, f"was written by a newer inboxlab (schema {current}, this "
                        f"one knows {len(migrations)})", "db_too_new",
                        "upgrade inboxlab, or use another database file")
    ran = 0
    for version, sql in enumerate(migrations[current:], start=current + 1):
        # executescript commits anything pending first, then runs the script as given:
        # the BEGIN/COMMIT here make the migration and its version bump one transaction.
        script = f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
        async with db._lock:
            try:
                await db.conn.executescript(script)
            except sqlite3.Error as exc:
                if db.conn.in_transaction:
                    await db.conn.execute("ROLLBACK")
                raise _db_error(db.path, f"migration {version} failed ({exc})",
                                "db_migration_failed", "report this as a bug; the "
                                "database is still at the previous version") from exc
        ran += 1
    return ran
