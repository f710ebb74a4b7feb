"""A real Dovecot outside pytest, loaded with generated mail: the bench's reference server.

There is one implementation of the throwaway Dovecot, tests/dovecot.py; this module makes it
importable from bench/ and adds what benchmarks need on top: loading a ``fakeserver.generate``
folder (the very messages the fake server serves) and a CLI to keep one running by hand:

    python -m bench.dovecot --count 100000     # prints host, ports, CA, login; Ctrl-C stops
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

_TESTS = Path(__file__).resolve().parent.parent / "tests"
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))

from dovecot import (  # noqa: E402  (tests/ is not a package; see above)
    DovecotError,
    DovecotHandle,
    find_dovecot,
    start_dovecot,
)

from bench import BENCH_PASSWORD, BENCH_USER  # noqa: E402
from inboxlab.fakeserver.generate import GenSpec, default_flags, internaldate, message  # noqa: E402

__all__ = ["BENCH_PASSWORD", "DovecotError", "DovecotHandle", "find_dovecot",
           "generated", "load_generated", "start_dovecot"]



def generated(spec: GenSpec) -> Iterator[tuple[bytes, str, datetime]]:
    """(bytes, flags, INTERNALDATE) of every message of spec, as the fake server has them."""
    for index in range(spec.count):
        flags = " ".join(sorted(default_flags(spec, index)))
        yield message(spec, index), flags, internaldate(spec, index)


def load_generated(handle: DovecotHandle, user: str, folder: str, spec: GenSpec,
                   *, index: bool = False) -> float:
    """Load spec's messages into user's folder; returns the seconds it took."""
    started = time.perf_counter()
    handle.load_messages(user, folder, generated(spec), index=index)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dovecot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000, help="messages in INBOX")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--user", default=BENCH_USER)
    parser.add_argument("--no-special-use", action="store_true")
    parser.add_argument("--index", action="store_true", help="build the index before serving")
    args = parser.parse_args(argv)
    if find_dovecot() is None:
        print("error: dovecot is not installed (apt-get install dovecot-imapd)", file=sys.stderr)
        return 2
    try:
        spec = GenSpec(count=args.count, seed=args.seed, owner=args.user)
        with start_dovecot(special_use=not args.no_special_use,
                           users=[(args.user, BENCH_PASSWORD)]) as handle:
            took = load_generated(handle, args.user, "INBOX", spec, index=args.index)
            print(f"loaded {args.count} messages in {took:.1f}s\n"
                  f"host {handle.host}  imap {handle.port}  imaps {handle.tls_port}\n"
                  f"CA {handle.ca_pem}\nlogin {args.user} / {BENCH_PASSWORD}\n"
                  f"config {handle.config_path}\nCtrl-C stops and removes {handle.root}",
                  flush=True)
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
    except Exception as exc:  # a CLI: print the typed error, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    sys.exit(main())
