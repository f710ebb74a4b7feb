"""Shared fixtures and the generic waiting helpers; deliberately small.

Waiting: tests never ``sleep`` for a fixed time. They wait for a condition with a deadline:

    from waiting import wait_until, async_wait_until
    wait_until(lambda: server.sessions == 1, timeout=5, what="one session")
    await async_wait_until(lambda: queue.qsize() > 0, what="an event")

Dovecot (tests/dovecot.py): ``dovecot`` is one real server for the whole session, special-use
on; give each test its own user with ``dovecot.add_user`` so tests never share mailboxes.
``dovecot_factory(special_use=False)`` or ``dovecot_factory(extra_config="...")`` starts a
private one that stops when the test ends. Both skip when Dovecot is not installed. A handle
offers host, port (plain/STARTTLS), tls_port, ca_pem, users, maildir(user),
load_messages(user, folder, [(bytes, "\\Seen", aware datetime)]), set_uidvalidity, kick,
doveadm(*args) and log_tail(). ``dovecot_submission()`` adds Dovecot's SMTP submission service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import namespace_guard
import pytest
from dovecot import DovecotHandle, find_dovecot, start_dovecot
from dovecot_submission import MISSING as SUBMISSION_MISSING
from dovecot_submission import Submission, have_submission, start_submission
from waiting import async_wait_until, wait_until

namespace_guard.install()  # issue 19: only inboxlab.engine etc., never a bare `engine` from here

__all__ = ["async_wait_until", "wait_until"]


def _need_dovecot() -> None:
    if find_dovecot() is None:
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd)")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotHandle]:
    """One real Dovecot (special-use folders on) shared by the whole session."""
    _need_dovecot()
    with start_dovecot() as handle:
        yield handle


@pytest.fixture
def dovecot_factory() -> Iterator[Callable[..., DovecotHandle]]:
    """Start private Dovecot variants, e.g. ``dovecot_factory(special_use=False)``."""
    _need_dovecot()
    started: list[DovecotHandle] = []

    def make(**kwargs: object) -> DovecotHandle:
        handle = start_dovecot(**kwargs)  # type: ignore[arg-type]
        started.append(handle)
        return handle

    yield make
    for handle in started:
        handle.stop()


@pytest.fixture
def dovecot_submission(
        dovecot_factory: Callable[..., DovecotHandle]) -> Callable[..., Submission]:
    """Issue 13: a private Dovecot whose submission service is the real SMTP server
    (tests/dovecot_submission.py), e.g. ``dovecot_submission(users=[(u, p)], tls=False)``."""
    if not have_submission():
        pytest.skip(SUBMISSION_MISSING)

    def make(**kwargs: object) -> Submission:
        return start_submission(dovecot_factory, **kwargs)

    return make
