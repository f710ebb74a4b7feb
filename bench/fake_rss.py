"""Peak RSS of the fake IMAP server holding a 1,000,000-message generated folder.

The claim under test (issue 2): a generated folder costs memory for its *changes*, not for
its size, so a million-message INBOX fits in <= 200 MB even after a client has read every
message's flags. The server runs in a child process (``bench.fakeserve``), so the figure is
the server's own peak, not this client's:

    python -m bench.fake_rss                      # 1,000,000 messages, target 200 MB
    python -m bench.fake_rss --count 100000 --json

One raw-socket connection logs in, SELECTs INBOX and drains ``FETCH 1:* (UID FLAGS)`` to its
tagged OK (every FETCH response is counted; a short drain aborts the run). Peak RSS is the
child's ``VmHWM`` from /proc (the high-water mark of its resident set since exec), read at
each stage; ``VmRSS`` is printed beside it as the size right now.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import selectors
import subprocess
import sys
import time
from pathlib import Path

from bench import BENCH_PASSWORD, BENCH_USER
from bench.rawdrain import DrainError, RawConnection, quote

ROOT = Path(__file__).resolve().parent.parent
TARGET_MB = 200.0


def proc_memory(pid: int) -> tuple[float, float]:
    """(VmHWM, VmRSS) of pid in MB (10**6 bytes), from /proc/<pid>/status."""
    found: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                found[key] = int(rest.split()[0]) * 1024 / 1e6  # the kernel reports kB
    if len(found) != 2:
        raise SystemExit(f"/proc/{pid}/status has no VmHWM/VmRSS (not Linux?)")
    return found["VmHWM"], found["VmRSS"]


def start_server(count: int, seed: int, timeout: float) -> tuple[subprocess.Popen[bytes], str, int]:
    """bench.fakeserve in a child process; returns it with its host and plain port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.fakeserve", "--count", str(count), "--seed", str(seed)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            stop_server(proc)
            raise SystemExit(f"fake server not READY within {timeout:.0f}s")
    words = proc.stdout.readline().decode().split()
    if words[:1] != ["READY"]:
        stop_server(proc)
        raise SystemExit(f"fake server failed to start (said {words!r})")
    return proc, words[1], int(words[2])


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()  # bench.fakeserve stops when its stdin closes
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(count: int, seed: int, timeout: float) -> dict[str, object]:
    proc, host, port = start_server(count, seed, timeout)
    stages: list[dict[str, object]] = []

    def stage(name: str, seconds: float | None = None) -> None:
        hwm, rss = proc_memory(proc.pid)
        stages.append({"stage": name, "peak_rss_mb": round(hwm, 1), "rss_mb": round(rss, 1),
                       "seconds": None if seconds is None else round(seconds, 3)})

    try:
        stage("listening")
        client = RawConnection(host, port, None, timeout)
        try:
            for tag, line in ((b"L", b"LOGIN " + quote(BENCH_USER) + b" " + quote(BENCH_PASSWORD)),
                              (b"S", b"SELECT INBOX")):
                started = time.perf_counter()
                reply, _, _ = client.command(tag, line)
                if not reply.startswith(tag + b" OK"):
                    raise SystemExit(f"{line.split()[0].decode()} failed: {reply!r}")
                stage("after " + line.split()[0].decode(), time.perf_counter() - started)
            started = time.perf_counter()
            reply, nbytes, fetches = client.command(b"F", b"FETCH 1:* (UID FLAGS)")
            seconds = time.perf_counter() - started
            if not reply.startswith(b"F OK"):
                raise SystemExit(f"FETCH failed: {reply!r}")
            if fetches != count:
                raise SystemExit(f"FETCH answered {fetches} messages, expected {count}")
            stage("after FETCH 1:* (UID FLAGS)", seconds)
        finally:
            client.close()
    finally:
        stop_server(proc)
    peak = max(float(s["peak_rss_mb"]) for s in stages)  # type: ignore[arg-type]
    return {
        "count": count, "seed": seed, "fetch_bytes": nbytes, "fetch_mb": round(nbytes / 1e6, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
                   f"load average {os.getloadavg()[0]:.2f}",
        "python": platform.python_version(),
        "stages": stages, "peak_rss_mb": peak, "target_mb": TARGET_MB,
        "met": peak <= TARGET_MB,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fake_rss", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600.0, help="socket and start timeout")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not Path("/proc/self/status").exists():
        print("error: needs Linux /proc to read the server's peak RSS", file=sys.stderr)
        return 2
    try:
        report = run(args.count, args.seed, args.timeout)
    except DrainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.count} generated messages (seed {args.seed}); {report['machine']}; "
          f"Python {report['python']}; FETCH answer {report['fetch_mb']} MB")
    print(f"{'stage':32} {'peak RSS MB':>11} {'RSS MB':>8} {'seconds':>8}")
    for s in report["stages"]:  # type: ignore[attr-defined]
        secs = "" if s["seconds"] is None else f"{s['seconds']:.3f}"
        print(f"{s['stage']:32} {s['peak_rss_mb']:11.1f} {s['rss_mb']:8.1f} {secs:>8}")
    verdict = "met" if report["met"] else "MISSED"
    print(f"peak RSS {report['peak_rss_mb']:.1f} MB (target <= {TARGET_MB:.0f} MB: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
