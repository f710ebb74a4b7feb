"""CRM sending on loopback fakes: send + Sent copy per message, and 1000 templated sends.

    python -m bench.crm_send                     # 200 single sends, 1000 templated sends
    python -m bench.crm_send --single 500 --bulk 1000 --json
    python -m bench.crm_send --single 100 --bulk 0 --sent-history 100000

The fake IMAP and SMTP servers run on the same event loop as the engine (as in the test
lab), so every figure includes the servers' own work: it is an upper bound for the
engine's share. Each send is the full outbox path: queued (commit) -> SMTP submission
over STARTTLS on a reused connection -> submitted (commit) -> bounded
``UID SEARCH UID n:* HEADER Message-ID`` + ``APPEND (\\Seen)`` to Sent -> copied
(commit) -> the outgoing email logged to its contact -> logged (commit).

CPU time (``time.process_time``, engine + both servers) is printed next to wall time: on
a shared 2-core machine the wall figures move with other load, the CPU figures much less.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from inboxlab.engine.crm.attachments import AttachmentStore
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.outbox import Outbox
from inboxlab.engine.crm.records import CrmStore
from inboxlab.engine.crm.send import Draft, SmtpSubmitter
from inboxlab.engine.crm.sentcopy import CopyPolicy, SentCopier
from inboxlab.engine.crm.templates import RateLimiter, Template, bulk_send
from inboxlab.engine.db import Database
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import SmtpServer
from inboxlab.fakeserver.config import AccountConfig, FolderConfig, ServerConfig
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.imap.server import FakeImapServer
from inboxlab.fakeserver.smtp.config import SmtpConfig
from inboxlab.fakeserver.smtp.server import FakeSmtpServer

USER, PASSWORD = "sam@crm.test", "bench-pass"


async def run(single: int, bulk: int, sent_history: int = 0) -> dict[str, Any]:
    history = GenSpec(count=sent_history, seed=7, owner=USER) if sent_history else None
    folders = (FolderConfig("INBOX"),
               FolderConfig("Sent", special_use=("\\Sent",), generated=history))
    config = ServerConfig(accounts=(AccountConfig(USER, PASSWORD, folders),))
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeImapServer(config) as imap, FakeSmtpServer.for_store(
                SmtpConfig(), imap.store, tls=imap.tls) as smtp:

            async def connect() -> ImapClient:
                client = ImapClient(imap.host, imap.port, security="plain", timeout=30)
                await client.connect()
                await client.login(Credentials(USER, Secret(PASSWORD)))
                return client

            db = await Database.open(Path(tmp) / "engine.db")
            store = CrmStore(db, AttachmentStore(Path(tmp) / "files"))
            copier = SentCopier(connect, "Sent", CopyPolicy(autosave=False))
            submitter = SmtpSubmitter(SmtpServer("127.0.0.1", smtp.port, "starttls"), USER,
                                      Secret(PASSWORD), tls_context=imap.client_ssl_context())
            outbox = Outbox(store, submitter, copier, Address(USER, "Sam"),
                            rng=random.Random(1))
            await outbox.send(Draft((Address("warm@up.test"),), "warm-up", "x"))
            times = []
            cpu0 = time.process_time()
            for n in range(single):
                draft = Draft((Address(f"c{n}@client{n % 9}.test", f"C {n}"),),
                              f"Quote {n}", "Hello,\nthe quote.\n")
                t0 = time.perf_counter()
                await outbox.send(draft)
                times.append(time.perf_counter() - t0)
            cpu = (time.process_time() - cpu0) / max(1, single)
            times.sort()
            out["single"] = {
                "cpu_ms": cpu * 1000,
                "messages": single, "mean_ms": statistics.fmean(times) * 1000,
                "median_ms": times[len(times) // 2] * 1000,
                "p95_ms": times[int(len(times) * 0.95) - 1] * 1000,
                "appends": copier.appends,
            }
            contacts = []
            for n in range(bulk):
                cid = await store.upsert_contact(f"b{n}@firm{n % 13}.test", f"Bea{n} Bulk")
                contact = await store.contact(cid)
                assert contact is not None
                contacts.append(contact)
            template = Template("bench", "Offer for {{company}}", "Hi {{first_name}},\ndeal.\n")
            t0, cpu0 = time.perf_counter(), time.process_time()
            result = await bulk_send(outbox, template, contacts,
                                     limiter=RateLimiter(1e6, burst=bulk))
            elapsed = time.perf_counter() - t0
            assert not result.failed, result.failed[:3]
            out["bulk"] = {"messages": bulk, "seconds": elapsed,
                           "cpu_seconds": time.process_time() - cpu0,
                           "per_message_ms": elapsed / max(1, bulk) * 1000}
            await submitter.close()
            await copier.close()
            await db.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=200)
    parser.add_argument("--bulk", type=int, default=1000)
    parser.add_argument("--sent-history", type=int, default=0,
                        help="messages already in Sent (e.g. 100000, as exchange-100k-sent)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.single, args.bulk, args.sent_history))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    s, b = result["single"], result["bulk"]
    print(f"send + Sent copy: {s['messages']} messages, mean {s['mean_ms']:.1f} ms, "
          f"median {s['median_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms, "
          f"CPU {s['cpu_ms']:.1f} ms (target <= 20 ms)")
    print(f"templated bulk:   {b['messages']} messages in {b['seconds']:.1f} s "
          f"({b['per_message_ms']:.1f} ms each, CPU {b['cpu_seconds']:.1f} s; target <= 30 s)")


if __name__ == "__main__":
    main()
