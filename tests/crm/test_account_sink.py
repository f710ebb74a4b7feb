"""The CRM plugged into the engine's Account: its scan feeds the logger's durable queue."""

from __future__ import annotations

import random
from pathlib import Path

from crm_kit import PASSWORD, USER, crm_lab
from waiting import async_wait_until

from inboxlab.engine.account import Account
from inboxlab.engine.account_options import AccountOptions
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.send import Draft
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer
from inboxlab.fakeserver.smtp.config import PersonaSpec

BOB = "bob@client.test"


async def test_account_scan_feeds_the_logger_and_the_reply_is_logged(tmp_path: Path) -> None:
    personas = (PersonaSpec(BOB, "Bob", body="Deal."),)
    async with crm_lab(tmp_path, personas=personas) as lab:
        settings = AccountSettings(USER, ImapServer(lab.imap.host, lab.imap.port, "plain"))
        account = Account(settings, Secret(PASSWORD), tmp_path / "engine.db",
                          rng=random.Random(1), sink=lab.logger.sink,
                          tracked=lab.logger.tracked_ids,
                          # Polling, not IDLE: this test is about the sink, not IDLE timing.
                          options=AccountOptions(connect_timeout=5.0, command_timeout=10.0,
                                                 idle=False, poll_interval=0.1))
        await account.start()
        try:
            await async_wait_until(lambda: account.passes >= 1, timeout=20,
                                   what="the account's first scan pass")
            rec = await lab.outbox.send(Draft((Address(BOB, "Bob"),), "Offer", "Hi Bob"))
            await lab.logger.refresh()
            assert rec.message_id in lab.logger.tracked_ids()
            await async_wait_until(lambda: bool(lab.logger.pending), timeout=20,
                                   what="the reply reaching the CRM sink")
        finally:
            await account.stop()
        assert await lab.logger.fetch_and_log(lab.client) == 1
        rows = await lab.store.emails(thread_id=rec.thread_id)
        assert [(r.direction, r.sender) for r in rows] == [("outgoing", USER), ("incoming", BOB)]
