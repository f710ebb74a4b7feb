"""A UIDVALIDITY reset recovers tracked replies whatever the size of the tracked set.

Every send adds a tracked Message-ID, so an ordinary user passes a few hundred within
weeks. The reset recovery (the scanner's ``on_reset``) used to search the server only
for a "small" tracked set (<= 500) and otherwise restarted at UIDNEXT, skipping the
reply that arrived while the connector was offline. Driven through the real
``Account`` (Scanner, supervisor, ``on_reset``) as the TUI wires it.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest
from crm.crm_kit import PASSWORD, USER, crm_lab
from waiting import async_wait_until

from inboxlab.engine.account import Account
from inboxlab.engine.account_options import AccountOptions
from inboxlab.engine.backoff import BackoffPolicy
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.send import Draft
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer
from inboxlab.engine.sync import ScannedMessage
from inboxlab.fakeserver.smtp.config import PersonaSpec

BOB = "bob@client.test"
FAST = BackoffPolicy(base_min=0.01, base_max=0.03, factor=1.5, cap=0.2, short_session=60.0,
                     strike_factor=2.0, strike_cap=0.5)
POLLING = AccountOptions(connect_timeout=5.0, command_timeout=20.0, idle=False,
                         poll_interval=0.2, backoff=FAST)


@pytest.mark.parametrize("tracked", [0, 501, 3000])
async def test_reply_during_offline_reset_is_logged_for_any_tracked_set(
        tmp_path: Path, tracked: int) -> None:
    async with crm_lab(tmp_path, personas=(PersonaSpec(BOB, "Bob", body="Deal."),)) as lab:
        if tracked:  # earlier sends: other threads' Message-IDs
            thread = await lab.store.new_thread("old", None, "sent", ("old@client.test",), ())
            await lab.store.track(thread, [f"<old.{n}@crm.test>" for n in range(tracked)])
        rec = await lab.outbox.send(Draft((Address(BOB, "Bob"),), "Offer", "Hi Bob"))
        # Offline: Bob's reply lands, then the server renumbers INBOX.
        await lab.smtp.log.wait_for(rcpt=USER, kind="local")
        account_box = lab.imap.store.authenticate(USER, PASSWORD)
        assert account_box is not None
        lab.imap.store.reset_uidvalidity(account_box.get("INBOX"))
        await lab.logger.refresh()
        assert len(lab.logger.tracked_ids()) == tracked + 1

        account = Account(AccountSettings(USER, ImapServer(lab.imap.host, lab.imap.port,
                                                           "plain")),
                          Secret(PASSWORD), tmp_path / "engine.db", rng=random.Random(3),
                          sink=lab.logger.sink, tracked=lab.logger.tracked_ids,
                          after_pass=lab.logger.fetch_and_log, options=POLLING)
        await account.start()
        try:
            async def logged() -> bool:
                return len(await lab.store.emails(thread_id=rec.thread_id)) == 2

            await async_wait_until(logged, timeout=30, what="Bob's reply logged after the reset")
        finally:
            await account.stop()
        rows = await lab.store.emails(thread_id=rec.thread_id)
        assert [(r.direction, r.sender) for r in rows] == [("outgoing", USER), ("incoming", BOB)]


@pytest.mark.dovecot
async def test_reset_with_3000_tracked_ids_finds_the_reply_on_dovecot(
        dovecot: Any, tmp_path: Path) -> None:
    """The chunked search against the real server: 30 UID SEARCH commands of 100 IDs."""
    user = f"reset{os.getpid()}@example.com"
    dovecot.add_user(user, "pw-reset")
    tracked = [f"<old.{n}@crm.test>" for n in range(3000)]
    seen: list[ScannedMessage] = []
    account = Account(AccountSettings(user, ImapServer(dovecot.host, dovecot.port, "plain")),
                      Secret("pw-reset"), tmp_path / "engine.db", rng=random.Random(4),
                      sink=seen.append, tracked=lambda: tracked, options=POLLING)
    await account.start()
    try:
        await async_wait_until(lambda: account.passes >= 1, timeout=15, what="first pass")
    finally:
        await account.stop()
    reply = (f"Message-ID: <bob.1@client.test>\r\nFrom: bob@client.test\r\nTo: {user}\r\n"
             f"Subject: Re: old\r\nIn-Reply-To: {tracked[2345]}\r\n\r\nDeal.\r\n").encode()
    noise = (f"Message-ID: <noise.1@client.test>\r\nFrom: x@client.test\r\nTo: {user}\r\n"
             "Subject: hello\r\n\r\nnot a reply\r\n").encode()
    other = ImapClient(dovecot.host, dovecot.port, security="plain", timeout=30)
    await other.connect()
    try:
        await other.login(Credentials(user, Secret("pw-reset")))
        await other.append("INBOX", noise)
        await other.append("INBOX", reply)
    finally:
        await other.close()
    dovecot.set_uidvalidity(user, "INBOX", 4242)
    await account.start()
    try:
        await async_wait_until(lambda: any(b"bob.1@client.test" in m.headers
                                           for m in seen),
                               timeout=30, what="the reply delivered after the reset")
    finally:
        await account.stop()
    assert [m.uidvalidity for m in seen] == [4242]
