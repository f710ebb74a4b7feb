"""The account runner against a real Dovecot: the reference the fake server is judged by.

Each test logs in as its own user on the shared server (special-use on), or starts a
private one (special-use off). New mail is APPENDed by a second client, as another
mail program would; Dovecot's own tools reset UIDVALIDITY and kick sessions.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest
from account_helpers import Recorder, make_account, settings_for
from dovecot_setup import Account as DovecotUser
from waiting import async_wait_until

from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.roles import Role
from inboxlab.engine.states import State
from inboxlab.engine.supervise import DisconnectNotice
from inboxlab.engine.sync import ScannedMessage

pytestmark = pytest.mark.dovecot

_users = itertools.count(1)
_serial = itertools.count(1)


def new_user(dovecot: Any, inbox: int = 0) -> tuple[str, str]:
    name = f"acct{next(_users)}@example.com"
    password = f"pw-{name}"
    dovecot.add_user(name, password)
    if inbox:
        load(dovecot, name, "INBOX", inbox)
    return name, password


def message(subject: str) -> bytes:
    return (f"Message-ID: <acct-{next(_serial)}@example.com>\r\nFrom: a@example.com\r\n"
            f"To: b@example.com\r\nSubject: {subject}\r\n\r\nbody\r\n").encode()


def load(dovecot: Any, user: str, folder: str, count: int) -> None:
    from datetime import UTC, datetime
    when = datetime(2026, 3, 2, tzinfo=UTC)
    dovecot.load_messages(user, folder, ((message(f"{folder} {n}"), "", when)
                                         for n in range(count)))


async def change_password(dovecot: Any, user: str, password: str) -> None:
    """As on the provider's web page. Dovecot re-reads a passwd-file when its mtime or size
    changes (a same-size rewrite in the same second would go unnoticed, so the mtime is
    moved on), at most once a second: wait until its auth really takes the new one."""
    dovecot._write_passwd(DovecotUser(user, password))
    path = dovecot.root / "passwd.d" / user
    later = path.stat().st_mtime + 10
    os.utime(path, (later, later))
    await async_wait_until(
        lambda: "auth succeeded" in dovecot.doveadm("auth", "test", user, password, check=False),
        timeout=10, what="Dovecot to accept the new password", interval=0.1)


@pytest.mark.parametrize("security", ["plain", "starttls", "tls"])
async def test_connects_syncs_and_finds_sent(dovecot: Any, tmp_path: Path,
                                             security: str) -> None:
    user, password = new_user(dovecot, inbox=12)
    port = dovecot.tls_port if security == "tls" else dovecot.port
    rec = Recorder()
    account = make_account(settings_for(dovecot.host, port, user, security), password,
                           tmp_path, rec, initial_scan="full", cafile=str(dovecot.ca_pem))
    await account.start()
    try:
        await async_wait_until(lambda: account.state is State.IDLE and account.delivered == 12,
                               timeout=15, what=f"first sync over {security}")
    finally:
        await account.stop()
    sent = account.roles[Role.SENT]
    assert (sent.folder, sent.source) == ("Sent", "attribute")


async def test_new_mail_is_noticed_through_idle_within_a_second(dovecot: Any,
                                                                tmp_path: Path) -> None:
    user, password = new_user(dovecot, inbox=3)
    rec = Recorder()
    account = make_account(settings_for(dovecot.host, dovecot.port, user), password, tmp_path,
                           rec, initial_scan="new", poll_interval=60.0)
    await account.start()
    try:
        await async_wait_until(lambda: rec.named("watch.idle") and account.state is State.IDLE,
                               timeout=15, what="IDLE on INBOX")
        async with ImapClient(dovecot.host, dovecot.port, security="plain") as other:
            await other.login(Credentials(user, password))
            await other.append("INBOX", message("appended-by-another-client"))
        await async_wait_until(
            lambda: any(b"appended-by-another-client" in s for s in rec.subjects()),
            timeout=1.0, what="the appended message, within 1 s (poll interval is 60 s)")
    finally:
        await account.stop()


async def test_localized_sent_without_special_use(dovecot_factory: Any,
                                                  tmp_path: Path) -> None:
    server = dovecot_factory(special_use=False)
    user, password = new_user(server)
    load(server, user, "Gesendet", 4)
    load(server, user, "Presentations", 2)
    rec = Recorder()
    account = make_account(settings_for(server.host, server.port, user), password, tmp_path,
                           rec)
    await account.start()
    try:
        await async_wait_until(lambda: account.state is State.IDLE, timeout=15, what="idle")
    finally:
        await account.stop()
    sent = account.roles[Role.SENT]
    assert sent.folder == "Gesendet", sent.reason  # used, localized; not the empty "Sent"
    assert all(c.folder != "Presentations" for c in account.roles.values())


async def test_uidvalidity_reset_is_recovered(dovecot: Any, tmp_path: Path) -> None:
    user, password = new_user(dovecot, inbox=8)
    rec = Recorder()
    account = make_account(settings_for(dovecot.host, dovecot.port, user), password, tmp_path,
                           rec, initial_scan="full", poll_interval=0.2)
    await account.start()
    try:
        await async_wait_until(lambda: account.delivered == 8, timeout=15, what="first sync")
        dovecot.set_uidvalidity(user, "INBOX", 777)

        async def recovered() -> bool:
            cp = await account.store.get(user, "INBOX")
            return cp is not None and cp.uidvalidity == 777 and account.delivered == 16

        await async_wait_until(recovered, timeout=15, what="rescan under UIDVALIDITY 777")
    finally:
        await account.stop()
    assert {m.uidvalidity for m in rec.messages[8:]} == {777}


async def test_password_change_stops_with_one_refused_login(dovecot: Any,
                                                            tmp_path: Path) -> None:
    user, password = new_user(dovecot, inbox=2)
    rec = Recorder()
    account = make_account(settings_for(dovecot.host, dovecot.port, user), password, tmp_path,
                           rec)
    await account.start()
    try:
        await async_wait_until(lambda: account.state is State.IDLE, timeout=15, what="idle")
        attempts = account.login_attempts
        await change_password(dovecot, user, "a-new-password")
        dovecot.kick(user)
        await async_wait_until(lambda: account.state is State.AUTH_ERROR, timeout=15,
                               what="auth_error")
        await async_wait_until(lambda: not account.running, what="the runner gives up")
        assert account.login_attempts == attempts + 1  # no retry storm
    finally:
        await account.stop()
    (notice,) = rec.of(DisconnectNotice)
    assert notice.permanent and notice.stage == "imap_login" and notice.server_text


async def test_a_reset_mid_scan_resumes_refetching_at_most_one_batch(dovecot: Any,
                                                                     tmp_path: Path) -> None:
    """The fault proxy sits in front of Dovecot; the network drops inside batch 3."""
    from inboxlab.fakeserver.faults.proxy import FaultProxy

    user, password = new_user(dovecot, inbox=1000)
    proxy = FaultProxy(upstream_host=dovecot.host, upstream_port=dovecot.port,
                       upstream_tls_port=None)
    await proxy.start()
    rec = Recorder()
    uids: list[int] = []

    def sink(message: ScannedMessage) -> None:
        uids.append(message.uid)
        if len(uids) == 450:  # mid-way through the third batch of 200
            for link in list(proxy.links.values()):
                link.reset()

    account = make_account(settings_for(proxy.host, proxy.port, user), password, tmp_path, rec,
                           initial_scan="full", batch=200)
    account._sink = sink
    await account.start()
    try:
        await async_wait_until(lambda: len(set(uids)) == 1000 and account.state is State.IDLE,
                               timeout=20, what="the scan, resumed after the reset")
    finally:
        await account.stop()
        await proxy.stop()
    assert account.reconnects == 1 and account.errors[0].code == "connection_reset"
    assert sorted(set(uids)) == list(range(1, 1001))
    # At most the interrupted batch is read again, once. Which one depends on how much
    # of Dovecot's answer was already in our socket buffer when the RST came: batch 3
    # (401..600), or none when all of batch 3 and its OK had arrived (checkpointed).
    again = sorted({u for u in uids if uids.count(u) > 1})
    assert len(uids) - 1000 == len(again) <= 200
    assert not again or (again[0] - 1) // 200 == (again[-1] - 1) // 200 >= 2
