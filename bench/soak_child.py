"""The product, as the product-path soak runs it in a child process it SIGKILLs at will.

Wired the way the TUI wires it (``tui.bridge.EngineBridge._start_account``): the real
``Account`` (Scanner, IDLE watcher, supervisor backoff, ``on_reset``) whose sink, tracked
set and after-pass hook are a ``tui.bridge.crm.CrmBridge``; the CrmBridge's outbox sends,
and ``CrmBridge.resume()`` finishes what an earlier (killed) run left. Nothing here knows
it is being killed: every start is an ordinary start on the same data directory.

The workload it drives itself: ``--sends`` emails, one per subject ``Soak <k>``, to the
personas, each sent only if no thread with that subject exists yet (a restart does not
send again what a killed run already queued), and 600 extra tracked Message-IDs (earlier
threads), so the tracked set is past the old 500 limit.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import os
import random
import signal
import ssl
import sys
import time
from pathlib import Path
from typing import Any

from inboxlab.engine.account import Account
from inboxlab.engine.account_options import AccountOptions
from inboxlab.engine.backoff import BackoffPolicy
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.rules import LoggingRules
from inboxlab.engine.crm.send import Draft
from inboxlab.engine.errors import EngineError
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer, SmtpServer
from inboxlab.tui.bridge.crm import CrmBridge, CrmWiring

OLD_TRACKED = 600
BACKOFF = BackoffPolicy(base_min=0.05, base_max=0.2, factor=1.5, cap=1.0, short_session=30.0,
                        strike_factor=2.0, strike_cap=2.0)


def say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def subject(k: int) -> str:
    return f"Soak {k}"


async def run(args: argparse.Namespace) -> None:
    work = Path(args.work)
    tls = ssl.create_default_context(cafile=args.ca)
    secret = Secret(args.password)
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[Any]] = set()

    async def open_client(purpose: str) -> ImapClient:
        client = ImapClient(args.host, args.port, security="tls", ssl_context=tls,
                            timeout=args.timeout, connect_timeout=args.timeout)
        await client.connect()
        await client.login(Credentials(args.user, secret))
        return client

    async def close_client(client: ImapClient, purpose: str) -> None:
        await client.close()

    def spawn(coro: Any, name: str) -> asyncio.Task[Any]:
        task = loop.create_task(coro, name=name)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    crm = CrmBridge(submit=lambda coro: asyncio.run_coroutine_threadsafe(coro, loop),
                    post=lambda message: None, spawn=spawn, open_client=open_client,
                    close_client=close_client, trace=lambda name, info: None,
                    rng=random.Random())  # a restart must not reuse Message-IDs
    db_path = work / "engine.db"
    smtp = SmtpServer(args.host, args.smtp_port, "tls")
    await crm.start(CrmWiring(args.user, db_path, work / "files", smtp, secret, tls, "Sent",
                              LoggingRules()))
    assert crm.store is not None and crm.outbox is not None and crm.logger is not None
    crm.outbox.submitter.timeout = args.timeout
    store, outbox, logger = crm.store, crm.outbox, crm.logger
    if await store.thread_of("<old.0@soak.test>") is None:
        old = await store.new_thread("earlier", None, "sent", ("old@client.test",), ())
        await store.track(old, [f"<old.{n}@soak.test>" for n in range(OLD_TRACKED)])
        await logger.refresh()
    settings = AccountSettings(args.user, ImapServer(args.host, args.port, "tls"), smtp=smtp)
    options = AccountOptions(folders="all", cafile=args.ca, poll_interval=1.0,
                             idle_refresh=5.0, connect_timeout=args.timeout,
                             command_timeout=args.timeout, backoff=BACKOFF)
    account = Account(settings, secret, db_path, rng=random.Random(), options=options,
                      sink=crm.sink, tracked=crm.tracked_ids, after_pass=crm.after_pass)
    first_pass = asyncio.Event()
    account.subscribe(lambda event: first_pass.set() if account.passes >= 1 else None)
    account.subscribe(lambda event: say(repr(event)[:300]))
    await account.start()
    await first_pass.wait()
    say(f"first pass done (pid {os.getpid()})")
    personas = [f"p{i}@client.test" for i in range(args.personas)]
    while True:
        done = await crm.resume()
        if done:
            say(f"resumed {done} record(s)")
        for k in range(args.sends):
            if await store.db.scalar("SELECT 1 FROM threads WHERE subject = ?", (subject(k),)):
                continue
            to = personas[k % len(personas)]
            cid = await store.upsert_contact(to, f"Persona {k % len(personas)}")
            try:
                mid = await outbox.enqueue(Draft((Address(to),), subject(k), f"Mail {k}.\n"),
                                           contact_id=cid)
                await logger.refresh()  # the reply search knows the new Message-ID
                await outbox.run(mid)
            except EngineError:
                pass  # kept on the record; resume() retries it
            await asyncio.sleep(args.pace)
        await asyncio.sleep(0.3)


def main() -> None:
    faulthandler.register(signal.SIGUSR1)  # the soak asks for the stacks of a stuck child
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("work", "host", "ca", "user", "password"):
        p.add_argument(f"--{name}", required=True)
    for name in ("port", "smtp-port", "sends", "personas"):
        p.add_argument(f"--{name}", type=int, required=True)
    p.add_argument("--timeout", type=float, default=3.0)
    p.add_argument("--pace", type=float, default=0.1)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
