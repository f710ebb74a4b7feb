"""How fast is the fake IMAP server next to real Dovecot at the initial-sync drain?

Both servers hold the same N messages (``fakeserver.generate``, one seed): Dovecot as a maildir
loaded by bench.dovecot, the fake server generating them on demand. Each is drained with the
raw client (server cost) and imaplib (what a plain Python client sees). The first Dovecot
drain builds its index from the maildir, so it is reported apart as "cold"; the fake
server's first drain is reported the same way (later fake drains read back what the first
rendered, ``fakeserver.gencache``, as Dovecot's read its cache file). Both servers are up
at once, but drains never overlap: each round drains one then the other (the order
alternating), and the ratio is the median over rounds of the pair's ratio, so load drift
cancels.

    python -m bench.drain_compare                      # 100,000 messages, 5 rounds
    python -m bench.drain_compare --count 10000 --rounds 3 --json
    python -m bench.drain_compare --servers dovecot    # skip the fake server
    python -m bench.drain_compare --tls                # over implicit TLS (IMAPS), CA-verified

The figure the fake server is held to: fake / Dovecot (raw client, warm, paired) <= 1.2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import selectors
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench import BENCH_PASSWORD, BENCH_USER
from bench.rawdrain import FETCH_ITEMS, Drain, imaplib_drain, raw_drain

TARGET_RATIO = 1.2  # issue 15 (was 2.0)
ROOT = Path(__file__).resolve().parent.parent

DrainFn = Callable[..., Drain]


def _leg(server: str, client: str, phase: str, drains: list[Drain]) -> dict[str, object]:
    seconds = [d.seconds for d in drains]
    return {
        "server": server, "client": client, "phase": phase, "rounds": len(drains),
        "median_s": statistics.median(seconds), "min_s": min(seconds), "max_s": max(seconds),
        "mb": drains[0].mb, "messages": drains[0].messages,
    }


def _context(ca_pem: str | Path | None) -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=str(ca_pem)) if ca_pem else None


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float | None:
    """VmHWM of ``pid`` in MB (Linux /proc; None elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass
class _Server:
    """One server under test and what its drains measured."""

    name: str
    host: str
    port: int
    context: ssl.SSLContext | None
    pid: int | None = None  # the fake server's process: its CPU time per drain
    cold: list[Drain] = field(default_factory=list)
    raw: list[Drain] = field(default_factory=list)
    ref: list[Drain] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def drain(self, fn: DrainFn, count: int) -> Drain:
        before = _proc_cpu_s(self.pid) if self.pid else 0.0
        got: Drain = fn(self.host, self.port, BENCH_USER, BENCH_PASSWORD, context=self.context)
        if got.messages != count:
            raise SystemExit(f"{self.name} {fn.__name__} saw {got.messages} messages, "
                             f"expected {count}")
        if self.pid and fn is raw_drain and self.cold:
            self.cpu.append(_proc_cpu_s(self.pid) - before)
        return got


@contextlib.contextmanager
def fake_server(count: int, seed: int,
                timeout: float = 120.0) -> Iterator[tuple[str, int, int, str, int]]:
    """bench.fakeserve in a child process; yields (host, port, tls_port, CA PEM, pid) when
    READY."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.fakeserve", "--count", str(count), "--seed", str(seed)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                raise SystemExit(f"fake server not READY within {timeout:.0f}s")
        line = proc.stdout.readline().decode().split()
        if line[:1] != ["READY"]:
            raise SystemExit(f"fake server failed to start (said {line!r})")
        yield line[1], int(line[2]), int(line[3]), line[4], proc.pid
    finally:
        proc.stdin.close()  # the server stops when its stdin closes
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _measure(servers: list[_Server], rounds: int, count: int) -> None:
    """Cold drains first, then ``rounds`` rounds. Both servers stay up (an idle one costs
    nothing) but drains never overlap. In a round the servers' raw drains run back to
    back, then their imaplib drains, and who goes first alternates by round, so a
    change in machine load hits both servers of a pair alike."""
    for server in servers:
        server.cold.append(server.drain(raw_drain, count))
    for k in range(rounds):
        order = servers[k % len(servers):] + servers[:k % len(servers)]
        for server in order:
            server.raw.append(server.drain(raw_drain, count))
        for server in order:
            server.ref.append(server.drain(imaplib_drain, count))


def run(count: int, rounds: int, seed: int, servers: list[str],
        tls: bool = False) -> dict[str, object]:
    legs: list[dict[str, object]] = []
    report: dict[str, object] = {
        "count": count, "rounds": rounds, "seed": seed,
        "transport": "implicit TLS (IMAPS)" if tls else "plain TCP",
        "fetch": "UID FETCH 1:* " + FETCH_ITEMS.decode(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), "
                   f"load average at start {os.getloadavg()[0]:.2f}",
        "python": platform.python_version(),
        "legs": legs,
    }
    from bench.dovecot import load_generated, start_dovecot
    from inboxlab.fakeserver.generate import GenSpec

    under_test: list[_Server] = []
    with contextlib.ExitStack() as stack:
        if "dovecot" in servers:
            handle = stack.enter_context(start_dovecot(users=[(BENCH_USER, BENCH_PASSWORD)]))
            spec = GenSpec(count=count, seed=seed, owner=BENCH_USER)
            report["dovecot_maildir_load_s"] = load_generated(handle, BENCH_USER, "INBOX", spec)
            under_test.append(_Server("dovecot", handle.host, handle.tls_port if tls
                                      else handle.port, _context(handle.ca_pem) if tls
                                      else None))
        if "fake" in servers:
            host, plain_port, tls_port, ca_pem, pid = stack.enter_context(
                fake_server(count, seed))
            under_test.append(_Server("fake", host, tls_port if tls else plain_port,
                                      _context(ca_pem) if tls else None, pid))
        _measure(under_test, rounds, count)
        for server in under_test:
            if server.pid:
                report[f"{server.name}_peak_rss_mb"] = _peak_rss_mb(server.pid)
    for server in under_test:
        warm = _leg(server.name, "raw", "warm", server.raw)
        if server.cpu and max(server.cpu) > 0:
            warm["server_cpu_s"] = statistics.median(server.cpu)
        legs += [_leg(server.name, "raw", "cold", server.cold), warm,
                 _leg(server.name, "imaplib", "warm", server.ref)]
    named = {server.name: server for server in under_test}
    if {"fake", "dovecot"} <= set(named):
        fake, dovecot = named["fake"], named["dovecot"]
        ratio = statistics.median(f.seconds / d.seconds
                                  for f, d in zip(fake.raw, dovecot.raw, strict=True))
        report["ratio_fake_over_dovecot"] = ratio
        report["ratio_of_medians"] = (statistics.median(d.seconds for d in fake.raw)
                                      / statistics.median(d.seconds for d in dovecot.raw))
        report["target_met"] = ratio <= TARGET_RATIO
    report["load_average_end"] = round(os.getloadavg()[0], 2)
    return report


def render(report: dict[str, object]) -> str:
    lines = [f"drain of {report['count']:,} messages over {report['transport']}, "
             f"{report['rounds']} rounds; {report['machine']}",
             f"  {report['fetch']}"]
    if "dovecot_maildir_load_s" in report:
        lines.append(f"  Dovecot maildir load: {report['dovecot_maildir_load_s']:.1f} s")
    lines.append(f"  {'server':8} {'client':8} {'phase':5} {'median s':>9} {'min s':>8} "
                 f"{'max s':>8} {'MB':>7} {'MB/s':>7} {'msgs/s':>9}")
    for leg in report["legs"]:  # type: ignore[attr-defined]
        med = leg["median_s"]
        lines.append(f"  {leg['server']:8} {leg['client']:8} {leg['phase']:5} {med:9.3f} "
                     f"{leg['min_s']:8.3f} {leg['max_s']:8.3f} {leg['mb']:7.1f} "
                     f"{leg['mb'] / med:7.1f} {leg['messages'] / med:9.0f}")
    for leg in report["legs"]:  # type: ignore[attr-defined]
        if "server_cpu_s" in leg:
            lines.append(f"  {leg['server']} server CPU per {leg['client']} {leg['phase']} "
                         f"drain (median): {leg['server_cpu_s']:.3f} s")
    if "ratio_fake_over_dovecot" in report:
        verdict = "met" if report["target_met"] else "NOT met"
        lines.append(f"  fake / Dovecot (raw, warm, paired by round, median): "
                     f"{report['ratio_fake_over_dovecot']:.2f} (target <= {TARGET_RATIO}: "
                     f"{verdict}); ratio of the medians {report['ratio_of_medians']:.2f}")
    if report.get("fake_peak_rss_mb"):
        lines.append(f"  fake server peak RSS (VmHWM) after every drain: "
                     f"{report['fake_peak_rss_mb']:.1f} MB")
    lines.append(f"  load average at end {report['load_average_end']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drain_compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--servers", default="dovecot,fake",
                        help="comma list from: dovecot, fake")
    parser.add_argument("--tls", action="store_true", help="drain over IMAPS (CA-verified)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if not servers or set(servers) - {"dovecot", "fake"}:
        parser.error(f"--servers: expected dovecot and/or fake, got {args.servers!r}")
    if args.count < 1 or args.rounds < 1:
        parser.error("--count and --rounds must be at least 1")
    started = time.perf_counter()
    report = run(args.count, args.rounds, args.seed, servers, args.tls)
    report["wall_s"] = time.perf_counter() - started
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
