"""The Account's ``after_pass`` hook: the CRM's body fetches ride on the scanner's passes.

No test here calls ``fetch_and_log`` itself: if the hook did not run, the reply would
stay queued and the tests would time out waiting for it to be logged.
"""

from __future__ import annotations

import random
from pathlib import Path

from crm_kit import PASSWORD, USER, crm_lab
from waiting import async_wait_until

from inboxlab.engine.account import Account
from inboxlab.engine.account_options import AccountOptions
from inboxlab.engine.backoff import BackoffPolicy
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.send import Draft
from inboxlab.engine.errors import Disconnected
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer
from inboxlab.fakeserver.smtp.config import PersonaSpec

BOB = "bob@client.test"
FAST = BackoffPolicy(base_min=0.01, base_max=0.03, factor=1.5, cap=0.2, short_session=60.0,
                     strike_factor=2.0, strike_cap=0.5)
# Polling, not IDLE: these tests are about the pass hook, not IDLE timing.
POLLING = AccountOptions(connect_timeout=5.0, command_timeout=10.0, idle=False,
                         poll_interval=0.1, backoff=FAST)


async def test_a_persona_reply_is_logged_by_the_hook_alone(tmp_path: Path) -> None:
    personas = (PersonaSpec(BOB, "Bob", body="Deal."),)
    async with crm_lab(tmp_path, personas=personas) as lab:
        settings = AccountSettings(USER, ImapServer(lab.imap.host, lab.imap.port, "plain"))
        clients: list[ImapClient] = []

        async def after_pass(client: ImapClient) -> int:
            clients.append(client)
            return await lab.logger.fetch_and_log(client)

        account = Account(settings, Secret(PASSWORD), tmp_path / "engine.db",
                          rng=random.Random(1), sink=lab.logger.sink,
                          tracked=lab.logger.tracked_ids, after_pass=after_pass,
                          options=POLLING)
        await account.start()
        try:
            await async_wait_until(lambda: account.passes >= 1, timeout=20,
                                   what="the account's first scan pass")
            rec = await lab.outbox.send(Draft((Address(BOB, "Bob"),), "Offer", "Hi Bob"))
            await lab.logger.refresh()

            async def both_logged() -> bool:  # and the queue row gone: the hook finished
                rows = await lab.store.emails(thread_id=rec.thread_id)
                return len(rows) == 2 and not await lab.store.pending()

            await async_wait_until(both_logged, timeout=20, what="Bob's reply logged")
            # Every pass handed the hook the one scanner connection: no extra login.
            assert account.logins == 1 and len({id(c) for c in clients}) == 1
        finally:
            await account.stop()
        rows = await lab.store.emails(thread_id=rec.thread_id)
        assert [(r.direction, r.sender) for r in rows] == [("outgoing", USER), ("incoming", BOB)]
        assert not account.errors


async def test_hook_failures_are_typed_and_the_next_pass_runs_it_again(tmp_path: Path) -> None:
    async with crm_lab(tmp_path) as lab:
        settings = AccountSettings(USER, ImapServer(lab.imap.host, lab.imap.port, "plain"))
        failures: list[Exception] = [Disconnected("cut", stage="imap_fetch"),
                                     RuntimeError("crm database is locked")]
        calls = 0

        async def after_pass(client: ImapClient) -> None:
            nonlocal calls
            calls += 1
            if failures:
                raise failures.pop(0)

        account = Account(settings, Secret(PASSWORD), tmp_path / "engine.db",
                          rng=random.Random(2), after_pass=after_pass, options=POLLING)
        await account.start()
        try:
            await async_wait_until(lambda: account.reconnects >= 2 and account.passes >= 1,
                                   timeout=20, what="two reconnects, then a full pass")
        finally:
            await account.stop()
        cut, host = list(account.errors)[:2]
        # An IMAP failure inside the hook is the connection's: it keeps its own code.
        assert (cut.code, cut.permanent) == ("disconnected", False)
        # Anything else is the host's: typed, transient, naming what failed.
        assert (host.code, host.permanent) == ("after_pass_failed", False)
        assert "RuntimeError: crm database is locked" in str(host)
        assert calls >= 3 and account.passes >= 1
