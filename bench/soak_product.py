"""Product-path soak: the TUI's own engine + CRM wiring, SIGKILLed at random, restarted.

    python -m bench.soak_product                   # 3 seeds, the long run
    python -m bench.soak_product --seeds 8 --sends 6 --kills 4 --messages 200 --plant
                                                   # what make test runs (and plants faults)

It drives what a person runs, not a loop of its own: ``bench/soak_child.py`` is the
real ``Account`` (Scanner, IDLE watcher, supervisor backoff, ``on_reset``) with the
``CrmBridge`` sink / tracked set / after-pass hook and its outbox, exactly as
``tui.bridge`` wires them, in a child process. This parent serves the fake IMAP/SMTP
servers in-process, kills the child with SIGKILL at seeded random moments, checks
``PRAGMA integrity_check`` on its database after every kill, and restarts it.
Workload, besides the child's sends and its 600+ tracked IDs:

- persona replies to every send; every third send also gets a reply *without* a
  Message-ID (appended by "another client");
- "another client" moves recent INBOX messages to Archive all the time;
- the SMTP server stores a message and then drops the connection after the final dot
  (``drop_after_data``), or answers 421 at a drawn stage;
- INBOX's UIDVALIDITY is reset while the child is dead;
- faults on the live IMAP connections (reset, close mid-response, tarpit,
  ``BYE [UNAVAILABLE]``) fired at random, and command-bound IMAP faults drawn per
  command (Gmail-style throttling and a cut mid-literal on UID FETCH, ``NO [UNAVAILABLE]``
  on UID SEARCH);
- an INBOX of ``--messages`` untracked messages the scanner must get through.

The invariants are counted from the servers' state (the fake mailboxes, the SMTP
delivery log) and the SQLite file, never from the engine's counters; the exit status is
0 only if all hold for every seed. Duplicates and losses are counted twice over: by the
engine's identity of a message (Message-ID or digest) and by subject against the copies on
the server, so a duplicate under a second identity is still one. ``--plant`` then shows
the judge can fail: it tampers with a copy of the final evidence (a logged reply deleted,
a reply logged again under another identity, the send's log row deleted, a second Sent
copy, a corrupted page) and reports what the same checks say about it under ``planted``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from email import policy
from pathlib import Path
from typing import Any

from inboxlab.engine.crm.ingest import identity_of, parse_headers
from inboxlab.fakeserver.folder import Folder
from inboxlab.fakeserver.scenario import model as m
from inboxlab.fakeserver.scenario.load import loads
from inboxlab.fakeserver.scenario.serve import ScenarioServer
from inboxlab.fakeserver.smtp.config import SmtpFault

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from scenario_text import header  # noqa: E402  (tests/ is not a package, as in bench/dovecot.py)

USER, PASSWORD = "sam@crm.test", "soak-Pa55"
PERSONAS = 10
PLANTS = ("lost-reply", "duplicate-reply", "lost-send-log", "second-sent-copy", "corrupt-page")


def scenario_text(seed: int, messages: int, chance: float) -> str:
    """An INBOX of ``messages``, a Sent folder, 10 personas who reply, and the IMAP faults
    drawn per command from ``seed`` with probability ``chance``."""
    personas = "\n".join(
        f'[[smtp.personas]]\naddress = "p{i}@client.test"\nname = "Persona {i}"\n'
        f'action = "reply"\nbody = "Reply from persona {i}."\n' for i in range(PERSONAS))
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
    messages: int  # untracked INBOX messages at the start
    sends: int
    kills: int = 0
    integrity_ok_after_kill: int = 0
    uidvalidity_resets_offline: int = 0
    moved_by_other_client: int = 0
    no_id_replies: int = 0
    link_faults: dict[str, int] = field(default_factory=dict)
    smtp_faults_fired: dict[str, int] = field(default_factory=dict)
    imap_faults_fired: int = 0
    tracked_ids: int = 0
    sends_threads_once: int = 0  # one thread (one queued send) per subject
    sends_delivered: int = 0  # reached the persona at least once
    sends_delivered_twice: int = 0  # at-least-once after an uncertain outcome
    sent_copies_exactly_one: int = 0
    sent_logged_once: int = 0
    replies_on_server: int = 0
    replies_logged_once: int = 0
    replies_missing: int = 0
    replies_duplicated: int = 0
    duplicates: int = 0  # rows beyond the server's copies, by subject (any identity)
    losses: int = 0  # server messages (replies, sends) without a row, by subject
    malformed: int = 0
    untracked_rows: int = 0
    pending_left: int = 0  # crm_pending rows the run left behind
    outbox_states: dict[str, int] = field(default_factory=dict)
    outbox_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    ok: bool = False
    planted: dict[str, Any] | None = None


def _raw_of(box: Folder) -> list[bytes]:
    return [box.raw(uid) for uid in box.uids()]


def _header(raw: bytes, name: str) -> str:
    return str(email.message_from_bytes(raw, policy=policy.default)[name])


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` of ``path``'s database ("ok"), or what is wrong with it."""
    if not path.exists():
        return "ok"
    try:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return f"unreadable: {exc}"


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def verdict(f: Figures) -> bool:
    """Every invariant, from the figures the judge counted."""
    return (f.integrity_ok_after_kill == f.kills
            and f.sends_threads_once == f.sends == sum(f.outbox_states.values())
            and f.outbox_states.get("logged", 0) == f.sends
            and f.sends_delivered == f.sends
            and f.sends_delivered_twice <= f.smtp_faults_fired.get("drop_after_data", 0)
            + f.kills
            and f.sent_copies_exactly_one == f.sends == f.sent_logged_once
            and f.replies_on_server >= f.sends and f.replies_missing == 0
            and f.replies_duplicated == 0 and f.duplicates == 0 and f.losses == 0
            and f.malformed == 0 and f.untracked_rows == 0 and f.pending_left == 0
            and f.tracked_ids > 500)


class ProductSoak:
    def __init__(self, srv: ScenarioServer, work: Path, args: argparse.Namespace,
                 seed: int) -> None:
        self.srv, self.work, self.args = srv, work, args
        self.db = work / "engine.db"
        self.rng = random.Random(seed)
        self.fig = Figures(seed, args.messages, args.sends)
        account = srv.imap.store.authenticate(USER, PASSWORD)
        assert account is not None
        self.account = account
        self.archive = account.create("Archive", special_use=("\\Archive",))
        self.no_id_done: set[str] = set()
        self.child: asyncio.subprocess.Process | None = None
        self.log_file: Any = None

    # -- the child -------------------------------------------------------------------

    async def start_child(self) -> None:
        assert self.srv.smtp is not None and self.srv.smtp.tls_port is not None
        self.child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.soak_child", "--work", str(self.work),
            "--host", self.srv.host, "--port", str(self.srv.tls_port),
            "--smtp-port", str(self.srv.smtp.tls_port), "--ca", str(self.srv.ca_pem_path),
            "--user", USER, "--password", PASSWORD, "--sends", str(self.args.sends),
            "--personas", str(PERSONAS), "--timeout", "3",
            cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=self.child_log())

    def child_log(self) -> Any:
        self.log_file = open(self.work / "child.log", "ab")  # closed at kill
        return self.log_file

    async def kill_child(self) -> None:
        child, self.child = self.child, None
        if child is None:
            return
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGKILL)
        await child.wait()
        self.log_file.close()
        self.fig.kills += 1
        if integrity(self.db) == "ok":
            self.fig.integrity_ok_after_kill += 1

    # -- the other client and the faults ---------------------------------------------

    def other_client(self) -> None:
        """Move a recent INBOX message to Archive; answer every third send without an id."""
        inbox = self.account.get("INBOX")
        uids = list(inbox.uids())[-10:]
        if uids and self.rng.random() < 0.5:
            uid = self.rng.choice(uids)
            inbox.copy_to([uid], self.archive)
            inbox.remove([uid])
            self.fig.moved_by_other_client += 1
        assert self.srv.smtp is not None
        for d in self.srv.smtp.log.outside():
            msg = d.message()
            mid, subj = str(msg["Message-ID"]), str(msg["Subject"])
            k = int(subj.split()[-1]) if subj.startswith("Soak ") else -1
            if k % 3 == 0 and mid not in self.no_id_done:
                self.no_id_done.add(mid)
                inbox.append((f"From: {d.rcpt}\r\nTo: {USER}\r\nSubject: Re: {subj} (no id)\r\n"
                              f"Date: Tue, 03 Dec 2024 10:00:{k % 60:02d} +0000\r\n"
                              f"In-Reply-To: {mid}\r\n\r\nNo id here.\r\n").encode())
                self.fig.no_id_replies += 1

    def smtp_fault(self) -> None:
        assert self.srv.smtp is not None
        if self.srv.smtp.faults.pending():
            return
        kind = self.rng.choice(("drop_after_data", "421"))
        stage = "data" if kind == "drop_after_data" else self.rng.choice(("mail", "rcpt", "data"))
        self.srv.smtp.faults.arm(SmtpFault(kind, stage))  # type: ignore[arg-type]

    def link_fault(self) -> None:
        """A fault on one live IMAP connection of the child (through the fault proxy)."""
        assert self.srv.proxy is not None
        links = sorted(self.srv.proxy.links)
        if not links:
            return
        kind = self.rng.choice(("reset", "reset", "close", "tarpit", "bye"))
        action = {"reset": m.Reset(after_bytes=self.rng.randrange(0, 4096)),
                  "close": m.Close(after_bytes=self.rng.randrange(0, 4096)),
                  "tarpit": m.Tarpit(),
                  "bye": m.Bye("Server shutting down", code="UNAVAILABLE")}[kind]
        self.srv.runtime.fire(action, conn=self.rng.choice(links))
        self.fig.link_faults[kind] = self.fig.link_faults.get(kind, 0) + 1

    async def between(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.other_client()
            if self.rng.random() < 0.3:
                self.smtp_fault()
            if self.rng.random() < self.args.link_faults:
                self.link_fault()
            await asyncio.sleep(0.1)

    # -- the run ------------------------------------------------------------------------

    async def run(self) -> Figures:
        started = time.monotonic()
        for n in range(self.args.kills):
            await self.start_child()
            await self.between(self.rng.uniform(0.5, self.args.kill_every * 2 - 0.5))
            await self.kill_child()
            if n % 2 == 1:  # offline: the server renumbers INBOX
                self.srv.imap.store.reset_uidvalidity(self.account.get("INBOX"))
                self.fig.uidvalidity_resets_offline += 1
        assert self.srv.smtp is not None
        self.srv.smtp.faults.clear()
        await self.start_child()  # the last start: no more kills, let it finish
        deadline = time.monotonic() + self.args.settle
        while time.monotonic() < deadline:
            self.other_client()
            await asyncio.sleep(0.5)
            if self.settled():
                break
        else:
            if self.child is not None:  # stuck: its stacks go to child.log
                self.child.send_signal(signal.SIGUSR1)
                await asyncio.sleep(0.5)
        await self.kill_child()
        self.check(self.fig, self.db)
        if self.args.plant:
            self.fig.planted = self.plant()
        self.fig.seconds = round(time.monotonic() - started, 1)
        return self.fig

    def server_replies(self) -> dict[str, str]:
        """Every reply to one of our sends on the server (INBOX + Archive): the engine's
        identity of it -> its subject, from the mailboxes themselves."""
        ours = set(self.our_sends().values())
        out: dict[str, str] = {}
        for box in (self.account.get("INBOX"), self.archive):
            for raw in _raw_of(box):
                headers = parse_headers(raw)
                if set(headers.in_reply_to) & ours:
                    out[identity_of(headers, len(raw))] = _header(raw, "Subject")
        return out

    def our_sends(self) -> dict[str, str]:
        """Subject -> Message-ID of the sends the SMTP server received."""
        assert self.srv.smtp is not None
        return {str(d.message()["Subject"]): str(d.message()["Message-ID"])
                for d in self.srv.smtp.log.outside()}

    def settled(self) -> bool:
        if self.srv.smtp is None or (self.srv.smtp.personas and self.srv.smtp.personas.waiting):
            return False
        if len(self.our_sends()) < self.args.sends:
            return False
        try:
            unfinished = rows(self.db, "SELECT count(*) FROM outbox WHERE state != 'logged'")
            logged = {r[0] for r in rows(self.db, "SELECT identity FROM emails")}
            pending = rows(self.db, "SELECT count(*) FROM crm_pending")
        except sqlite3.Error:
            return False
        return (unfinished[0][0] == 0 and pending[0][0] == 0
                and set(self.server_replies()) <= logged)

    def check(self, f: Figures, db: Path) -> None:
        """Count every figure from the servers' state and the SQLite file ``db``."""
        assert self.srv.smtp is not None
        f.smtp_faults_fired = dict(Counter(fired.kind for fired in self.srv.smtp.faults.fired))
        f.imap_faults_fired = sum(1 for r in self.srv.runtime.fired if r.event != "control")
        f.tracked_ids = rows(db, "SELECT count(*) FROM tracked_ids")[0][0]
        subjects = [f"Soak {k}" for k in range(self.args.sends)]
        threads = dict(rows(
            db, "SELECT subject, count(*) FROM threads WHERE origin = 'sent' GROUP BY subject"))
        f.sends_threads_once = sum(threads.get(s) == 1 for s in subjects)
        deliveries = Counter(str(d.message()["Message-ID"]) for d in self.srv.smtp.log.outside())
        outbox = dict(rows(db, "SELECT message_id, state FROM outbox"))
        f.outbox_states = dict(Counter(outbox.values()))
        f.outbox_errors = [str(r[0]) for r in rows(
            db, "SELECT last_error FROM outbox WHERE state != 'logged'")]
        f.sends_delivered = sum(1 for mid in outbox if deliveries[mid] >= 1)
        f.sends_delivered_twice = sum(1 for mid in outbox if deliveries[mid] >= 2)
        sent_ids = Counter(_header(raw, "Message-ID") for raw in _raw_of(self.account.get("Sent")))
        f.sent_copies_exactly_one = sum(1 for mid in outbox if sent_ids[mid] == 1)
        logged = Counter(r[0] for r in rows(db, "SELECT identity FROM emails"))
        f.sent_logged_once = sum(1 for mid in outbox if logged[mid] == 1)
        replies = self.server_replies()
        f.replies_on_server = len(replies)
        f.replies_logged_once = sum(1 for i in replies if logged[i] == 1)
        f.replies_missing = sum(1 for i in replies if logged[i] == 0)
        f.replies_duplicated = sum(1 for i in replies if logged[i] > 1)
        # The same by subject, blind to the engine's identities: a reply logged again under
        # a second identity (the old NULL Message-ID bug) is a row too many here.
        on_server = Counter(replies.values())
        incoming = Counter(r[0] for r in rows(
            db, "SELECT subject FROM emails WHERE direction = 'incoming'"))
        outgoing = Counter(r[0] for r in rows(
            db, "SELECT subject FROM emails WHERE direction = 'outgoing'"))
        f.duplicates = (sum(max(0, incoming[s] - n) for s, n in on_server.items())
                        + sum(max(0, outgoing[s] - 1) for s in subjects))
        f.losses = (sum(max(0, n - incoming[s]) for s, n in on_server.items())
                    + sum(1 for s in subjects if outgoing[s] == 0))
        f.malformed = rows(db, "SELECT count(*) FROM refusals WHERE kind = 'malformed'")[0][0]
        f.untracked_rows = sum(n for i, n in logged.items() if i not in outbox and i not in replies)
        f.pending_left = rows(db, "SELECT count(*) FROM crm_pending")[0][0]
        f.ok = verdict(f)

    def plant(self) -> dict[str, Any]:
        """Tamper with a copy of the evidence (see ``PLANTS``) and judge it like a run."""
        copy = self.work / "planted.db"
        with contextlib.closing(sqlite3.connect(self.db)) as src, \
                contextlib.closing(sqlite3.connect(copy)) as dst:
            src.backup(dst)
        with contextlib.closing(sqlite3.connect(copy)) as conn:
            conn.execute("PRAGMA journal_mode=DELETE")
            first, subject = conn.execute("SELECT id, subject FROM emails WHERE direction = "
                                          "'incoming' ORDER BY id LIMIT 1").fetchone()
            [second] = conn.execute("SELECT id FROM emails WHERE direction = 'incoming' AND "
                                    "subject != ? ORDER BY id LIMIT 1", (subject,)).fetchone()
            columns = [r[1] for r in conn.execute("PRAGMA table_info(emails)")
                       if r[1] not in ("id", "message_id", "identity")]
            listed = ", ".join(columns)
            conn.execute(f"INSERT INTO emails ({listed}, message_id, identity) "
                         f"SELECT {listed}, NULL, 'digest:planted' FROM emails WHERE id = ?",
                         (second,))  # duplicate-reply
            conn.execute("DELETE FROM emails WHERE id = ?", (first,))  # lost-reply
            conn.execute("DELETE FROM emails WHERE id = (SELECT min(id) FROM emails "
                         "WHERE direction = 'outgoing')")  # lost-send-log
            conn.commit()
        sent = self.account.get("Sent")
        sent.append(sent.raw(sent.uids()[0]))  # second-sent-copy, on the server
        f = replace(self.fig, planted=None)
        self.check(f, copy)
        with contextlib.closing(sqlite3.connect(copy)) as conn:
            size = conn.execute("PRAGMA page_size").fetchone()[0]
            root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'emails'"
                                ).fetchone()[0]
        with open(copy, "r+b") as fh:  # corrupt-page: the emails table's root page
            fh.seek((root - 1) * size)
            fh.write(b"\xff" * 64)
        f.integrity_ok_after_kill -= integrity(copy) != "ok"
        f.ok = verdict(f)
        return {k: v for k, v in asdict(f).items() if k != "planted"}


async def soak_one(args: argparse.Namespace, seed: int) -> Figures:
    scenario = loads(scenario_text(seed, args.messages, args.chance))
    with tempfile.TemporaryDirectory(prefix="inboxlab-psoak-") as tmp:
        async with ScenarioServer(scenario, control_port=None) as srv:
            soak = ProductSoak(srv, Path(tmp), args, seed)
            try:
                return await soak.run()
            finally:
                await soak.kill_child()
                if args.verbose:
                    log = Path(tmp) / "child.log"
                    sys.stderr.write(log.read_text(errors="replace")[-12000:]
                                     if log.exists() else "")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[8, 9, 10])
    p.add_argument("--messages", type=int, default=5000)
    p.add_argument("--sends", type=int, default=40)
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--kill-every", type=float, default=2.0, help="mean seconds between kills")
    p.add_argument("--settle", type=float, default=90.0, help="seconds for the last start")
    p.add_argument("--chance", type=float, default=0.01,
                   help="per-command probability of each command-bound IMAP fault")
    p.add_argument("--link-faults", type=float, default=0.05,
                   help="probability, every 0.1 s between kills, of a fault on a live link")
    p.add_argument("--plant", action="store_true",
                   help="also judge tampered evidence (figures under 'planted')")
    p.add_argument("--json", action="store_true")
    p.add_argument("--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    figures = [asyncio.run(soak_one(args, seed)) for seed in args.seeds]
    if args.json:
        print(json.dumps([asdict(f) for f in figures], indent=1))
    else:
        for fig in figures:
            for k, v in asdict(fig).items():
                print(f"{k:28} {v}")
            print()
    return 0 if all(f.ok for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
