"""The multi-session model check (tests/interop/model_check.py), short runs: the fake server
always, Dovecot where installed, same seed. The 20-client 60 s run is bench/model_check.py."""

from __future__ import annotations

import asyncio

import pytest
from diff_sessions import fake_config
from diff_wire import Wire, parse
from dovecot import DovecotHandle
from model_check import ModelCheck, Session

from inboxlab.fakeserver.imap.server import FakeImapServer

SEED, CLIENTS, STEPS = 20261205, 4, 240
PASSWORD = "model-pass"


def run(host: str, port: int, user: str, clients: int = CLIENTS, steps: int = STEPS):
    login = b'LOGIN "%s" "%s"' % (user.encode(), PASSWORD.encode())
    check = ModelCheck(lambda: Wire(host, port), login, clients=clients, seed=SEED)
    return check.run(steps=steps)


def _judged(report) -> None:
    assert report.violations == [], "\n".join(report.violations[:20])
    assert report.commands >= STEPS // 2
    assert set(report.by_op) >= {"append", "store", "copy", "move", "expunge", "uid search",
                                 "search", "fetch", "uid fetch", "idle"}


async def test_model_check_on_the_fake_server() -> None:
    user = "model@example.com"
    fake = FakeImapServer(fake_config(user, PASSWORD), tls_port=None)
    await fake.start()
    try:
        report = await asyncio.to_thread(run, fake.host, fake.port, user)
    finally:
        await fake.stop()
    _judged(report)


@pytest.mark.dovecot
@pytest.mark.interop
async def test_model_check_on_dovecot(dovecot: DovecotHandle) -> None:
    user = "model@example.com"
    dovecot.add_user(user, PASSWORD)
    report = await asyncio.to_thread(run, dovecot.host, dovecot.port, user)
    _judged(report)
    assert report.expungeissued > 0  # the run reaches the case it is about


def test_the_judge_catches_an_expunge_during_fetch() -> None:
    """A server that sends EXPUNGE in reply to a non-UID FETCH (or past the count, or for
    a message still there) is caught."""
    check = ModelCheck.__new__(ModelCheck)
    check._expunged = []
    check.model, check.report = __import__("model_check").Model(), __import__(
        "model_check").Report()
    check.model.inbox = {1: frozenset(), 2: frozenset()}
    s = Session(0, wire=None, seqs=[1, 2])  # type: ignore[arg-type]
    check._untagged(s, parse(b"* 2 EXPUNGE\r\n"), "fetch")
    check._untagged(s, parse(b"* 5 EXPUNGE\r\n"), "noop")
    check._untagged(s, parse(b"* 0 EXISTS\r\n"), "noop")
    check._judge_expunges()  # UID 2 is still in the mailbox
    assert [v.split(": ", 1)[1].split(" ")[0] for v in check.report.violations] == [
        "EXPUNGE", "EXPUNGE", "EXISTS", "EXPUNGE"]
