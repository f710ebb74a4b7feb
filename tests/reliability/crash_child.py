"""The engine as a separate process for crash-recovery tests (run by crash_harness.py).

``python crash_child.py '<json>'`` does one job against the fake servers named in the
JSON and exits 0, printing a JSON summary, unless ``INBOXLAB_CRASH_AT`` kills it first:

- ``send``: queue the draft (only if the outbox is empty), then ``run_pending()``
  (crash points ``outbox.<step>`` from ``engine.crm.outbox.CRASH_POINTS``);
- ``scan``: one scan of INBOX into the inbox logger, then the body fetches and logging
  (``scan.batch_commit`` after each checkpoint commit, ``scan.before_ingest``);
- ``bcc``: ingest the BCC mail in the file ``raw`` (``bcc.after_files``, ``bcc.after_log``).

Points outside ``engine.crm.outbox`` are reached by wrapping the engine's own objects
here, so the engine needs no test-only code beyond ``engine.crashpoints``.
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import sys
from pathlib import Path
from typing import Any

from inboxlab.engine.checkpoints import CheckpointStore
from inboxlab.engine.crashpoints import crashpoint
from inboxlab.engine.crm.attachments import AttachmentStore
from inboxlab.engine.crm.bcc import BccIngest
from inboxlab.engine.crm.inbox import InboxLogger
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.outbox import Outbox
from inboxlab.engine.crm.records import CrmStore
from inboxlab.engine.crm.rules import LoggingRules
from inboxlab.engine.crm.send import Draft, SmtpSubmitter
from inboxlab.engine.crm.sentcopy import CopyPolicy, SentCopier
from inboxlab.engine.db import Database
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import SmtpServer
from inboxlab.engine.sync import scan_folder


class CrashingCheckpoints(CheckpointStore):
    async def put(self, *args: Any, **kw: Any) -> Any:
        out = await super().put(*args, **kw)
        crashpoint("scan.batch_commit")
        return out


async def main(cfg: dict[str, Any], raw_bcc: bytes = b"") -> dict[str, Any]:
    user, password = cfg["user"], cfg["password"]
    db = await Database.open(cfg["db"])
    files = AttachmentStore(cfg["files"])
    store = CrmStore(db, files)
    clients: list[ImapClient] = []

    async def connect() -> ImapClient:
        client = ImapClient("127.0.0.1", cfg["imap_port"], security="plain", timeout=10)
        await client.connect()
        await client.login(Credentials(user, Secret(password)))
        clients.append(client)
        return client

    out: dict[str, Any] = {"job": cfg["job"]}
    try:
        if cfg["job"] == "send":
            tls = ssl.create_default_context(cafile=cfg["ca"])
            submitter = SmtpSubmitter(SmtpServer("127.0.0.1", cfg["smtp_port"], "starttls"),
                                      user, Secret(password), tls_context=tls, timeout=10)
            copier = SentCopier(connect, cfg["sent"], CopyPolicy(autosave=False,
                                                                 detect_window=5.0))
            outbox = Outbox(store, submitter, copier, Address(user, "Sam Seller"),
                            rng=random.Random(cfg.get("seed", 1)),
                            crash=lambda point: crashpoint(f"outbox.{point}"))
            if not await outbox.records():
                to = Address(cfg["to"], "Bob Buyer")
                await outbox.enqueue(Draft((to,), cfg["subject"], "Hi Bob,\nthe quote.\n"))
            done = await outbox.run_pending()
            out["states"] = [r.state.value for r in done]
            await submitter.close()
            await copier.close()
        elif cfg["job"] == "scan":
            logger = InboxLogger(store, LoggingRules(), [user])
            await logger.refresh()
            client = await connect()
            result = await scan_folder(client, CrashingCheckpoints(db), user, "INBOX",
                                       logger.sink, batch=cfg.get("batch", 500))
            crashpoint("scan.before_ingest")
            out["delivered"] = result.delivered
            out["logged"] = await logger.fetch_and_log(client)
        elif cfg["job"] == "bcc":
            put = files.put

            def put_then_crash(data: bytes) -> str:
                digest = put(data)
                crashpoint("bcc.after_files")
                return digest

            files.put = put_then_crash  # type: ignore[method-assign]
            ingest = BccIngest(store, [user])
            result = await ingest.ingest(user, raw_bcc)
            crashpoint("bcc.after_log")
            out["logged"], out["reply"] = result.logged, result.reply
        else:
            raise SystemExit(f"unknown job {cfg['job']!r}")
    finally:
        for c in clients:
            await c.close()
        await db.close()
    return out


if __name__ == "__main__":
    config = json.loads(sys.argv[1])
    raw = Path(config["raw"]).read_bytes() if config.get("raw") else b""
    print(json.dumps(asyncio.run(main(config, raw)), default=str))
