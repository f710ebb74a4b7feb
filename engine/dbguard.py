"""Recovering the database connection after a cancellation interrupted a transaction.

``engine.db.Database.transaction`` rolls back when its block raises, but not when the
cancellation lands on its own BEGIN or COMMIT: the statement still runs in aiosqlite's
thread, the ``await`` is gone, and the next ``BEGIN`` fails with "cannot start a
transaction within a transaction". The account cancels scans whenever a session ends,
so it calls ``rollback_leftover`` after every session. (The proper fix is a shielded
BEGIN/COMMIT in ``engine.db``; this guard is harmless once that lands.)
"""

from __future__ import annotations

import logging

from engine.db import Database

log = logging.getLogger(__name__)


async def rollback_leftover(db: Database) -> bool:
    """Roll back a transaction nobody owns; True if there was one.

    Holding the database lock, one round trip drains aiosqlite's queue (so an in-flight
    BEGIN/COMMIT has run); after that an open transaction can only be a leftover.
    """
    async with db._lock:
        await db.scalar("SELECT 1")
        if not db.conn.in_transaction:
            return False
        log.warning("rolling back a transaction left open by a cancelled scan")
        await db.conn.execute("ROLLBACK")
        return True


__all__ = ["rollback_leftover"]
