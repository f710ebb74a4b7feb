"""SQLite store: private file modes, WAL, idempotent migrations, atomic checkpoints."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inboxlab.engine.checkpoints import CheckpointStore
from inboxlab.engine.clock import ManualClock
from inboxlab.engine.db import MIGRATIONS, Database, migrate
from inboxlab.engine.errors import ConfigError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_new_file_is_0600_in_a_new_0700_directory(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # a typical, permissive umask must not loosen the modes
    try:
        path = tmp_path / "state" / "nested" / "engine.db"
        async with await Database.open(path) as db:
            store = CheckpointStore(db)
            await store.put("ann", "INBOX", uidvalidity=7, last_uid=1)
            assert mode(path) == 0o600
            assert mode(path.parent) == 0o700
            assert mode(path.parent.parent) == 0o700
            for companion in (Path(f"{path}-wal"), Path(f"{path}-shm")):
                assert mode(companion) == 0o600
    finally:
        os.umask(old_umask)


async def test_loose_existing_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "engine.db"
    path.touch()
    path.chmod(0o644)
    async with await Database.open(path):
        assert mode(path) == 0o600


async def test_wal_is_on_and_readers_are_not_blocked_by_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "engine.db"
    async with await Database.open(path) as db:
        assert str(await db.scalar("PRAGMA journal_mode")).lower() == "wal"
        store = CheckpointStore(db)
        await store.put("ann", "INBOX", uidvalidity=7, last_uid=10)
        async with db.transaction() as conn:
            await conn.execute("UPDATE checkpoints SET last_uid = 99")
            reader = sqlite3.connect(path, timeout=0)  # would raise "locked" without WAL
            try:
                assert reader.execute("SELECT last_uid FROM checkpoints").fetchone() == (10,)
            finally:
                reader.close()
        assert (await store.get("ann", "INBOX")).last_uid == 99  # type: ignore[union-attr]


async def test_migrations_run_once_and_reopening_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "engine.db"
    async with await Database.open(path) as db:
        assert await db.user_version() == len(MIGRATIONS)
        await CheckpointStore(db).put("ann", "INBOX", uidvalidity=7, last_uid=3)
        assert await migrate(db) == 0
    async with await Database.open(path) as db:
        assert await db.user_version() == len(MIGRATIONS)
        assert (await CheckpointStore(db).get("ann", "INBOX")) is not None


async def test_adding_a_table_later_is_one_more_entry(tmp_path: Path) -> None:
    path = tmp_path / "engine.db"
    async with await Database.open(path) as db:
        await CheckpointStore(db).put("ann", "INBOX", uidvalidity=7, last_uid=3)
    later = (*MIGRATIONS, "CREATE TABLE tracked (message_id TEXT PRIMARY KEY) STRICT;")
    async with await Database.open(path, later) as db:
        assert await db.user_version() == len(MIGRATIONS) + 1
        assert await db.scalar("SELECT count(*) FROM tracked") == 0
        assert await db.scalar("SELECT count(*) FROM checkpoints") == 1


async def test_a_failing_migration_rolls_back_with_its_version(tmp_path: Path) -> None:
    path = tmp_path / "engine.db"
    broken = (*MIGRATIONS, "CREATE TABLE half (x INTEGER); THIS IS NOT SQL;")
    with pytest.raises(ConfigError) as caught:
        await Database.open(path, broken)
    assert caught.value.code == "db_migration_failed"
    async with await Database.open(path) as db:
        assert await db.user_version() == len(MIGRATIONS)
        tables = await db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'half'")
        assert tables == 0


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "engine.db"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    raw.close()
    with pytest.raises(ConfigError) as caught:
        await Database.open(path)
    assert caught.value.code == "db_too_new"
    assert caught.value.remediation


async def test_a_file_that_is_not_a_database_is_a_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "engine.db"
    path.write_bytes(b"this is certainly not SQLite" * 200)
    with pytest.raises(ConfigError) as caught:
        await Database.open(path)
    assert caught.value.code == "db_unreadable"
    dir_path = tmp_path / "adir"
    dir_path.mkdir()
    with pytest.raises(ConfigError) as caught:
        await Database.open(dir_path)
    assert caught.value.code == "db_unusable"


async def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "e.db") as db:
        store = CheckpointStore(db)
        await store.put("ann", "INBOX", uidvalidity=7, last_uid=3)
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await conn.execute("UPDATE checkpoints SET last_uid = 50")
                raise RuntimeError("boom")
        assert (await store.get("ann", "INBOX")).last_uid == 3  # type: ignore[union-attr]


async def test_checkpoint_put_get_and_update(tmp_path: Path) -> None:
    clock = ManualClock(wall_start=datetime(2026, 5, 1, 12, tzinfo=UTC))
    async with await Database.open(tmp_path / "e.db") as db:
        store = CheckpointStore(db, clock)
        assert await store.get("ann", "INBOX") is None
        await store.put("ann", "INBOX", uidvalidity=1_700_000_000, uidnext=101,
                        highestmodseq=2**63 - 1, last_uid=100)
        clock.advance(60)
        await store.put("ann", "INBOX", uidvalidity=1_700_000_000, uidnext=151,
                        highestmodseq=None, last_uid=150)
        await store.put("ann", "Sent", uidvalidity=5, last_uid=0)
        await store.put("bob", "INBOX", uidvalidity=9, last_uid=1)
        got = await store.get("ann", "INBOX")
        assert got is not None
        assert (got.uidvalidity, got.uidnext, got.highestmodseq, got.last_uid) == (
            1_700_000_000, 151, None, 150)
        assert got.updated_at == datetime(2026, 5, 1, 12, 1, tzinfo=UTC)
        assert [c.folder for c in await store.all("ann")] == ["INBOX", "Sent"]


@pytest.mark.parametrize("kwargs", [
    {"uidvalidity": 0, "last_uid": 0},
    {"uidvalidity": 2**32, "last_uid": 0},
    {"uidvalidity": 1, "last_uid": -1},
    {"uidvalidity": 1, "last_uid": 0, "uidnext": 0},
    {"uidvalidity": 1, "last_uid": 0, "highestmodseq": 2**63},
    {"uidvalidity": True, "last_uid": 0},
])
async def test_checkpoint_values_are_checked(tmp_path: Path, kwargs: dict[str, int]) -> None:
    async with await Database.open(tmp_path / "e.db") as db:
        with pytest.raises(ValueError, match="checkpoint"):
            await CheckpointStore(db).put("ann", "INBOX", **kwargs)


async def test_drop_folder_on_uidvalidity_change(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "e.db") as db:
        store = CheckpointStore(db)
        assert await store.drop_folder_on_uidvalidity_change("ann", "INBOX", 7) is None
        await store.put("ann", "INBOX", uidvalidity=7, last_uid=40)
        await store.put("ann", "Sent", uidvalidity=7, last_uid=5)
        assert await store.drop_folder_on_uidvalidity_change("ann", "INBOX", 7) is None
        assert (await store.get("ann", "INBOX")) is not None
        dropped = await store.drop_folder_on_uidvalidity_change("ann", "INBOX", 8)
        assert dropped is not None and dropped.last_uid == 40
        assert await store.get("ann", "INBOX") is None
        assert await store.get("ann", "Sent") is not None  # other folders untouched
        assert await store.delete("ann", "Sent") is True
        assert await store.delete("ann", "Sent") is False


@pytest.mark.parametrize("yields", [0, 1, 2, 3])
async def test_a_cancellation_at_any_await_of_a_transaction_leaves_none_open(
    tmp_path: Path, yields: int
) -> None:
    """Cancel a transaction at its BEGIN, inside it, or at its COMMIT: the next one works.

    Without shielding, a cancellation landing on BEGIN abandons the await while aiosqlite
    still runs the statement, and the next BEGIN fails "within a transaction".
    """
    async with await Database.open(tmp_path / "cancel.db") as db:
        await db.conn.execute("CREATE TABLE t (x INTEGER)")

        async def writer() -> None:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES (1)")

        task = asyncio.create_task(writer())
        for _ in range(yields):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert not db.conn.in_transaction
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES (2)")
        assert await db.scalar("SELECT COUNT(*) FROM t WHERE x = 2") == 1


_OTHER_PROCESS_READS = (
    "import sqlite3, sys\n"
    "conn = sqlite3.connect(sys.argv[1])\n"
    "print(conn.execute('SELECT count(*) FROM checkpoints').fetchone()[0])\n"
    "conn.close()\n"
)


def _count_in_another_process(path: Path) -> int:
    done = subprocess.run([sys.executable, "-c", _OTHER_PROCESS_READS, str(path)],
                          capture_output=True, text=True, timeout=60, check=True)
    return int(done.stdout)


async def test_a_second_open_keeps_the_first_connections_wal_alive(tmp_path: Path) -> None:
    """The TUI opens the file twice (CrmBridge, then Account). Opening must not open and
    close the file outside SQLite: a close drops every POSIX lock this process holds on it,
    so another process (``inboxlab diag``, sqlite3, the soak's checker) that opens and
    closes the file then believes it is the last user, checkpoints and deletes the live
    WAL, and every later commit of the first connection goes to an unlinked file (lost;
    found by bench/soak_product.py as outbox rows 'logged' in the engine, 'submitted' on
    disk)."""
    path = tmp_path / "engine.db"
    async with await Database.open(path) as first:
        store = CheckpointStore(first)
        await store.put("ann", "INBOX", uidvalidity=7, last_uid=1)
        async with await Database.open(path):
            assert _count_in_another_process(path) == 1
            await store.put("ann", "Sent", uidvalidity=7, last_uid=1)
            assert _count_in_another_process(path) == 2
