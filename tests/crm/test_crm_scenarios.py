"""The CRM against bundled scenarios served whole (profile, generated folders, personas)."""

from __future__ import annotations

import random
from pathlib import Path

from inboxlab.engine.checkpoints import CheckpointStore
from inboxlab.engine.crm.attachments import AttachmentStore
from inboxlab.engine.crm.inbox import InboxLogger
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.outbox import Outbox
from inboxlab.engine.crm.records import CrmStore
from inboxlab.engine.crm.rules import LoggingRules
from inboxlab.engine.crm.send import Draft, SmtpSubmitter
from inboxlab.engine.crm.sentcopy import CopyPolicy, SentCopier
from inboxlab.engine.crm.summary import crm_summary, sent_copies, sent_message_ids
from inboxlab.engine.db import Database
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.roles import Role
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import SmtpServer
from inboxlab.engine.sync import discover_roles, scan_folder
from inboxlab.fakeserver.scenario.load import load
from inboxlab.fakeserver.scenario.serve import ScenarioServer

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


async def test_gmail_autosave_scenario_one_copy_and_the_reply_logged(tmp_path: Path) -> None:
    scenario = load(SCENARIOS / "gmail-autosave-sent.toml")
    account = scenario.config.accounts[0]
    assert scenario.smtp is not None
    persona = scenario.smtp.personas[0]
    async with ScenarioServer(scenario, control_port=None) as srv:
        assert srv.smtp is not None and srv.tls is not None
        ctx = srv.tls.client_context()
        creds = Credentials(account.username, Secret(account.password))

        async def connect() -> ImapClient:
            client = ImapClient(srv.host, srv.tls_port, security="tls", ssl_context=ctx,
                                timeout=20)
            await client.connect()
            await client.login(creds)
            return client

        client = await connect()
        db = await Database.open(tmp_path / "engine.db")
        try:
            sent = (await discover_roles(client))[Role.SENT].folder
            assert sent == "[Gmail]/Sent Mail"
            store = CrmStore(db, AttachmentStore(tmp_path / "files"))
            logger = InboxLogger(store, LoggingRules(), [account.username])
            checkpoints = CheckpointStore(db)
            await scan_folder(client, checkpoints, account.username, "INBOX", logger.sink)
            copier = SentCopier(connect, sent, CopyPolicy(autosave=None, detect_window=5))
            submitter = SmtpSubmitter(SmtpServer(srv.smtp.host, srv.smtp.port, "starttls"),
                                      account.username, Secret(account.password),
                                      tls_context=ctx)
            outbox = Outbox(store, submitter, copier, Address(account.username),
                            rng=random.Random(2))
            rec = await outbox.send(Draft((Address(persona.address, persona.name),),
                                          "Proposal", "Please find the proposal."))
            assert rec.copy_how == "autosave-detected" and copier.appends == 0
            await srv.smtp.log.wait_for(rcpt=account.username, kind="local")
            await logger.refresh()
            await scan_folder(client, checkpoints, account.username, "INBOX", logger.sink)
            assert await logger.fetch_and_log(client) == 1
            summary = await crm_summary(store)
            assert summary.logged_per_contact == {persona.address: 2}
            copies = await sent_copies(client, sent, await sent_message_ids(store))
            assert copies.duplicates == 0 and copies.copies == {rec.message_id: 1}
            await submitter.close()
            await copier.close()
        finally:
            await client.close()
            await db.close()
