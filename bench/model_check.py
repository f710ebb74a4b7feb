"""The multi-session model check at bench scale: 20 clients, 60 s, Dovecot and the fake.

tests/interop/model_check.py is the check (N sessions doing seeded random APPEND/STORE/
COPY/MOVE/EXPUNGE/SEARCH/FETCH/IDLE, every response judged against what RFC 3501/7162 let
that session see); tests/interop/test_model_check.py runs it briefly in ``make test``.
This runs it long, on a throwaway Dovecot and on the fake server (in this process, on a
thread of its own: the figures are counts, not a speed contest), same seed, and prints
what each run did and every violation.

    python -m bench.model_check [--clients 20] [--seconds 60] [--seed 1] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_TESTS = Path(__file__).resolve().parent.parent / "tests"
for _path in (_TESTS, _TESTS / "interop"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from diff_sessions import fake_config  # noqa: E402  (tests/ is not a package)
from diff_wire import Wire  # noqa: E402
from dovecot import start_dovecot  # noqa: E402
from model_check import ModelCheck, Report  # noqa: E402

from inboxlab.fakeserver.imap.server import FakeImapServer  # noqa: E402

USER, PASSWORD = "model@example.com", "model-pass"


def _run(host: str, port: int, *, clients: int, seconds: float, seed: int) -> dict[str, Any]:
    login = b'LOGIN "%s" "%s"' % (USER.encode(), PASSWORD.encode())
    start = time.monotonic()
    report: Report = ModelCheck(lambda: Wire(host, port), login, clients=clients,
                                seed=seed).run(seconds=seconds)
    wall = time.monotonic() - start
    return {"clients": clients, "wall_s": round(wall, 1), "commands": report.commands,
            "commands_per_s": round(report.commands / wall), "responses": report.responses,
            "expungeissued": report.expungeissued, "by_op": report.by_op,
            "violations": report.violations}


def on_dovecot(**kw: Any) -> dict[str, Any]:
    handle = start_dovecot(users=((USER, PASSWORD),))
    try:
        return _run(handle.host, handle.port, **kw)
    finally:
        handle.stop()


def on_fake(**kw: Any) -> dict[str, Any]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def call(coro_fn: Callable[[], Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro_fn(), loop).result(timeout=60)

    server = FakeImapServer(fake_config(USER, PASSWORD), tls_port=None)
    call(server.start)
    try:
        return _run(server.host, server.port, **kw)
    finally:
        call(server.stop)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.model_check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--servers", choices=("both", "dovecot", "fake"), default="both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    kw = {"clients": args.clients, "seconds": args.seconds, "seed": args.seed}
    results = {}
    if args.servers in ("both", "dovecot"):
        results["dovecot"] = on_dovecot(**kw)
    if args.servers in ("both", "fake"):
        results["fake"] = on_fake(**kw)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name, got in results.items():
            print(f"{name}: {got['clients']} clients, {got['wall_s']} s, {got['commands']} "
                  f"commands ({got['commands_per_s']}/s), {got['responses']} responses, "
                  f"{got['expungeissued']} EXPUNGEISSUED, {len(got['violations'])} violations")
            for line in got["violations"][:20]:
                print("   ", line)
    return 1 if any(r["violations"] for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
