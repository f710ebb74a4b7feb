"""The CRM of one ``scenario run``: logger on the account, the ``[[send]]`` blocks, figures.

Kept apart from the run loop (``harness.run``) because it is its own idea: a CRM
that logs the account's mail and sends through the scenario's SMTP server, then counts
what it did for the ``crm_*`` and ``sent_copies`` checks. Its database is ``crm.db``
beside the engine's. Sends start after the engine's first pass, with the Sent folder
the engine chose and no hint about auto-save (the copier detects it); the outbox records
an earlier run in the same directory left unfinished go first. It settles only
once every send is done, no persona answer is pending and a few polls have passed.
Never imports Textual (import-linter contract in pyproject.toml).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from pathlib import Path

from inboxlab.engine.account import Account
from inboxlab.engine.crm.attachments import AttachmentStore
from inboxlab.engine.crm.inbox import InboxLogger
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.outbox import Outbox
from inboxlab.engine.crm.records import CrmStore
from inboxlab.engine.crm.rules import LoggingRules
from inboxlab.engine.crm.send import SmtpSubmitter
from inboxlab.engine.crm.sentcopy import CopyPolicy, SentCopier
from inboxlab.engine.crm.summary import crm_summary, sent_copies, sent_message_ids
from inboxlab.engine.crm.templates import Template
from inboxlab.engine.db import Database
from inboxlab.engine.errors import EngineError
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.roles import Role
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import SmtpServer
from inboxlab.engine.sync import ScannedMessage
from inboxlab.fakeserver.scenario.model import Expect, Scenario
from inboxlab.fakeserver.scenario.serve import ScenarioServer
from inboxlab.harness.crm_checks import CRM_CHECKS, CrmFacts, copy_folders

SETTLE_POLLS = 3  # timed polls after a login before the engine counts as settled
DETECT_WINDOW = 2.0  # s the Sent copier watches for the provider's own copy before APPEND


def rules_of(scenario: Scenario) -> LoggingRules:
    """The scenario's ``[crm]`` keys as the engine's rules (its defaults when absent)."""
    crm = scenario.crm
    mode = "replies_only" if crm.logging_mode == "off" else crm.logging_mode
    return LoggingRules(mode, frozenset(crm.never_log),  # type: ignore[arg-type]
                        crm.log_attachments, inbox_connected=crm.logging_mode != "off")


class CrmDrive:
    """The CRM of one run: logger on the account, the ``[[send]]`` blocks, the figures."""

    def __init__(self, srv: ScenarioServer, store: CrmStore) -> None:
        self.srv = srv
        self.store = store
        scenario = srv.scenario
        self.user, self.password = scenario.accounts[0].username, scenario.accounts[0].password
        self.templates = templates(scenario)
        self.names = {p.address.lower(): p.name for p in (
            scenario.smtp.personas if scenario.smtp else ())}
        self.logger = InboxLogger(store, rules_of(scenario), [self.user])
        self.task: asyncio.Task[None] | None = None
        self.failures: list[str] = []
        self.sent = 0
        self.quiet_since: int | None = None  # account.polls when it last went quiet

    @classmethod
    async def open(cls, srv: ScenarioServer, where: Path) -> CrmDrive:
        db = await Database.open(where / "crm.db")
        crm = cls(srv, CrmStore(db, AttachmentStore(where / "files")))
        await crm.logger.refresh()
        return crm

    def sink_for(self, own: Callable[[ScannedMessage], None],
                 ) -> Callable[[ScannedMessage], Awaitable[None]]:
        """The account's sink: the run's own bookkeeping (``own``), then the CRM logger's."""
        async def sink(message: ScannedMessage) -> None:
            own(message)
            await self.logger.sink(message)
        return sink

    async def _stop_sends(self) -> None:
        task = self.task
        if task is not None and not task.done():
            task.cancel()
            self.failures.append("the sends were still running at the deadline")
            await asyncio.gather(task, return_exceptions=True)

    async def close(self) -> None:
        await self._stop_sends()
        await self.store.db.close()

    async def connect(self) -> ImapClient:
        """A connection of its own (the Sent copier's, the final count of copies)."""
        assert self.srv.tls is not None
        client = ImapClient(self.srv.host, self.srv.tls_port, security="tls", timeout=10,
                            connect_timeout=5, ssl_context=self.srv.tls.client_context(),
                            tag_prefix="C")
        await client.connect()
        await client.login(Credentials(self.user, Secret(self.password)))
        return client

    def tick(self, account: Account) -> None:
        """Start the sends once the engine has synced and chosen its Sent folder."""
        if self.task is None and account.passes >= 1 and self.srv.smtp is not None:
            choice = account.roles.get(Role.SENT)
            self.task = asyncio.create_task(self._send_all(choice.folder if choice else None),
                                            name="scenario run: CRM sends")

    def settled(self, polls: int) -> bool:
        smtp = self.srv.smtp
        quiet = (not self.templates or (self.task is not None and self.task.done())) and (
            smtp is None or smtp.personas is None or smtp.personas.waiting == 0)
        if not quiet or self.logger.pending:
            self.quiet_since = None
            return False
        if self.quiet_since is None:
            self.quiet_since = polls
        return polls - self.quiet_since >= SETTLE_POLLS

    async def _send_all(self, folder: str | None) -> None:
        assert self.srv.smtp is not None and self.srv.tls is not None
        if folder is None:
            self.failures.append("the engine chose no Sent folder: no copy is made")
        copier = None if folder is None else SentCopier(
            self.connect, folder, CopyPolicy(autosave=None, detect_window=DETECT_WINDOW))
        submitter = SmtpSubmitter(SmtpServer(self.srv.host, self.srv.smtp.port, "starttls"),
                                  self.user, Secret(self.password), timeout=10,
                                  tls_context=self.srv.tls.client_context())
        outbox = Outbox(self.store, submitter, copier, Address(self.user),
                        rng=random.Random(self.srv.scenario.seed))
        try:
            # First what an earlier run in this directory left unfinished (a 421, a
            # crash after the server's OK), as every start path does.
            for rec in await outbox.run_pending():
                if rec.last_error and rec.state.value != "logged":
                    self.failures.append(f"resume {rec.message_id}: {rec.last_error}")
            queued = []
            for send, template in zip(self.srv.scenario.sends, self.templates, strict=True):
                for address in send.to:
                    try:
                        cid = await self.store.upsert_contact(
                            address, self.names.get(address.lower(), ""))
                        contact = await self.store.contact(cid)
                        assert contact is not None
                        queued.append(await outbox.enqueue(template.render(contact),
                                                           contact_id=cid))
                    except EngineError as exc:
                        self.failures.append(f"{address}: {exc}")
            # Track the new Message-IDs before anything goes out: a persona that answers
            # at once must find its thread already known to the sink.
            await self.logger.refresh()
            for mid in queued:
                try:
                    await outbox.run(mid)
                    self.sent += 1
                except EngineError as exc:
                    self.failures.append(f"{mid}: {exc}")
        except Exception as exc:  # a run reports, it does not crash
            self.failures.append(f"{type(exc).__name__}: {exc}")
        finally:
            await submitter.close()
            if copier is not None:
                await copier.close()

    async def facts(self, expects: tuple[Expect, ...]) -> CrmFacts:
        await self._stop_sends()
        summary = await crm_summary(self.store)
        copies: dict[str, dict[str, int]] = {}
        folders = copy_folders(expects)
        if folders:
            try:
                ids = await sent_message_ids(self.store)
                client = await self.connect()
                try:
                    for folder in folders:
                        copies[folder] = (await sent_copies(client, folder, ids)).copies
                finally:
                    await client.close()
            except EngineError as exc:
                self.failures.append(f"counting the Sent copies failed: {exc}")
        return CrmFacts(
            {k.lower(): v for k, v in summary.logged_per_contact.items()}, summary.emails,
            summary.threads, summary.attachments_stored, summary.attachments_skipped,
            summary.flagged, summary.refused, summary.malformed, summary.outbox, copies,
            tuple(self.failures), self.sent)


def templates(scenario: Scenario) -> list[Template]:
    """The ``[[send]]`` blocks as CRM templates: a bad placeholder fails before any start."""
    return [Template(s.name or f"send {i + 1}", s.subject, s.body)
            for i, s in enumerate(scenario.sends)]


def wants_crm(scenario: Scenario) -> bool:
    return bool(scenario.sends) or any(e.check in CRM_CHECKS for e in scenario.expect)
