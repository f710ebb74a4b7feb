"""Same scenario, same seed, same client: byte-identical server transcripts.

The scenario mixes everything that could drift: seeded jitter, a seeded probability
trigger, deliveries, another client's expunge and flag changes, generated messages.
A different seed must change the transcript (so the comparison can fail).
"""

from __future__ import annotations

import asyncio
import imaplib
import random

from scenario_helpers import HEADER, PASSWORD, USER, event, scenario_with
from waiting import async_wait_until

from inboxlab.fakeserver.scenario.model import Scenario
from inboxlab.fakeserver.scenario.serve import ScenarioServer


def scenario(seed: int) -> Scenario:
    timeline = (
        event("{ connection = 1 }",
              f'{{ type = "latency", ms = 1, jitter_ms = 3, seed = {seed} }}', "jitter")
        + event(f'{{ probability = 0.5, seed = {seed}, per = "command", command_name = "NOOP" }}',
                '{ type = "no", code = "INUSE", text = "busy" }', "coin")
        + event('{ command = "NOOP", nth = 2 }',
                f'{{ type = "deliver", count = 2, seed = {seed} }}', "mail")
        + event('{ command = "NOOP", nth = 3 }',
                '{ type = "expunge", folder = "INBOX", count = 2 }', "phone")
        + event('{ command = "NOOP", nth = 4 }',
                '{ type = "flags", folder = "INBOX", add = ["\\\\Flagged"], count = 3 }', "flag")
    )
    return scenario_with(timeline, header=HEADER.replace("seed = 5", f"seed = {seed}"))


def client_script(srv: ScenarioServer) -> None:
    random.seed(1234)  # imaplib draws its tag prefix from the global RNG
    c = imaplib.IMAP4(srv.host, srv.port, timeout=10)
    c.login(USER, PASSWORD)
    c.list()
    c.select("INBOX")
    c.uid("FETCH", "1:5", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.PEEK[HEADER])")
    for _ in range(8):
        c.noop()
    c.uid("SEARCH", "ALL")
    c.uid("FETCH", "38:*", "(UID FLAGS BODY.PEEK[])")
    c.logout()


async def run(seed: int) -> bytes:
    async with ScenarioServer(scenario(seed), control_port=None, smtp=False,
                              transcripts=True) as srv:
        await asyncio.to_thread(client_script, srv)
        imap = srv.imap
        assert imap is not None
        # the transcript is complete once the server has seen the connection end
        await async_wait_until(lambda: not imap.connections, what="the connection closed")
        return b"".join(bytes(srv.runtime.transcripts[k])
                        for k in sorted(srv.runtime.transcripts))


async def test_two_runs_with_the_same_seed_are_byte_identical() -> None:
    first = await run(21)
    second = await run(21)
    assert len(first) > 20_000  # the fetches really happened
    assert b"[redacted]" in first and PASSWORD.encode() not in first
    assert b"* 2 EXPUNGE" in first or b"* 1 EXPUNGE" in first
    assert first == second


async def test_a_different_seed_gives_a_different_run() -> None:
    assert await run(21) != await run(22)
