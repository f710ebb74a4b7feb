"""How fast the fake server's mailbox model serves a big generated folder.

    python -m bench.fake_generate --count 100000 --rounds 3

Legs (each reports messages/s from CPU time, best of ``--rounds``; on a shared machine
CPU time is steadier than wall time):

- header_fields: ``Folder.header_fields`` with the engine's scan fields, alone.
- fetch_items:   everything ``UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE
                 BODY.PEEK[HEADER.FIELDS (...)])`` reads from the store per message.
- message:       whole messages (``Folder.raw``), also as MB/s.
- server:        that UID FETCH over loopback against the real fake IMAP server
                 (``fakeserver.imap.server``), run in a child process so the client does
                 not share its GIL; timed from sending the command to the tagged OK,
                 and the server process's CPU seconds for it (from /proc).
- dovecot:       with ``--dovecot``, the same fetch against a real Dovecot loaded with
                 the same messages (bench/dovecot.py), rounds interleaved with the fake
                 server's so both see the same machine load; ``fake_vs_dovecot`` is the
                 ratio of best times (target: <= 2).
                 Dovecot 2.3 on the same fetch: 0.56 s for 100k (bench/engine_scan.py).

The first ``header_fields`` round is cold (per-spec pools are built); later rounds
are what a long-running server sees.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time

from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.store import Folder

FIELDS = ("MESSAGE-ID", "IN-REPLY-TO", "REFERENCES", "FROM", "TO", "CC", "SUBJECT", "DATE")
ITEMS = f"(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS ({' '.join(FIELDS)})])"

_SERVER = """
import asyncio, sys
from inboxlab.fakeserver.config import default_config
from inboxlab.fakeserver.imap.server import FakeImapServer

async def main():
    async with FakeImapServer(default_config(inbox_count=int(sys.argv[1])), tls_port=None) as srv:
        print(srv.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


def _best(fn, rounds: int) -> float:  # type: ignore[no-untyped-def]
    """Best CPU time of ``rounds`` runs (CPU, not wall: the bench box is often shared)."""
    times = []
    for _ in range(rounds):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def _cpu_seconds(pid: int) -> float:
    """User+system CPU time a process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def store_legs(count: int, rounds: int) -> dict[str, float]:
    folder = Folder.generated("INBOX", GenSpec(count=count, seed=1))
    uids = folder.uids()
    out: dict[str, float] = {}

    def header_fields() -> None:
        for uid in uids:
            folder.header_fields(uid, FIELDS)

    def fetch_items() -> None:
        for uid in uids:
            folder.flags(uid)
            folder.size(uid)
            folder.internaldate(uid)
            folder.header_fields(uid, FIELDS)

    sample = uids[: max(1, count // 10)]
    total = 0

    def message() -> None:
        nonlocal total
        total = sum(len(folder.raw(uid)) for uid in sample)

    start = time.perf_counter()
    header_fields()
    out["header_fields_cold_s"] = time.perf_counter() - start
    out["header_fields_msgs_per_s"] = count / _best(header_fields, rounds)
    out["fetch_items_msgs_per_s"] = count / _best(fetch_items, rounds)
    best = _best(message, rounds)
    out["message_msgs_per_s"] = len(sample) / best
    out["message_mb_per_s"] = total / best / 1e6
    return out


def _read_tagged(sock: socket.socket, tag: bytes) -> int:
    """Read until ``tag OK/NO/BAD``; returns the bytes read (only the tail is inspected)."""
    total = 0
    tail = b"\r\n"  # so a reply that is the first line of a read is found too
    marker = b"\r\n" + tag + b" "
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("server closed the connection")
        total += len(chunk)
        tail = (tail + chunk)[-4096:]
        at = tail.rfind(marker)
        if at >= 0 and tail.endswith(b"\r\n") and tail.find(b"\r\n", at + 2) == len(tail) - 2:
            return total


class _Session:
    """A raw IMAP connection that logs in, EXAMINEs INBOX and times the big UID FETCH."""

    def __init__(self, port: int, user: str, password: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.recv(4096)
        self.sock.sendall(b'a LOGIN "%s" "%s"\r\n' % (user.encode(), password.encode()))
        _read_tagged(self.sock, b"a")
        self.sock.sendall(b"s EXAMINE INBOX\r\n")
        _read_tagged(self.sock, b"s")
        self.rounds = 0

    def fetch(self) -> tuple[float, int]:
        """(seconds, bytes) of one ``UID FETCH 1:* ITEMS`` to its tagged OK."""
        self.rounds += 1
        tag = b"f%d" % self.rounds
        start = time.perf_counter()
        self.sock.sendall(tag + b" UID FETCH 1:* " + ITEMS.encode() + b"\r\n")
        size = _read_tagged(self.sock, tag)
        return time.perf_counter() - start, size

    def close(self) -> None:
        self.sock.close()


def server_legs(count: int, rounds: int, dovecot: bool) -> dict[str, float]:
    """The fake server's fetch, and with ``dovecot`` the same fetch against a real Dovecot
    holding the same messages, rounds interleaved so both see the same machine load."""
    from inboxlab.fakeserver.config import DEMO_PASSWORD, DEMO_USER

    child = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    handle = None
    out: dict[str, float] = {}
    try:
        assert child.stdout is not None
        fake = _Session(int(child.stdout.readline()), DEMO_USER, DEMO_PASSWORD)
        real = None
        if dovecot:
            from bench.dovecot import BENCH_PASSWORD, find_dovecot, load_generated, start_dovecot

            if find_dovecot() is None:
                raise SystemExit("--dovecot: dovecot is not installed")
            handle = start_dovecot(users=[(DEMO_USER, BENCH_PASSWORD)])
            spec = GenSpec(count=count, seed=1, owner=DEMO_USER)  # what default_config serves
            out["dovecot_load_s"] = load_generated(handle, DEMO_USER, "INBOX", spec)
            real = _Session(handle.port, DEMO_USER, BENCH_PASSWORD)
            out["dovecot_fetch_cold_s"] = real.fetch()[0]  # builds Dovecot's index
        times, cpu, dtimes, size = [], [], [], 0
        for _ in range(rounds):
            start_cpu = _cpu_seconds(child.pid)
            seconds, size = fake.fetch()
            times.append(seconds)
            cpu.append(_cpu_seconds(child.pid) - start_cpu)
            if real is not None:
                dtimes.append(real.fetch()[0])
        out.update(
            server_fetch_s=min(times),
            server_fetch_cpu_s=min(cpu),
            server_fetch_mb=size / 1e6,
            server_fetch_first_s=times[0],
        )
        if dtimes:
            out.update(dovecot_fetch_s=min(dtimes), fake_vs_dovecot=min(times) / min(dtimes))
        fake.close()
        if real is not None:
            real.close()
        return out
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(timeout=30)
        if handle is not None:
            handle.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-server", action="store_true", help="skip the loopback leg")
    parser.add_argument(
        "--dovecot", action="store_true", help="also time a real Dovecot holding the same messages"
    )
    args = parser.parse_args(argv)
    result: dict[str, float | int] = {"count": args.count}
    result.update(store_legs(args.count, args.rounds))
    if not args.no_server:
        result.update(server_legs(args.count, args.rounds, args.dovecot))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
