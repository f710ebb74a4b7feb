"""The account runner's steady state and its reply search, against Dovecot (or the fake server).

    python -m bench.engine_sync                       # Dovecot if installed, else the fake server
    python -m bench.engine_sync --server fake --count 100000

Two questions, each answered the way ``engine.account`` does the work (``Scanner.scan``
and ``engine.replies.find_replies`` on a logged-in ``ImapClient``):

- resync: 100 folders already checkpointed, nothing new. A pass is one STATUS per folder
  and a checkpoint read; target <= 5 ms per folder, 100 folders in <= 0.5 s.
- replies: a folder of ``--count`` generated messages (100k), 100 tracked threads. Finding
  their replies by ``UID SEARCH OR HEADER In-Reply-To ... HEADER References ...`` plus
  fetching the hits, versus the full header scan that would otherwise be needed;
  target: search <= half the scan. The search result is checked against the generator's
  own thread structure (every reply found, nothing else).

Dovecot legs run the full scan first (which also fills Dovecot's header cache), then the
search, then the search again: "search (cold)" and "search (warm)" are both reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.account_options import AccountOptions
from engine.checkpoints import CheckpointStore
from engine.clock import SYSTEM_CLOCK
from engine.db import Database
from engine.imap.client import ImapClient
from engine.imap.results import Credentials
from engine.replies import find_replies
from engine.scanner import FULL_BACKFILL, Scanner
from engine.sync import FETCH_ITEMS, ScannedMessage, scan_folder
from engine.trace import TraceHub
from fakeserver.generate import GenSpec, generator

USER = "bench@example.com"
PASSWORD = "bench-pass"


def tracked_threads(spec: GenSpec, threads: int) -> tuple[list[str], set[int]]:
    """``threads`` thread roots spread over the folder, and the indexes of every message
    whose References/In-Reply-To names one of them (the right answer)."""
    gen = generator(spec)
    refs: dict[int, list[str]] = {}
    ids: dict[int, str] = {}
    for i in range(spec.count):
        fields = dict(gen.headers(i))
        ids[i] = fields["Message-ID"]
        chain = fields.get("References")
        if chain:
            refs[i] = chain.replace("\r\n", " ").split()
    parents = sorted({r[-1] for r in refs.values()})
    step = max(1, len(parents) // threads)
    chosen = parents[::step][:threads]
    wanted = set(chosen)
    answer = {i for i, chain in refs.items() if wanted.intersection(chain)}
    return chosen, answer


async def _client(host: str, port: int) -> ImapClient:
    client = ImapClient(host, port, security="plain", timeout=600)
    await client.connect()
    await client.login(Credentials(USER, PASSWORD))
    return client


async def resync(host: str, port: int, folders: list[str], rounds: int) -> dict[str, Any]:
    client = await _client(host, port)
    with tempfile.TemporaryDirectory() as tmp:
        async with await Database.open(Path(tmp) / "bench.db") as db:
            store = CheckpointStore(db)
            scanner = Scanner("bench", AccountOptions(initial_scan="full"), SYSTEM_CLOCK,
                              TraceHub(), lambda e: None, lambda m: None)
            for folder in folders:  # the first sync: checkpoints for every folder
                await scanner.scan(client, store, folder)
            passes = []
            for _ in range(rounds):
                started = time.perf_counter()
                for folder in folders:
                    await scanner.scan(client, store, folder)
                passes.append(time.perf_counter() - started)
    await client.logout()
    best = min(passes)
    return {"folders": len(folders), "pass_s": round(best, 4),
            "median_pass_s": round(statistics.median(passes), 4),
            "per_folder_ms": round(best / len(folders) * 1000, 3)}


async def replies(host: str, port: int, spec: GenSpec, threads: int) -> dict[str, Any]:
    chosen, answer = tracked_threads(spec, threads)
    client = await _client(host, port)
    out: dict[str, Any] = {"messages": spec.count, "threads": len(chosen),
                           "expected_replies": len(answer)}
    with tempfile.TemporaryDirectory() as tmp:
        async with await Database.open(Path(tmp) / "bench.db") as db:
            seen: list[ScannedMessage] = []
            started = time.perf_counter()
            await scan_folder(client, CheckpointStore(db), "bench", "INBOX", seen.append,
                              backfill=FULL_BACKFILL)
            out["full_scan_s"] = round(time.perf_counter() - started, 3)
            out["full_scan_messages"] = len(seen)
    for leg in ("search_cold_s", "search_warm_s"):
        client.selected = None  # EXAMINE again, as a fresh session would
        started = time.perf_counter()
        uids = await find_replies(client, "INBOX", chosen)
        fetched = [f async for f in client.uid_fetch(uids, FETCH_ITEMS, chunk=500)] if uids \
            else []
        out[leg] = round(time.perf_counter() - started, 3)
    out["found"] = len(uids)
    out["fetched"] = len(fetched)
    out["correct"] = {u - 1 for u in uids} == answer  # UIDs are 1..n in load order
    out["search_over_scan"] = round(out["search_warm_s"] / out["full_scan_s"], 3)
    await client.logout()
    return out


async def _on_fake(args: argparse.Namespace) -> dict[str, Any]:
    from fakeserver.config import AccountConfig, FolderConfig, ServerConfig
    from fakeserver.imap.server import FakeImapServer

    spec = GenSpec(count=args.count, seed=args.seed, owner=USER)
    small = [FolderConfig(f"Folder{n:03d}", generated=GenSpec(count=10, seed=n, owner=USER))
             for n in range(args.folders)]
    config = ServerConfig(accounts=(AccountConfig(USER, PASSWORD, (
        FolderConfig("INBOX", generated=spec), *small)),))
    async with FakeImapServer(config, tls_port=None) as srv:
        return {"server": "fake",
                "resync": await resync(srv.host, srv.port, [f.name for f in small],
                                       args.rounds),
                "replies": await replies(srv.host, srv.port, spec, args.threads)}


def _on_dovecot(args: argparse.Namespace) -> dict[str, Any]:
    from bench.dovecot import load_generated, start_dovecot

    spec = GenSpec(count=args.count, seed=args.seed, owner=USER)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    with start_dovecot(users=[(USER, PASSWORD)]) as dc:
        load_seconds = load_generated(dc, USER, "INBOX", spec)
        names = [f"Folder{n:03d}" for n in range(args.folders)]
        for n, name in enumerate(names):
            dc.load_messages(USER, name, ((f"Message-ID: <f{n}.{k}@bench>\r\nSubject: {k}"
                                           f"\r\n\r\nx\r\n".encode(), "", when)
                                          for k in range(10)))

        async def both() -> dict[str, Any]:
            return {"server": "dovecot", "load_s": round(load_seconds, 1),
                    "resync": await resync(dc.host, dc.port, names, args.rounds),
                    "replies": await replies(dc.host, dc.port, spec, args.threads)}

        return asyncio.run(both())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine_sync", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", choices=("auto", "dovecot", "fake"), default="auto")
    parser.add_argument("--count", type=int, default=100_000, help="messages in INBOX")
    parser.add_argument("--folders", type=int, default=100, help="folders in the resync")
    parser.add_argument("--threads", type=int, default=100, help="tracked threads")
    parser.add_argument("--rounds", type=int, default=5, help="resync passes (best is kept)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    server = args.server
    if server == "auto":
        from bench.dovecot import find_dovecot

        server = "dovecot" if find_dovecot() is not None else "fake"
    report = asyncio.run(_on_fake(args)) if server == "fake" else _on_dovecot(args)
    print(json.dumps(report, indent=2))
    r, q = report["resync"], report["replies"]
    ok = (r["per_folder_ms"] <= 5 and r["pass_s"] <= 0.5 and q["correct"]
          and q["search_over_scan"] <= 0.5)
    print(f"\n{report['server']}: resync {r['folders']} folders {r['pass_s'] * 1000:.0f} ms "
          f"({r['per_folder_ms']:.2f} ms/folder); replies to {q['threads']} threads in "
          f"{q['messages']} messages: search {q['search_warm_s']:.2f}s (cold "
          f"{q['search_cold_s']:.2f}s) vs full scan {q['full_scan_s']:.2f}s "
          f"= {q['search_over_scan']:.2f}; {'OK' if ok else 'MISSED A TARGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
