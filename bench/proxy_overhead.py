"""What the scenario fault proxy costs: the same 100k-header drain, direct vs through it.

Serves the bundled ``inbox-100k`` scenario (no faults scripted) and drains INBOX with
``bench.rawdrain`` three times on each path, alternating, reporting the best of each.

    python -m bench.proxy_overhead
"""

from __future__ import annotations

import asyncio
import sys

from bench.rawdrain import Drain, raw_drain
from inboxlab import scenarios
from inboxlab.fakeserver.scenario.load import load
from inboxlab.fakeserver.scenario.serve import ScenarioServer

USER, PASSWORD = "user@example.com", "inboxlab-demo"


async def measure(rounds: int = 3) -> dict[str, Drain]:
    best: dict[str, Drain] = {}
    scenario = load(scenarios.path_of("inbox-100k"))
    async with ScenarioServer(scenario, smtp=False, control_port=None) as srv:
        assert srv.imap is not None
        for _ in range(rounds):
            for label, port in (("direct", srv.imap.port), ("proxy", srv.port)):
                got = await asyncio.to_thread(raw_drain, srv.host, port, USER, PASSWORD)
                if label not in best or got.seconds < best[label].seconds:
                    best[label] = got
    return best


def main() -> int:
    best = asyncio.run(measure())
    for label, drain in best.items():
        print(f"{label:7} {drain.seconds:6.2f} s  {drain.mb:6.1f} MB  {drain.messages} messages")
    overhead = best["proxy"].seconds / best["direct"].seconds - 1
    print(f"proxy overhead: {overhead:+.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
