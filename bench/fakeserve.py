"""Serve one generated INBOX from the fake IMAP server in its own process, for the bench.

Its own process because Dovecot runs in its own processes: a fake server sharing the
client's interpreter (and GIL) would be measured with the client's costs mixed in.

    python -m bench.fakeserve --count 100000 --seed 1      # login: bench.BENCH_USER/PASSWORD
prints ``READY <host> <port> <tls_port> <ca_pem>`` once listening, and serves until stdin
closes or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys

from bench import BENCH_PASSWORD, BENCH_USER
from inboxlab.fakeserver.config import AccountConfig, FolderConfig, ServerConfig
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.imap.server import FakeImapServer


def config_for(spec: GenSpec, user: str, password: str) -> ServerConfig:
    """One account whose INBOX is exactly spec (the messages bench.dovecot loads)."""
    inbox = FolderConfig("INBOX", generated=spec)
    return ServerConfig(accounts=(AccountConfig(user, password, (inbox,)),))


def _on_stdin(stop: asyncio.Event) -> None:
    if not os.read(sys.stdin.fileno(), 4096):  # EOF: our parent closed the pipe or died
        stop.set()


async def _serve(config: ServerConfig) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    # stdin closing (the bench exiting, even by a crash) also stops us: no orphans
    loop.add_reader(sys.stdin.fileno(), _on_stdin, stop)
    async with FakeImapServer(config) as srv:
        print(f"READY {srv.host} {srv.port} {srv.tls_port} {srv.ca_pem_path}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fakeserve")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    spec = GenSpec(count=args.count, seed=args.seed, owner=BENCH_USER)
    asyncio.run(_serve(config_for(spec, BENCH_USER, BENCH_PASSWORD)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
