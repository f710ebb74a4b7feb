"""Where each folder's scan stands, so a reconnect resumes instead of starting over.

A checkpoint is per (account, folder): the folder's UIDVALIDITY, the UIDNEXT and
HIGHESTMODSEQ last seen, and the highest UID already scanned. UIDs only mean
something within one UIDVALIDITY (RFC 3501 2.3.1.1): when the server reports a
different one, every UID we stored for that folder is meaningless, so
``drop_folder_on_uidvalidity_change`` forgets the folder and the scan restarts.
That function is the one place to extend when later tables (tracked
Message-IDs) hold per-folder UIDs too.

Each call is one transaction, so a crash never leaves half a checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from inboxlab.engine.clock import SYSTEM_CLOCK, Clock
from inboxlab.engine.db import Database

_MAX_UID = 2**32 - 1  # UIDs and UIDVALIDITY are 32-bit unsigned (RFC 3501)
_MAX_MODSEQ = 2**63 - 1  # mod-sequences are 63-bit (RFC 7162)

_COLUMNS = "account, folder, uidvalidity, uidnext, highestmodseq, last_uid, updated_at"


@dataclass(frozen=True)
class Checkpoint:
    account: str
    folder: str
    uidvalidity: int
    uidnext: int | None
    highestmodseq: int | None
    last_uid: int
    updated_at: datetime


def _check(name: str, value: int | None, low: int, high: int, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"checkpoint {name} must be an integer in [{low}, {high}], "
                         f"got {value!r}")


def _row_to_checkpoint(row: tuple[object, ...]) -> Checkpoint:
    account, folder, uidvalidity, uidnext, modseq, last_uid, updated_at = row
    return Checkpoint(
        account=str(account), folder=str(folder), uidvalidity=int(uidvalidity),  # type: ignore[call-overload]
        uidnext=None if uidnext is None else int(uidnext),  # type: ignore[call-overload]
        highestmodseq=None if modseq is None else int(modseq),  # type: ignore[call-overload]
        last_uid=int(last_uid),  # type: ignore[call-overload]
        updated_at=datetime.fromisoformat(str(updated_at)),
    )


class CheckpointStore:
    def __init__(self, db: Database, clock: Clock = SYSTEM_CLOCK) -> None:
        self._db = db
        self._clock = clock

    async def get(self, account: str, folder: str) -> Checkpoint | None:
        async with self._db.transaction(write=False) as conn, conn.execute(
            f"SELECT {_COLUMNS} FROM checkpoints WHERE account = ? AND folder = ?",
            (account, folder),
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else _row_to_checkpoint(tuple(row))

    async def all(self, account: str) -> list[Checkpoint]:
        async with self._db.transaction(write=False) as conn, conn.execute(
            f"SELECT {_COLUMNS} FROM checkpoints WHERE account = ? ORDER BY folder",
            (account,),
        ) as cursor:
            rows = await cursor.fetchall()
        return [_row_to_checkpoint(tuple(r)) for r in rows]

    async def put(
        self, account: str, folder: str, *, uidvalidity: int, last_uid: int,
        uidnext: int | None = None, highestmodseq: int | None = None,
    ) -> Checkpoint:
        """Insert or replace the folder's checkpoint; ``updated_at`` comes from the clock."""
        _check("uidvalidity", uidvalidity, 1, _MAX_UID, optional=False)
        _check("last_uid", last_uid, 0, _MAX_UID, optional=False)
        _check("uidnext", uidnext, 1, _MAX_UID + 1, optional=True)
        _check("highestmodseq", highestmodseq, 0, _MAX_MODSEQ, optional=True)
        checkpoint = Checkpoint(account, folder, uidvalidity, uidnext, highestmodseq,
                                last_uid, self._clock.wall())
        await self._db.write(  # one statement, one implicit transaction
            f"INSERT INTO checkpoints ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (account, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity,"
            " uidnext = excluded.uidnext, highestmodseq = excluded.highestmodseq,"
            " last_uid = excluded.last_uid, updated_at = excluded.updated_at",
            (account, folder, uidvalidity, uidnext, highestmodseq, last_uid,
             checkpoint.updated_at.isoformat()),
        )
        return checkpoint

    async def drop_folder_on_uidvalidity_change(
        self, account: str, folder: str, uidvalidity: int
    ) -> Checkpoint | None:
        """Forget the folder if its UIDVALIDITY changed; returns what was dropped, if anything.

        Same UIDVALIDITY, or no checkpoint yet: nothing happens and None comes back.
        """
        _check("uidvalidity", uidvalidity, 1, _MAX_UID, optional=False)
        async with self._db.transaction() as conn:
            async with conn.execute(
                f"SELECT {_COLUMNS} FROM checkpoints WHERE account = ? AND folder = ?",
                (account, folder),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return None
            old = _row_to_checkpoint(tuple(row))
            if old.uidvalidity == uidvalidity:
                return None
            await conn.execute(
                "DELETE FROM checkpoints WHERE account = ? AND folder = ?", (account, folder))
        return old

    async def delete(self, account: str, folder: str) -> bool:
        """Forget a folder (deleted or renamed on the server); True if there was one."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM checkpoints WHERE account = ? AND folder = ?", (account, folder))
            return cursor.rowcount > 0
