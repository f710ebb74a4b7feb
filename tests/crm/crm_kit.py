"""A CRM lab on loopback: fake IMAP + fake SMTP (personas answer for real) + a CRM database."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inboxlab.engine.checkpoints import CheckpointStore
from inboxlab.engine.crm.attachments import AttachmentStore
from inboxlab.engine.crm.inbox import InboxLogger
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.outbox import Outbox
from inboxlab.engine.crm.records import CrmStore
from inboxlab.engine.crm.rules import LoggingRules
from inboxlab.engine.crm.send import SmtpSubmitter
from inboxlab.engine.crm.sentcopy import CopyPolicy, SentCopier
from inboxlab.engine.db import Database
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.replies import deliver_replies
from inboxlab.engine.roles import Role
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import SmtpServer
from inboxlab.engine.sync import discover_roles, scan_folder
from inboxlab.fakeserver.config import AccountConfig, Capabilities, FolderConfig, ServerConfig
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.imap.hooks import ServerHooks
from inboxlab.fakeserver.imap.server import FakeImapServer
from inboxlab.fakeserver.smtp.config import PersonaSpec, SmtpConfig, SmtpFault
from inboxlab.fakeserver.smtp.server import FakeSmtpServer
from inboxlab.harness.implicit import database_bytes

USER, PASSWORD = "sam@crm.test", "lab password"
SAM = Address(USER, "Sam Seller")


@dataclass
class Lab:
    imap: FakeImapServer
    smtp: FakeSmtpServer
    tmp: Path
    db: Database
    store: CrmStore
    logger: InboxLogger
    outbox: Outbox
    copier: SentCopier
    client: ImapClient
    sent_folder: str
    clients: list[ImapClient] = field(default_factory=list)

    async def connect(self) -> ImapClient:
        client = ImapClient(self.imap.host, self.imap.port, security="plain", timeout=10)
        await client.connect()
        await client.login(Credentials(USER, Secret(PASSWORD)))
        self.clients.append(client)
        return client

    async def scan(self, folder: str = "INBOX", *, refresh: bool = True) -> int:
        """One scan pass of ``folder`` into the logger, then the body fetches."""
        if refresh:
            await self.logger.refresh()
        checkpoints = CheckpointStore(self.db)

        async def replies_since_reset() -> int | None:  # what the account's scanner does
            ids = self.logger.tracked_ids()
            if not ids:
                return None
            return await deliver_replies(self.client, checkpoints, USER, folder, ids,
                                         self.logger.sink)

        await scan_folder(self.client, checkpoints, USER, folder, self.logger.sink,
                          on_reset=replies_since_reset)
        return await self.logger.fetch_and_log(self.client)

    def folder_ids(self, folder: str) -> list[str]:
        """Message-IDs in a folder of the fake store (the server's truth)."""
        box = self.imap.store.authenticate(USER, PASSWORD).get(folder)  # type: ignore[union-attr]
        out = []
        for uid in box.uids():
            raw = box.raw(uid)
            for line in raw.split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    out.append(line.split(b":", 1)[1].strip().decode())
                    break
        return out

    async def count(self, sql: str, *params: object) -> int:
        return int(await self.db.scalar(sql, params) or 0)  # type: ignore[call-overload]

    async def restart(self, **outbox_kw: Any) -> Outbox:
        """A new process: fresh database connection, SMTP connection and copier."""
        await self.outbox.submitter.close()
        await self.copier.close()
        await self.db.close()
        self.db = await Database.open(self.tmp / "engine.db")
        self.store = CrmStore(self.db, AttachmentStore(self.tmp / "files"))
        self.copier = SentCopier(self.connect, self.sent_folder, self.copier.policy)
        self.outbox = Outbox(self.store, self.outbox.submitter, self.copier, SAM,
                             rng=random.Random(99), **outbox_kw)
        self.logger.store = self.store
        return self.outbox


def sqlite_bytes(path: Path) -> bytes:
    """Every page of the database (its WAL's frames included), read through SQLite: the
    test's own Database holds the file open, and a read_bytes() outside SQLite would drop
    that connection's POSIX locks (harness.implicit.database_bytes says why)."""
    return database_bytes(path)


def tree_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() + p.name.encode() for p in sorted(root.rglob("*"))
                    if p.is_file())


@asynccontextmanager
async def crm_lab(tmp: Path, *, personas: tuple[PersonaSpec, ...] = (),
                  special_use: bool = True, autosave: bool = False,
                  policy: CopyPolicy | None = None, rules: LoggingRules | None = None,
                  hooks: ServerHooks | None = None,
                  crash: Callable[[str], None] | None = None,
                  uncertain: str = "resend", sent_messages: int = 0,
                  faults: tuple[SmtpFault, ...] = (),
                  trace: Any = None) -> AsyncIterator[Lab]:
    sent = "Sent" if special_use else "Gesendet"
    history = GenSpec(count=sent_messages, seed=3, owner=USER) if sent_messages else None
    folders = (FolderConfig("INBOX"),
               FolderConfig(sent, special_use=("\\Sent",) if special_use else (),
                            generated=history),
               FolderConfig("Presentations"))
    config = ServerConfig(accounts=(AccountConfig(USER, PASSWORD, folders),),
                          capabilities=Capabilities(special_use=special_use))
    async with FakeImapServer(config, hooks=hooks) as imap:
        smtp_config = SmtpConfig(personas=personas, faults=faults,
                                 autosave_sent_folder=sent if autosave else None)
        async with FakeSmtpServer.for_store(smtp_config, imap.store, tls=imap.tls) as smtp:
            db = await Database.open(tmp / "engine.db")
            store = CrmStore(db, AttachmentStore(tmp / "files"))
            lab = Lab(imap, smtp, tmp, db, store, InboxLogger(store, rules or LoggingRules(),
                                                             [USER]),
                      None, None, None, sent)  # type: ignore[arg-type]
            lab.client = await lab.connect()
            roles = await discover_roles(lab.client)
            chosen = roles[Role.SENT].folder
            assert chosen == sent, roles[Role.SENT]
            lab.copier = SentCopier(lab.connect, chosen, policy or CopyPolicy(
                autosave=None if autosave else False, detect_window=5.0))
            submitter = SmtpSubmitter(SmtpServer("127.0.0.1", smtp.port, "starttls"), USER,
                                      Secret(PASSWORD), tls_context=imap.client_ssl_context())
            lab.outbox = Outbox(store, submitter, lab.copier, SAM, rng=random.Random(5),
                                crash=crash, uncertain=uncertain,  # type: ignore[arg-type]
                                trace=trace)
            await lab.scan()  # the first sight of INBOX: start at UIDNEXT
            try:
                yield lab
            finally:
                await lab.outbox.submitter.close()
                await lab.copier.close()
                for c in lab.clients:
                    await c.close()
                await lab.db.close()
