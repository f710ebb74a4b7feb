"""Chaos soak: the engine's CRM loop against the fake servers while faults rain down.

    python bench/soak.py                      # the long run: 100k INBOX, 200 sends, 120 faults
    python bench/soak.py --messages 3000 --sends 30 --faults 20   # what the suite runs

Workload: an INBOX of ``--messages`` generated (untracked) messages scanned from the
start, ``--sends`` emails sent from CRM records to personas who reply (so as many
replies arrive), and at least ``--faults`` faults drawn from ``--seed`` across both
layers: transport (reset, close mid-response, tarpit), IMAP (BYE UNAVAILABLE, throttling,
a cut mid-literal, UIDVALIDITY reset of INBOX, NO to a command) and SMTP (421 at a drawn
stage). The engine loop is what a connector does: scan INBOX (checkpointed batches),
search for replies to tracked mail, log them, run the outbox; on any engine error it
drops the connection and retries after a short backoff.

At the end the invariants are checked against the servers' truth and printed as figures;
the exit status is 0 only if they all hold.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import ssl
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.checkpoints import CheckpointStore
from engine.crm.attachments import AttachmentStore
from engine.crm.inbox import InboxLogger
from engine.crm.ingest import Address
from engine.crm.outbox import Outbox
from engine.crm.records import CrmStore
from engine.crm.rules import LoggingRules
from engine.crm.send import Draft, SmtpSubmitter
from engine.crm.sentcopy import CopyPolicy, SentCopier
from engine.db import Database
from engine.errors import EngineError
from engine.imap.client import ImapClient
from engine.imap.results import Credentials
from engine.secrets import Secret
from engine.settings import SmtpServer
from engine.sync import ScannedMessage, scan_folder
from fakeserver.scenario import model as m
from fakeserver.scenario.load import loads
from fakeserver.scenario.serve import ScenarioServer
from fakeserver.smtp.config import SmtpFault

_TESTS = Path(__file__).resolve().parent.parent / "tests"
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))

from scenario_text import header  # noqa: E402  (tests/ is not a package, as in bench/dovecot.py)

USER, PASSWORD = "sam@crm.test", "soak-Pa55"
PERSONAS = 10
TIMEOUT = 3.0  # the engine's configured command timeout for the run


def scenario_text(seed: int, messages: int, chance: float) -> str:
    personas = "\n".join(
        f'[[smtp.personas]]\naddress = "p{i}@client.test"\nname = "Persona {i}"\n'
        f'action = "reply"\nbody = "Reply from persona {i}."\n' for i in range(PERSONAS))
    # Faults that must answer a command in hand: drawn per command from the seed.
    chancy = "".join(
        f'\n[[timeline]]\nname = "{name}"\ntrigger = {{ probability = {chance}, seed = '
        f'{seed + k}, per = "command"{extra} }}\naction = {action}\n'
        for k, (name, extra, action) in enumerate((
            ("throttled", ', command_name = "UID FETCH"',
             '{ type = "throttle", style = "gmail" }'),
            ("cut mid-literal", ', command_name = "UID FETCH"', '{ type = "cut_mid_literal" }'),
            ("refused", ', command_name = "UID SEARCH"',
             '{ type = "no", text = "Server busy", code = "UNAVAILABLE" }'),
        )))
    return header(name="soak", seed=seed, user=USER, password=PASSWORD, count=messages) + f'''\
[[accounts.folders]]
name = "Sent"
special_use = ["\\\\Sent"]
[smtp]
{personas}{chancy}'''


@dataclass
class Figures:
    seed: int
    messages: int
    sends: int
    faults_fired: int = 0
    faults_by_kind: dict[str, int] = field(default_factory=dict)
    engine_errors: int = 0
    cycles: int = 0
    scanned: int = 0
    replies_on_server: int = 0
    replies_logged_once: int = 0
    replies_missing: int = 0
    replies_duplicated: int = 0
    submitted_once: int = 0
    submitted_twice_or_more: int = 0
    sent_copies_exactly_one: int = 0
    untracked_rows: int = 0
    longest_silence_s: float = 0.0
    longest_silence_at: str = ""
    longest_wait_s: float = 0.0
    loop_blocked_max_s: float = 0.0
    timeout_s: float = TIMEOUT
    seconds: float = 0.0
    ok: bool = False


class Soak:
    def __init__(self, srv: ScenarioServer, work: Path, args: argparse.Namespace) -> None:
        self.srv, self.work, self.args = srv, work, args
        self.rng = random.Random(args.seed)
        self.fig = Figures(args.seed, args.messages, args.sends)
        self.last_progress = time.monotonic()
        self.busy = False
        self.last_event = ""
        self.lag_total = self.lag_at_last = 0.0
        self.sending = True
        self.clients: list[ImapClient] = []

    # -- the "engine is never stuck" probe: the longest gap between client events while busy
    # The fake servers share this process's event loop: CPU work anywhere (a 100k-message
    # SEARCH in the fake server, parsing a batch of headers) blocks every task, timeouts
    # included. A heartbeat measures that lag; the engine's own waiting is the silence
    # minus the lag that happened inside it, and that is what must stay under the timeout.
    async def heartbeat(self) -> None:
        tick = 0.05
        while True:
            before = time.monotonic()
            await asyncio.sleep(tick)
            lag = time.monotonic() - before - tick
            self.lag_total += max(0.0, lag)
            self.fig.loop_blocked_max_s = max(self.fig.loop_blocked_max_s, round(lag, 3))

    def trace(self, name: str = "", *_a: Any, **_k: Any) -> None:
        now = time.monotonic()
        silence = now - self.last_progress
        waiting = silence - (self.lag_total - self.lag_at_last)
        if self.busy and silence > self.fig.longest_silence_s:
            self.fig.longest_silence_s = round(silence, 3)
            self.fig.longest_silence_at = f"{self.last_event} -> {name}"
        if self.busy and waiting > self.fig.longest_wait_s:
            self.fig.longest_wait_s = round(waiting, 3)
        self.last_progress, self.last_event, self.lag_at_last = now, name, self.lag_total

    async def connect(self) -> ImapClient:
        client = ImapClient(self.srv.host, self.srv.port, security="plain", timeout=TIMEOUT,
                            connect_timeout=TIMEOUT, trace=self.trace)
        self.clients.append(client)
        await client.connect()
        await client.login(Credentials(USER, Secret(PASSWORD)))
        return client

    async def setup(self) -> None:
        self.db = await Database.open(self.work / "engine.db")
        self.store = CrmStore(self.db, AttachmentStore(self.work / "files"))
        self.logger = InboxLogger(self.store, LoggingRules(), [USER])
        tls = ssl.create_default_context(cafile=str(self.srv.ca_pem_path))
        assert self.srv.smtp is not None
        self.submitter = SmtpSubmitter(SmtpServer("127.0.0.1", self.srv.smtp.port, "starttls"),
                                       USER, Secret(PASSWORD), tls_context=tls, timeout=TIMEOUT)
        self.copier = SentCopier(self.connect, "Sent", CopyPolicy(autosave=False,
                                                                  detect_window=2.0))
        self.outbox = Outbox(self.store, self.submitter, self.copier, Address(USER, "Sam"),
                             rng=random.Random(self.args.seed))

    # -- faults --------------------------------------------------------------------------

    def fire_one(self) -> None:
        assert self.srv.proxy is not None and self.srv.smtp is not None
        kinds = ["reset", "reset", "close", "tarpit", "bye", "uidvalidity"]
        if self.sending and not self.srv.smtp.faults.pending():
            kinds += ["smtp421"] * 4  # only while mail is going out: else it never fires
        kind = self.rng.choice(kinds)
        links = sorted(self.srv.proxy.links)
        conn = self.rng.choice(links) if links else None
        if kind == "smtp421":
            stage = self.rng.choice(("mail", "rcpt", "data"))  # per message: the open
            # connection is reused, so a connect/ehlo fault would wait for a reconnect
            self.srv.smtp.faults.arm(SmtpFault("421", stage))  # type: ignore[arg-type]
        elif kind == "uidvalidity":
            if self.fig.faults_by_kind.get("uidvalidity", 0) >= self.args.uidvalidity_resets:
                return
            self.srv.runtime.fire(m.UidValidityReset("INBOX"))
        elif conn is None:
            return
        else:
            action = {"reset": m.Reset(after_bytes=self.rng.randrange(0, 4096)),
                      "close": m.Close(after_bytes=self.rng.randrange(0, 4096)),
                      "tarpit": m.Tarpit(),
                      "bye": m.Bye("Server shutting down", code="UNAVAILABLE")}[kind]
            self.srv.runtime.fire(action, conn=conn)
        self.fig.faults_by_kind[kind] = self.fig.faults_by_kind.get(kind, 0) + 1

    async def chaos(self, stop: asyncio.Event) -> None:
        while not stop.is_set() and self.driver_faults() < self.args.faults:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.rng.uniform(0.05, 2 * self.args.fault_every)):
                    await stop.wait()
            if not stop.is_set():
                self.fire_one()

    def driver_faults(self) -> int:
        """Faults that happened so far: on links and the store, SMTP 421s that fired, and
        the command-bound IMAP faults the scenario drew."""
        assert self.srv.smtp is not None
        direct = sum(v for k, v in self.fig.faults_by_kind.items()
                     if "." not in k and k != "smtp421")
        drawn = sum(1 for r in self.srv.runtime.fired if r.event != "control")
        return direct + len(self.srv.smtp.faults.fired) + drawn

    # -- the engine loop -----------------------------------------------------------------

    async def cycle(self, queued: list[Draft]) -> None:
        # The outbox first: a long first scan cut short by faults must not starve sending.
        for _ in range(min(len(queued), self.args.sends_per_cycle)):
            await self.outbox.enqueue(queued.pop(0))
        await self.outbox.run_pending()
        client = await self.connect()
        try:
            await self.logger.refresh()
            def counted(message: ScannedMessage) -> Any:
                self.fig.scanned += 1  # every header the scan delivered, replays included
                return self.logger.sink(message)

            await scan_folder(client, CheckpointStore(self.db), USER, "INBOX", counted,
                              batch=500, backfill=self.args.messages)
            await self.logger.fetch_and_log(client)
        finally:
            with contextlib.suppress(Exception):
                await client.close()

    async def run(self) -> Figures:
        start = time.monotonic()
        await self.setup()
        drafts = [Draft((Address(f"p{i % PERSONAS}@client.test", f"Persona {i % PERSONAS}"),),
                        f"Offer {i}", f"Hello,\nour offer number {i}.\n")
                  for i in range(self.args.sends)]
        stop = asyncio.Event()
        chaos = asyncio.create_task(self.chaos(stop))
        beat = asyncio.create_task(self.heartbeat())
        calm = 0
        try:
            while calm < 2:
                self.fig.cycles += 1
                self.busy, self.last_progress = True, time.monotonic()
                try:
                    await self.cycle(drafts)
                except (EngineError, OSError, TimeoutError) as exc:
                    self.fig.engine_errors += 1
                    if self.args.verbose:
                        print("engine error:", type(exc).__name__, exc, file=sys.stderr)
                    await asyncio.sleep(0.05)  # backoff: a bench may pause, tests may not
                    continue
                finally:
                    self.busy = False
                all_logged = await self.replies_all_logged()
                self.sending = bool(drafts) or not all_logged
                done = not drafts and chaos.done() and all_logged
                calm = calm + 1 if done else 0
                if not drafts and all_logged:
                    await asyncio.sleep(0.02)  # only waiting for the last faults to fire
                if self.fig.cycles > self.args.max_cycles:
                    break
        finally:
            stop.set()
            chaos.cancel()
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await chaos
            await self.submitter.close()
            await self.copier.close()
        await self.check()
        await self.db.close()
        self.fig.seconds = round(time.monotonic() - start, 1)
        return self.fig

    def server_replies(self) -> dict[str, str]:
        """Message-ID -> In-Reply-To of every persona reply in INBOX (the server's truth)."""
        account = self.srv.store.authenticate(USER, PASSWORD)
        assert account is not None
        box = account.get("INBOX")
        out = {}
        for uid in box.uids()[self.args.messages:]:
            raw = box.raw(uid)
            head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
            fields = {k.strip().lower(): v.strip() for k, _, v in
                      (line.partition(":") for line in head.split("\r\n")) if k}
            if "in-reply-to" in fields and "message-id" in fields:
                out[fields["message-id"]] = fields["in-reply-to"]
        return out

    async def logged_ids(self) -> list[str]:
        async with self.db.transaction(write=False) as conn, conn.execute(
                "SELECT message_id FROM emails") as cur:
            return [str(r[0]) for r in await cur.fetchall()]

    async def replies_all_logged(self) -> bool:
        logged = set(await self.logged_ids())
        outbox = await self.outbox.records()
        return len(outbox) == self.args.sends and all(r.state.value == "logged" for r in outbox) \
            and set(self.server_replies()) <= logged \
            and len(self.server_replies()) >= self.args.sends

    async def check(self) -> None:
        f = self.fig
        assert self.srv.smtp is not None
        imap = [r for r in self.srv.runtime.fired if r.event != "control"]
        for rec in imap:
            key = f"imap.{rec.event}"
            f.faults_by_kind[key] = f.faults_by_kind.get(key, 0) + 1
        smtp = len(self.srv.smtp.faults.fired)
        f.faults_by_kind["smtp421.fired"] = smtp
        f.faults_fired = self.driver_faults()
        logged = await self.logged_ids()
        replies = self.server_replies()
        ours = {r.message_id for r in await self.outbox.records()}
        f.replies_on_server = len(replies)
        f.replies_logged_once = sum(1 for mid in replies if logged.count(mid) == 1)
        f.replies_missing = sum(1 for mid in replies if mid not in logged)
        f.replies_duplicated = sum(1 for mid in replies if logged.count(mid) > 1)
        sends: dict[str, int] = {}
        for d in self.srv.smtp.log.outside():
            mid = d.message()["Message-ID"]
            sends[mid] = sends.get(mid, 0) + 1
        f.submitted_once = sum(1 for mid in ours if sends.get(mid) == 1)
        f.submitted_twice_or_more = sum(1 for mid in ours if sends.get(mid, 0) > 1)
        account = self.srv.store.authenticate(USER, PASSWORD)
        assert account is not None
        sent = account.get("Sent")
        copies: dict[str, int] = {}
        for uid in sent.uids():
            for line in sent.raw(uid).split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    key = line.split(b":", 1)[1].strip().decode()
                    copies[key] = copies.get(key, 0) + 1
                    break
        f.sent_copies_exactly_one = sum(1 for mid in ours if copies.get(mid) == 1)
        f.untracked_rows = sum(1 for mid in logged if mid not in ours and mid not in replies)
        f.ok = (f.replies_logged_once == f.replies_on_server >= f.sends
                and f.submitted_once == f.sends and f.sent_copies_exactly_one == f.sends
                and f.untracked_rows == 0 and f.longest_wait_s <= TIMEOUT + 1.0
                and f.faults_fired >= self.args.faults)


async def soak(args: argparse.Namespace) -> Figures:
    scenario = loads(scenario_text(args.seed, args.messages, args.chance))
    with tempfile.TemporaryDirectory(prefix="inboxlab-soak-") as tmp:
        async with ScenarioServer(scenario, control_port=None) as srv:
            return await Soak(srv, Path(tmp), args).run()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--sends", type=int, default=200)
    p.add_argument("--faults", type=int, default=120, help="driver-fired faults (at least)")
    p.add_argument("--fault-every", type=float, default=0.5, help="mean seconds between faults")
    p.add_argument("--chance", type=float, default=0.01,
                   help="per-command probability of each command-bound IMAP fault")
    p.add_argument("--uidvalidity-resets", type=int, default=3)
    p.add_argument("--sends-per-cycle", type=int, default=1)
    p.add_argument("--max-cycles", type=int, default=5000)
    p.add_argument("--json", action="store_true")
    p.add_argument("--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    fig = asyncio.run(soak(args))
    if args.json:
        print(json.dumps(asdict(fig), indent=1))
    else:
        for k, v in asdict(fig).items():
            print(f"{k:28} {v}")
    return 0 if fig.ok else 1


if __name__ == "__main__":
    sys.exit(main())
