"""The engine's IMAP client against a real Dovecot: TLS, login, LIST, SELECT, FETCH, IDLE.

Each test logs in as its own user (``dovecot.add_user``) so tests share one server
without sharing mailboxes.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from inboxlab.engine.errors import AuthFailed, ConfigError, ServerRefused, TlsError
from inboxlab.engine.imap.client import HEADER_ITEMS, ImapClient
from inboxlab.engine.imap.commands import Atom
from inboxlab.engine.imap.model import Event, Exists, Expunge, Vanished
from inboxlab.engine.imap.results import Credentials

pytestmark = pytest.mark.dovecot

_users = itertools.count(1)


def new_user(dovecot: Any) -> Credentials:
    name = f"client{next(_users)}@example.com"
    password = f"pw-{name}-s3cret"
    dovecot.add_user(name, password)
    return Credentials(name, password)


def make_message(n: int) -> bytes:
    return (
        f"Message-ID: <msg{n}.seed7@example.com>\r\n"
        f"From: Sender {n} <sender{n}@example.com>\r\n"
        "To: user@example.com\r\n"
        f"Subject: Hello number {n}\r\n"
        "Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
        "\r\n"
        f"Body of message {n}.\r\n"
    ).encode()


def load(dovecot: Any, user: str, count: int, folder: str = "INBOX") -> None:
    base = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    dovecot.load_messages(
        user, folder,
        ((make_message(n), "\\Seen" if n % 3 == 0 else "", base + timedelta(minutes=n))
         for n in range(1, count + 1)),
    )


def plain(dovecot: Any, **kw: Any) -> ImapClient:
    return ImapClient(dovecot.host, dovecot.port, security="plain", timeout=30, **kw)


async def test_connect_plain_and_login(dovecot: Any) -> None:
    creds = new_user(dovecot)
    async with plain(dovecot) as client:
        assert client.greeting is not None and client.greeting.status == "OK"
        assert "IMAP4REV1" in client.caps
        await client.login(creds)
        assert client.authenticated
        assert "IDLE" in await client.capability()


async def test_starttls_verified_with_the_ca(dovecot: Any) -> None:
    creds = new_user(dovecot)
    client = ImapClient(dovecot.host, dovecot.port, security="starttls",
                        cafile=str(dovecot.ca_pem))
    async with client:
        assert client.tls
        assert "STARTTLS" not in client.caps  # capabilities re-read after the upgrade
        await client.login(creds)


async def test_implicit_tls_with_the_ca(dovecot: Any) -> None:
    creds = new_user(dovecot)
    async with ImapClient(dovecot.host, dovecot.tls_port, cafile=str(dovecot.ca_pem)) as client:
        assert client.tls
        await client.login(creds)
        assert (await client.select("INBOX")).exists == 0


async def test_tls_without_the_ca_is_untrusted(dovecot: Any) -> None:
    client = ImapClient(dovecot.host, dovecot.tls_port, connect_timeout=10)
    with pytest.raises(TlsError) as err:
        await client.connect()
    assert err.value.code == "tls_untrusted"
    assert err.value.permanent
    assert err.value.stage == "imap_tls"


async def test_starttls_without_the_ca_is_untrusted(dovecot: Any) -> None:
    client = ImapClient(dovecot.host, dovecot.port, security="starttls", connect_timeout=10)
    with pytest.raises(TlsError) as err:
        await client.connect()
    assert err.value.code == "tls_untrusted"


async def test_hostname_mismatch_names_the_expected_host(dovecot: Any) -> None:
    client = ImapClient(dovecot.host, dovecot.tls_port, cafile=str(dovecot.ca_pem),
                        server_hostname="wrong.example", connect_timeout=10)
    with pytest.raises(TlsError) as err:
        await client.connect()
    assert err.value.code == "tls_hostname_mismatch"
    assert "wrong.example" in str(err.value)


async def test_wrong_password_is_a_permanent_auth_failure(dovecot: Any) -> None:
    creds = new_user(dovecot)
    async with plain(dovecot) as client:
        with pytest.raises(AuthFailed) as err:
            await client.login(Credentials(creds.username, "not-the-password"))
    assert err.value.permanent
    assert err.value.response_code == "AUTHENTICATIONFAILED"
    assert err.value.server_text == "Authentication failed."
    assert err.value.stage == "imap_login"


async def test_password_never_reaches_the_trace(dovecot: Any) -> None:
    creds = new_user(dovecot)
    seen: list[tuple[str, dict[str, Any]]] = []
    async with plain(dovecot, trace=lambda name, **info: seen.append((name, info))) as client:
        await client.login(creds)
    names = {name for name, _ in seen}
    assert {"imap.send.started", "imap.line.out", "imap.line.in", "imap.send.complete"} <= names
    everything = repr(seen)
    assert creds.reveal() not in everything
    assert "[redacted]" in everything
    assert creds.reveal() not in repr(creds)


async def test_plaintext_login_to_a_remote_host_needs_opt_in() -> None:
    client = ImapClient("imap.example.com", security="plain")
    with pytest.raises(ConfigError) as err:
        await client.login(Credentials("u", "p"))  # refused before any byte is sent
    assert err.value.code == "plaintext_login_refused"


async def test_list_reports_special_use(dovecot: Any) -> None:
    creds = new_user(dovecot)
    async with plain(dovecot) as client:
        await client.login(creds)
        items = await client.list()
    by_name = {item.name: item for item in items}
    assert "INBOX" in by_name
    assert "\\Sent" in by_name["Sent"].attrs
    assert "\\Trash" in by_name["Trash"].attrs
    assert by_name["Sent"].delimiter is not None


async def test_select_condstore_and_stream_2000_headers(dovecot: Any) -> None:
    creds = new_user(dovecot)
    load(dovecot, creds.username, 2000)
    async with plain(dovecot) as client:
        await client.login(creds)
        box = await client.select("INBOX", condstore=True)
        assert box.exists == 2000
        assert box.uidvalidity and box.uidnext == 2001
        assert box.highestmodseq is not None
        uids = []
        async for msg in client.uid_fetch("1:*", HEADER_ITEMS):
            body = next(v for k, v in msg.items.items() if k.startswith("BODY["))
            assert f"<msg{msg.uid}.seed7@example.com>".encode() in body
            assert ("\\Seen" in msg.items["FLAGS"]) == (msg.uid % 3 == 0)
            assert msg.items["RFC822.SIZE"] == len(make_message(msg.uid))
            uids.append(msg.uid)
        assert uids == list(range(1, 2001))
        # the connection is still usable after a stream, and chunked fetches agree
        chunked = [m.uid async for m in client.uid_fetch(range(1, 301), "(UID FLAGS)", chunk=100)]
        assert chunked == list(range(1, 301))
        batches = [b async for b in client.uid_fetch_batches("1:*", "(UID FLAGS)")]
        assert all(batches) and [m.uid for b in batches for m in b] == list(range(1, 2001))


async def test_stopping_a_stream_early_leaves_the_connection_usable(dovecot: Any) -> None:
    creds = new_user(dovecot)
    load(dovecot, creds.username, 500)
    async with plain(dovecot) as client:
        await client.login(creds)
        await client.select("INBOX")
        async for msg in client.uid_fetch("1:*", HEADER_ITEMS):
            if msg.uid == 10:
                break
        assert await client.uid_search(Atom("UID"), Atom("5:7")) == [5, 6, 7]


async def test_uid_search_header(dovecot: Any) -> None:
    creds = new_user(dovecot)
    load(dovecot, creds.username, 50)
    async with plain(dovecot) as client:
        await client.login(creds)
        await client.select("INBOX")
        found = await client.uid_search(Atom("HEADER"), "Message-ID", "<msg37.seed7@example.com>")
        assert found == [37]
        assert await client.uid_search(Atom("HEADER"), "Message-ID", "<nope@example.com>") == []


async def test_append_reports_appenduid(dovecot: Any) -> None:
    creds = new_user(dovecot)
    raw = make_message(4242)
    when = datetime(2026, 1, 5, 8, 30, tzinfo=UTC)
    async with plain(dovecot) as client:
        await client.login(creds)
        box = await client.select("Sent")
        result = await client.append("Sent", raw, flags=("\\Seen",), date=when)
        assert result.uidvalidity == box.uidvalidity
        assert result.uid is not None
        items = "(UID FLAGS INTERNALDATE BODY.PEEK[])"
        got = [m async for m in client.uid_fetch([result.uid], items)]
    assert len(got) == 1
    assert got[0].items["BODY[]"] == raw
    assert "\\Seen" in got[0].items["FLAGS"]
    assert got[0].items["INTERNALDATE"] == "05-Jan-2026 08:30:00 +0000"


async def test_idle_sees_a_message_appended_elsewhere(dovecot: Any) -> None:
    creds = new_user(dovecot)
    unsolicited: list[Event | Exception] = []
    async with plain(dovecot, on_untagged=unsolicited.append) as watcher, plain(dovecot) as other:
        await watcher.login(creds)
        await other.login(creds)
        await watcher.select("INBOX")
        idle = await watcher.idle()
        await other.append("INBOX", make_message(1))
        events: list[Event] = []
        for _ in range(20):  # each wait is bounded; Dovecot notifies within ~1 s
            events += await idle.wait(1.0)
            if any(isinstance(e, Exists) for e in events):
                break
        done = await idle.done()
        assert done.status == "OK"
    assert Exists(1) in events
    assert Exists(1) in unsolicited
    # a normal LOGOUT (BYE, then the server closes) is not reported as a failure
    assert not any(isinstance(e, Exception) for e in unsolicited)


async def test_authenticate_plain_with_sasl_ir(dovecot: Any) -> None:
    creds = new_user(dovecot)
    seen: list[str] = []
    async with plain(dovecot, trace=lambda name, **info: seen.append(repr(info))) as client:
        await client.authenticate_plain(creds)
        assert client.authenticated
        await client.select("INBOX")
    assert not any(creds.reveal() in line for line in seen)
    assert any("AUTHENTICATE PLAIN [redacted]" in line for line in seen)


async def test_condstore_changedsince_and_qresync_vanished(dovecot: Any) -> None:
    creds = new_user(dovecot)
    load(dovecot, creds.username, 10)
    heard: list[Event | Exception] = []
    async with plain(dovecot, on_untagged=heard.append) as watcher, plain(dovecot) as other:
        await watcher.login(creds)
        await other.login(creds)
        assert "QRESYNC" in await watcher.enable("QRESYNC")
        box = await watcher.select("INBOX", condstore=True)
        assert box.highestmodseq is not None
        await other.select("INBOX")
        await other.uid_store([3], "+FLAGS", ["\\Flagged"])
        await other.uid_store([5], "+FLAGS", ["\\Deleted"])
        await other.expunge()
        changed = [m async for m in watcher.uid_fetch(
            "1:*", "(UID FLAGS)", changedsince=box.highestmodseq, vanished=True)]
    assert [m.uid for m in changed] == [3]
    assert "\\Flagged" in changed[0].items["FLAGS"]
    assert changed[0].items["MODSEQ"] > box.highestmodseq
    # With QRESYNC on, Dovecot reports the expunge as VANISHED (not EXPUNGE), either as
    # news during the FETCH or as VANISHED (EARLIER) in its answer.
    vanished = [e for e in heard if isinstance(e, Vanished)]
    assert any(5 in v.uid_list() for v in vanished)
    assert not any(isinstance(e, Expunge) for e in heard)


async def test_status_counts_and_modseq(dovecot: Any) -> None:
    creds = new_user(dovecot)
    load(dovecot, creds.username, 7)
    async with plain(dovecot) as client:
        await client.login(creds)
        status = await client.status("INBOX")
    assert status.mailbox == "INBOX"
    assert status.items["MESSAGES"] == 7 and status.items["UIDNEXT"] == 8
    assert status.items["UNSEEN"] == 5  # messages 3 and 6 were loaded \Seen
    assert status.items["HIGHESTMODSEQ"] >= 1


async def test_non_ascii_folder_names_round_trip(dovecot: Any) -> None:
    creds = new_user(dovecot)
    name = "Elementy wys\u0142ane"
    async with plain(dovecot) as client:
        await client.login(creds)
        await client.create(name)
        items = await client.list()
        await client.append(name, make_message(1))
        status = await client.status(name)
    item = next(i for i in items if i.name == name)
    assert item.raw_name == b"Elementy wys&AUI-ane"
    assert status.mailbox == name and status.items["MESSAGES"] == 1


async def test_append_to_a_missing_folder_is_a_permanent_refusal(dovecot: Any) -> None:
    creds = new_user(dovecot)
    async with plain(dovecot) as client:
        await client.login(creds)
        with pytest.raises(ServerRefused) as err:
            await client.append("No Such Folder", make_message(1))
    assert err.value.response_code == "TRYCREATE" and err.value.permanent
    assert err.value.stage == "imap_append" and err.value.server_text


async def test_a_large_message_round_trips(dovecot: Any) -> None:
    creds = new_user(dovecot)
    lines = b"".join(b"line %07d of a long attachment-like body ....\r\n" % n
                     for n in range(80_000))  # ~4 MB: many reads, literal split anywhere
    raw = make_message(1).replace(b"Body of message 1.\r\n", lines)
    async with plain(dovecot) as client:
        await client.login(creds)
        appended = await client.append("INBOX", raw)
        await client.select("INBOX")
        got = [m async for m in client.uid_fetch([appended.uid or 0], "(UID BODY.PEEK[])")]
    assert len(got) == 1 and got[0].items["BODY[]"] == raw
