"""Child process for the SIGKILL test: send one email and kill itself at a chosen step.

    python outbox_child.py DB_DIR IMAP_PORT SMTP_PORT CAFILE POINT
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import ssl
import sys
from pathlib import Path

from inboxlab.engine.crm.attachments import AttachmentStore
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.outbox import Outbox
from inboxlab.engine.crm.records import CrmStore
from inboxlab.engine.crm.send import Draft, SmtpSubmitter
from inboxlab.engine.crm.sentcopy import CopyPolicy, SentCopier
from inboxlab.engine.db import Database
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import SmtpServer

USER, PASSWORD = "sam@crm.test", "lab password"


async def main(tmp: Path, imap_port: int, smtp_port: int, cafile: str, point: str) -> None:
    async def connect() -> ImapClient:
        client = ImapClient("127.0.0.1", imap_port, security="plain", timeout=10)
        await client.connect()
        await client.login(Credentials(USER, Secret(PASSWORD)))
        return client

    def crash(where: str) -> None:
        if where == point:
            os.kill(os.getpid(), signal.SIGKILL)

    db = await Database.open(tmp / "engine.db")
    store = CrmStore(db, AttachmentStore(tmp / "files"))
    submitter = SmtpSubmitter(SmtpServer("127.0.0.1", smtp_port, "starttls"), USER,
                              Secret(PASSWORD), tls_context=ssl.create_default_context(
                                  cafile=cafile))
    copier = SentCopier(connect, "Sent", CopyPolicy(autosave=False))
    outbox = Outbox(store, submitter, copier, Address(USER, "Sam"), rng=random.Random(8),
                    crash=crash)
    await outbox.send(Draft((Address("bob@client.test"),), "Killed", "Hi Bob"))


if __name__ == "__main__":
    a = sys.argv[1:]
    asyncio.run(main(Path(a[0]), int(a[1]), int(a[2]), a[3], a[4]))
