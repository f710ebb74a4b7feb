"""A real kill: the outbox runs in a child process that SIGKILLs itself at a step; the
restart (in this process, same database file) finishes with one send, one copy, one log."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest
from crm_kit import crm_lab

from inboxlab.engine.crm.outbox import State

CHILD = Path(__file__).with_name("outbox_child.py")


@pytest.mark.parametrize("point", ["before_submit", "after_submitted", "after_copy",
                                   "after_log"])
async def test_sigkill_at_a_step_then_restart(tmp_path: Path, point: str) -> None:
    async with crm_lab(tmp_path) as lab:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(CHILD), str(tmp_path), str(lab.imap.port), str(lab.smtp.port),
            str(lab.imap.ca_pem_path), point,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
        outbox = await lab.restart()
        [rec] = await outbox.records()
        assert rec.state is not State.LOGGED
        [done] = await outbox.run_pending()
        assert done.state is State.LOGGED
        sends = [d for d in lab.smtp.log.outside("bob@client.test")
                 if d.message()["Message-ID"] == rec.message_id]
        assert len(sends) == 1
        assert lab.folder_ids("Sent").count(rec.message_id) == 1
        assert await lab.count("SELECT count(*) FROM emails WHERE message_id = ?",
                               rec.message_id) == 1
