"""The engine's header scan of a big folder vs a raw socket drain vs stdlib imaplib.

    python -m bench.engine_scan --count 100000 --rounds 3

One real Dovecot is loaded with ``fakeserver.generate`` messages; every leg sends the same
``UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (...)])`` and
is timed from sending the command to its tagged OK. Each leg runs in a fresh child process
so its peak RSS (``ru_maxrss``) is its own:

- raw:     socket reads until the tagged OK, looking only at the end of each read. The floor.
- engine:  ``ImapClient.uid_fetch`` streaming parsed ``Fetch`` events (the consumer counts).
- imaplib: ``imaplib.IMAP4.uid("FETCH", ...)``, which holds every response in memory.
- parse:   the engine's sans-I/O parser alone over bytes captured by a raw drain (no socket).

The first drain after loading builds Dovecot's index; it is reported separately as "cold".
"""

from __future__ import annotations

import argparse
import asyncio
import imaplib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

FIELDS = "MESSAGE-ID IN-REPLY-TO REFERENCES FROM TO CC SUBJECT DATE"
ITEMS = f"(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS ({FIELDS})])"
LEGS = ("raw", "engine", "imaplib", "parse")


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


def _raw_session(host: str, port: int, user: str, password: str) -> socket.socket:
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _until(sock, b"* OK")
    sock.sendall(f'R1 LOGIN "{user}" "{password}"\r\n'.encode())
    _until(sock, b"R1 OK")
    sock.sendall(b"R2 SELECT INBOX\r\n")
    _until(sock, b"R2 OK")
    return sock


def _until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before {marker!r}: {data[-200:]!r}")
        data += chunk
    return data


def raw_drain(host: str, port: int, user: str, password: str,
              keep: bool = False) -> tuple[float, int, bytes]:
    """(seconds, bytes, captured bytes if keep) for the FETCH, tag seen only at read ends."""
    sock = _raw_session(host, port, user, password)
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    end_tag = b"\r\nR3 OK"
    kept: list[bytes] = []
    tail = b""
    total = 0
    started = time.perf_counter()
    sock.sendall(f"R3 UID FETCH 1:* {ITEMS}\r\n".encode())
    while True:
        n = sock.recv_into(buf)
        if not n:
            raise ConnectionError("closed mid-FETCH")
        total += n
        if keep:
            kept.append(bytes(view[:n]))
        tail = (tail + bytes(view[max(0, n - 300) : n]))[-300:]
        if end_tag in tail and tail.endswith(b"\r\n"):
            break
    took = time.perf_counter() - started
    sock.close()
    return took, total, b"".join(kept)


async def _engine(host: str, port: int, user: str, password: str) -> tuple[float, int, int]:
    from engine.imap.client import ImapClient
    from engine.imap.results import Credentials

    async with ImapClient(host, port, security="plain", timeout=120) as client:
        await client.login(Credentials(user, password))
        await client.select("INBOX")
        count = 0
        header_bytes = 0
        started = time.perf_counter()
        async for msg in client.uid_fetch("1:*", ITEMS):
            count += 1
            header_bytes += len(msg.items.get(f"BODY[HEADER.FIELDS ({FIELDS})]") or b"")
        return time.perf_counter() - started, count, header_bytes


def _imaplib(host: str, port: int, user: str, password: str) -> tuple[float, int]:
    conn = imaplib.IMAP4(host, port)
    conn.login(user, password)
    conn.select("INBOX")
    started = time.perf_counter()
    status, data = conn.uid("FETCH", "1:*", ITEMS)
    took = time.perf_counter() - started
    assert status == "OK", status
    count = sum(1 for item in data if isinstance(item, tuple))
    conn.logout()
    return took, count


def _parse_only(data: bytes) -> tuple[float, int]:
    from engine.imap.model import Fetch
    from engine.imap.protocol import ResponseParser

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


def run_leg(leg: str, host: str, port: int, user: str, password: str) -> dict[str, Any]:
    base = _rss_mb()
    cpu = time.process_time()
    out: dict[str, Any] = {"leg": leg}
    if leg == "raw":
        took, total, _ = raw_drain(host, port, user, password)
        out.update(seconds=took, bytes=total)
    elif leg == "engine":
        took, count, header_bytes = asyncio.run(_engine(host, port, user, password))
        out.update(seconds=took, messages=count, header_bytes=header_bytes)
    elif leg == "imaplib":
        took, count = _imaplib(host, port, user, password)
        out.update(seconds=took, messages=count)
    elif leg == "parse":
        _, total, data = raw_drain(host, port, user, password, keep=True)
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
    from fakeserver.generate import GenSpec

    legs = [leg for leg in args.legs.split(",") if leg]
    report: dict[str, Any] = {"count": args.count, "rounds": args.rounds, "cpus": os.cpu_count()}
    runs: dict[str, list[dict[str, Any]]] = {leg: [] for leg in legs}

    def measure(host: str, port: int) -> None:
        cold = _child("raw", host, port, args.user)
        report["cold_raw_seconds"] = round(cold["seconds"], 3)
        report["megabytes"] = round(cold["bytes"] / 1e6, 1)
        for _ in range(args.rounds):
            for leg in legs:
                runs[leg].append(_child(leg, host, port, args.user))

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
    for row in summary.values():
        row["x_raw"] = round(row["median_s"] / raw, 2) if raw else None
    report["legs"] = summary
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.count} messages, {report['megabytes']} MB of FETCH response, "
          f"{report['cpus']} CPUs; loaded in {report['load_seconds']}s; "
          f"cold raw drain {report['cold_raw_seconds']}s")
    print(f"{'leg':<8} {'median s':>9} {'x raw':>6} {'peak RSS MB':>12} {'start RSS':>10} "
          f"{'leg CPU s':>10}  runs")
    for leg, row in summary.items():
        print(f"{leg:<8} {row['median_s']:>9.3f} {row['x_raw'] or 0:>6.2f} "
              f"{row['rss_peak_mb']:>12.1f} {row['rss_start_mb']:>10.1f} "
              f"{row['cpu_s_median']:>10.3f}  {row['all_s']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
