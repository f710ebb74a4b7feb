"""The scan the product runs on a big folder vs a raw socket drain vs stdlib imaplib.

    python -m bench.engine_scan --count 100000 --rounds 5

One real Dovecot is loaded with ``fakeserver.generate`` messages. Each leg runs in a fresh
child process (so its peak RSS, VmHWM, is its own), after login; legs alternate within a
round and every leg must see every message (the run aborts otherwise).

- raw:     ``bench.rawdrain.raw_drain``: EXAMINE, one ``UID FETCH 1:* (...)`` read until
           the tagged OK, no parsing. The floor: what Dovecot costs.
- imaplib: ``bench.rawdrain.imaplib_drain``, the same FETCH through stdlib imaplib.
- scan:    the product's path: a real ``engine.account.Account``'s own ``Scanner.scan``
           of INBOX as its first full sync runs it (``initial_scan="full"``): STATUS, a
           checkpoint row in a fresh SQLite database, EXAMINE, pipelined UID FETCH
           batches of ``AccountOptions.batch`` UIDs with a checkpoint commit per batch,
           ``ProgressSink`` sampling ``ScanProgress`` into the Account's publisher (hub
           and a subscriber), every message through ``Account._deliver`` to an async
           sink (the CRM's shape; here it only counts, so the CRM's own header matching
           is not in the figure).
- scan+trace: the same with the TUI's trace subscriber on the account's hub (what
           ``tui.bridge`` attaches: ``StageClock`` plus one ``trace_line`` per trace
           event into a 20,000-line deque), so the client traces every line it reads.
- fetch:   ``ImapClient.uid_fetch("1:*")`` alone (one command, no scanner): the client's
           own floor, for reading the scan's overhead.
- parse:   the engine's sans-I/O parser alone over captured bytes (no socket).

raw, imaplib and fetch are timed from sending the FETCH to its tagged OK; scan legs from
calling ``Scanner.scan`` to its return (their STATUS/EXAMINE/checkpoints included).
The first drain after loading builds Dovecot's index; it is reported separately as "cold".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.rawdrain import imaplib_drain, raw_drain

# Every leg asks exactly what the product's scan asks (engine.sync.FETCH_ITEMS; a test
# holds them equal), so the raw floor and the scan make Dovecot do the same work.
FIELDS = "MESSAGE-ID IN-REPLY-TO REFERENCES FROM TO CC DATE SUBJECT"
ITEMS = f"(UID RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS ({FIELDS})])"
LEGS = ("raw", "scan", "scan+trace", "imaplib", "fetch", "parse")


def _rss_mb() -> float:
    """Peak RSS of this process in MB: VmHWM (reset by exec, unlike ru_maxrss, which a
    child inherits from the parent it was forked from)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- legs (run in a child process) ---------------------------------------------------------------


def capture(host: str, port: int, user: str, password: str) -> tuple[int, bytes]:
    """The FETCH answer's bytes, kept (for the parse-only leg; not timed)."""
    sock = socket.create_connection((host, port))
    reply = bytearray()

    def until(marker: bytes) -> None:
        while marker not in reply[-4096:]:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError(f"closed before {marker!r}")
            reply.extend(chunk)

    until(b"\r\n")
    sock.sendall(f'C1 LOGIN "{user}" "{password}"\r\nC2 EXAMINE INBOX\r\n'.encode())
    until(b"C2 OK")
    reply.clear()
    sock.sendall(f"C3 UID FETCH 1:* {ITEMS}\r\n".encode())
    until(b"\r\nC3 OK")
    sock.close()
    return len(reply), bytes(reply)


async def _scan(host: str, port: int, user: str, password: str,
                traced: bool) -> tuple[float, int, int]:
    """``Scanner.scan`` of INBOX by a real ``Account``'s own scanner, as its first full
    sync runs it: the Account's message hand-off (``Account._deliver``), its publishing
    of ``ScanProgress`` (to the hub and subscribers) and its database; (s, messages,
    progress events)."""
    import tempfile
    from collections import deque
    from datetime import UTC, datetime
    from pathlib import Path

    from inboxlab.engine.account import Account
    from inboxlab.engine.account_options import AccountOptions
    from inboxlab.engine.checkpoints import CheckpointStore
    from inboxlab.engine.clock import SYSTEM_CLOCK
    from inboxlab.engine.db import Database
    from inboxlab.engine.imap.client import ImapClient
    from inboxlab.engine.imap.results import Credentials
    from inboxlab.engine.secrets import Secret
    from inboxlab.engine.settings import AccountSettings, ImapServer
    from inboxlab.engine.supervise import ScanProgress
    from inboxlab.engine.sync import ScannedMessage
    from inboxlab.engine.trace import TraceHub

    hub = TraceHub()
    if traced:  # what tui.bridge.EngineBridge._on_trace does with every trace event
        from inboxlab.tui.bridge.translate import StageClock, trace_line

        stages = StageClock()
        lines: deque[str] = deque(maxlen=20_000)

        def on_trace(name: str, info: Any) -> None:
            stages.event(name, info, time.perf_counter())
            lines.append(trace_line(name, info, datetime.now(UTC)))

        hub.subscribe(on_trace)
    count = 0

    async def sink(message: ScannedMessage) -> None:  # the CRM's shape; it only counts
        nonlocal count
        count += 1

    with tempfile.TemporaryDirectory(prefix="inboxlab-bench-") as tmp:
        account = Account(AccountSettings(user, ImapServer(host, port, "plain"),
                                          allow_plaintext_login=True),
                          Secret(password), Path(tmp) / "engine.db", clock=SYSTEM_CLOCK,
                          trace=hub, sink=sink, options=AccountOptions(initial_scan="full"))
        progress: list[object] = []
        account.subscribe(lambda event: progress.append(event)
                          if isinstance(event, ScanProgress) else None)
        db = await Database.open(Path(tmp) / "engine.db")
        try:
            store = CheckpointStore(db, SYSTEM_CLOCK)
            async with ImapClient(host, port, security="plain", timeout=120,
                                  trace=hub.client_hook if hub.active else None) as client:
                await client.login(Credentials(user, password))
                started = time.perf_counter()
                await account.scanner.scan(client, store, "INBOX")
                took = time.perf_counter() - started
        finally:
            await db.close()
    if account.delivered != count:
        raise SystemExit(f"the Account handed on {account.delivered}, the sink saw {count}")
    return took, count, len(progress)


async def _fetch(host: str, port: int, user: str, password: str) -> tuple[float, int, int]:
    from inboxlab.engine.imap.client import ImapClient
    from inboxlab.engine.imap.results import Credentials

    async with ImapClient(host, port, security="plain", timeout=120) as client:
        await client.login(Credentials(user, password))
        await client.select("INBOX", readonly=True)  # EXAMINE, as the raw drain does
        count = 0
        header_bytes = 0
        started = time.perf_counter()
        async for msg in client.uid_fetch("1:*", ITEMS):
            count += 1
            header_bytes += len(msg.items.get(f"BODY[HEADER.FIELDS ({FIELDS})]") or b"")
        return time.perf_counter() - started, count, header_bytes


def _parse_only(data: bytes) -> tuple[float, int]:
    from inboxlab.engine.imap.model import Fetch
    from inboxlab.engine.imap.protocol import ResponseParser

    parser = ResponseParser(expect_greeting=False)
    count = 0
    started = time.perf_counter()
    for k in range(0, len(data), 256 * 1024):
        parser.feed(data[k : k + 256 * 1024])
        while True:  # as the client's reader does: the batch shortcut, then one event
            batch: list[Fetch] = []
            count += parser.fetch_run(batch)
            event = parser.next_event()
            if event is None:
                break
            count += type(event) is Fetch
    return time.perf_counter() - started, count


def _imports(leg: str) -> None:
    """What the leg's code imports, loaded before its start RSS and CPU are read, so "leg
    CPU" is the leg's work and the RSS growth its own (the TUI's trace formatter lives
    in the tui.bridge package, which loads textual: about 20 MB the TUI has anyway)."""
    if leg in ("scan", "scan+trace", "fetch", "parse"):
        import inboxlab.engine.account
        import inboxlab.engine.imap.protocol
    if leg == "scan+trace":
        import inboxlab.tui.bridge.translate  # noqa: F401


def run_leg(leg: str, host: str, port: int, user: str, password: str) -> dict[str, Any]:
    _imports(leg)
    base = _rss_mb()
    cpu = time.process_time()
    out: dict[str, Any] = {"leg": leg}
    if leg == "raw":
        drain = raw_drain(host, port, user, password, items=ITEMS.encode())
        out.update(seconds=drain.seconds, bytes=drain.nbytes, messages=drain.messages)
    elif leg in ("scan", "scan+trace"):
        took, count, published = asyncio.run(_scan(host, port, user, password,
                                                   leg == "scan+trace"))
        out.update(seconds=took, messages=count, events=published)
    elif leg == "fetch":
        took, count, header_bytes = asyncio.run(_fetch(host, port, user, password))
        out.update(seconds=took, messages=count, header_bytes=header_bytes)
    elif leg == "imaplib":
        drain = imaplib_drain(host, port, user, password, items=ITEMS.encode())
        out.update(seconds=drain.seconds, messages=drain.messages)
    elif leg == "parse":
        total, data = capture(host, port, user, password)
        took, count = _parse_only(data)
        del data
        out.update(seconds=took, messages=count, bytes=total)
    else:
        raise SystemExit(f"unknown leg {leg!r}")
    out.update(rss_start_mb=round(base, 1), rss_peak_mb=round(_rss_mb(), 1),
               cpu_s=round(time.process_time() - cpu, 3))
    return out


def _child(leg: str, host: str, port: int, user: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.engine_scan", "--leg", leg, "--host", host,
         "--port", str(port), "--user", user],
        capture_output=True, text=True, check=False, timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"leg {leg} failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- driver ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine_scan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--legs", default=",".join(LEGS))
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.add_argument("--leg", help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--user", default="bench@example.com")
    parser.add_argument("--server", metavar="HOST:PORT",
                        help="use a running bench Dovecot (python -m bench.dovecot) instead")
    args = parser.parse_args(argv)
    if args.leg:  # a child: import nothing else, so the RSS figures are the leg's own
        password = os.environ["INBOXLAB_BENCH_PASSWORD"]
        print(json.dumps(run_leg(args.leg, args.host, args.port, args.user, password)))
        return 0

    from bench.dovecot import BENCH_PASSWORD, find_dovecot, load_generated, start_dovecot

    os.environ["INBOXLAB_BENCH_PASSWORD"] = BENCH_PASSWORD  # published loopback bench login
    if find_dovecot() is None:
        print("error: dovecot is not installed (apt-get install dovecot-imapd)", file=sys.stderr)
        return 2
    from inboxlab.fakeserver.generate import GenSpec

    legs = [leg for leg in args.legs.split(",") if leg]
    report: dict[str, Any] = {"count": args.count, "rounds": args.rounds, "cpus": os.cpu_count()}
    runs: dict[str, list[dict[str, Any]]] = {leg: [] for leg in legs}

    def measure(host: str, port: int) -> None:
        cold = _child("raw", host, port, args.user)
        report["cold_raw_seconds"] = round(cold["seconds"], 3)
        report["megabytes"] = round(cold["bytes"] / 1e6, 1)
        expected = cold["messages"] if args.server else args.count
        report["load_average_start"] = round(os.getloadavg()[0], 1)
        for k in range(args.rounds):
            for leg in legs[k % len(legs):] + legs[:k % len(legs)]:  # rotate who goes first
                result = _child(leg, host, port, args.user)
                if result["messages"] != expected:
                    raise SystemExit(f"leg {leg} saw {result['messages']} messages, "
                                     f"not {expected}: the figure would be meaningless")
                runs[leg].append(result)
        report["load_average_end"] = round(os.getloadavg()[0], 1)

    if args.server:
        host, _, port = args.server.rpartition(":")
        report["load_seconds"] = None
        measure(host, int(port))
    else:
        with start_dovecot(users=[(args.user, BENCH_PASSWORD)]) as dc:
            spec = GenSpec(count=args.count, seed=args.seed, owner=args.user)
            report["load_seconds"] = round(load_generated(dc, args.user, "INBOX", spec), 2)
            measure(dc.host, dc.port)
    summary: dict[str, dict[str, Any]] = {}
    for leg, results in runs.items():
        summary[leg] = {
            "median_s": round(statistics.median(r["seconds"] for r in results), 3),
            "all_s": [round(r["seconds"], 3) for r in results],
            "rss_peak_mb": max(r["rss_peak_mb"] for r in results),
            "rss_start_mb": results[0]["rss_start_mb"],
            "messages": results[0].get("messages"),
            "cpu_s_median": round(statistics.median(r["cpu_s"] for r in results), 3),
        }
    raw = summary.get("raw", {}).get("median_s")
    for leg, row in summary.items():
        row["x_raw"] = round(row["median_s"] / raw, 2) if raw else None
        if "raw" in runs:  # the same round's raw drain: load drifts less within a round
            row["x_raw_paired"] = round(statistics.median(
                r["seconds"] / b["seconds"] for r, b in zip(runs[leg], runs["raw"],
                                                            strict=True)), 2)
    report["legs"] = summary
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.count} messages, {report['megabytes']} MB of FETCH response, "
          f"{report['cpus']} CPUs; "
          + (f"loaded in {report['load_seconds']}s; " if report["load_seconds"] else
             "external server; ")
          + f"first raw drain {report['cold_raw_seconds']}s (cold if just loaded); "
          f"load average {report['load_average_start']} -> {report['load_average_end']}")
    print(f"{'leg':<10} {'median s':>9} {'x raw':>6} {'paired':>6} {'peak RSS MB':>12} "
          f"{'start RSS':>10} "
          f"{'leg CPU s':>10}  runs")
    for leg, row in summary.items():
        print(f"{leg:<10} {row['median_s']:>9.3f} {row['x_raw'] or 0:>6.2f} "
              f"{row.get('x_raw_paired') or 0:>6.2f} "
              f"{row['rss_peak_mb']:>12.1f} {row['rss_start_mb']:>10.1f} "
              f"{row['cpu_s_median']:>10.3f}  {row['all_s']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
