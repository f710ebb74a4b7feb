"""Size limits by context, against hostile servers on loopback (issue 12, item 2).

One 1 GiB literal cap used to apply everywhere: ``* OK {1073741000}`` as a greeting
drove the client past 1 GB RSS before anything was checked. Now the limits follow what
the client asked for (``engine.imap.limits``): tiny before login, bounded for header
fetches, the 50 MB rule plus slack for bodies. Breaking one closes the connection with
a permanent ``LimitExceeded`` naming the limit, before the announced bytes are read: the
server finds the connection closed long before it has sent them. What came before the
break is still delivered.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hostile import HostileServer, Peer, Script

from inboxlab.engine.diag.classify import diagnose
from inboxlab.engine.errors import LimitExceeded
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.limits import HEADERS, PRE_AUTH
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.secrets import Secret

FLOOD = 64 << 20  # what the server tries to push after announcing too much
CHUNK = 1 << 20


async def flood(peer: Peer, sent: list[int]) -> None:
    """Push up to ``FLOOD`` bytes, counting what got out before the client hung up."""
    chunk = b"x" * CHUNK
    while sent[0] < FLOOD:
        await peer.send(chunk)
        sent[0] += CHUNK


def client(port: int, **kw: object) -> ImapClient:
    return ImapClient("127.0.0.1", port, security="plain", timeout=10, connect_timeout=10,
                      **kw)  # type: ignore[arg-type]


def pre_auth_server(case: str, sent: list[int]) -> Script:
    async def script(peer: Peer) -> None:
        if case == "greeting_literal":
            await peer.send(b"* OK {1073741000}\r\n")
        elif case == "greeting_line":
            await peer.send(b"* OK ")
        else:  # a tiny greeting, then CAPABILITY answered with a huge literal
            await peer.send(b"* OK hostile\r\n")
            _tag, verb, _ = await peer.command()
            assert verb == b"CAPABILITY", verb
            await peer.send(b"* CAPABILITY IMAP4rev1 {1073741000}\r\n")
        await flood(peer, sent)

    return script


@pytest.mark.parametrize(("case", "limit", "stage"), [
    ("greeting_literal", "pre_auth_literal", "imap_greeting"),
    ("greeting_line", "pre_auth_line", "imap_greeting"),
    ("capability_literal", "pre_auth_literal", "imap_capability"),
])
async def test_before_login_a_few_kib_is_all_a_server_may_send(case: str, limit: str,
                                                               stage: str) -> None:
    sent = [0]
    async with HostileServer(pre_auth_server(case, sent)) as srv:
        c = client(srv.port)
        with pytest.raises(LimitExceeded) as err:
            await c.connect()
            await c.capability()
        await c.close()
    assert err.value.limit == limit and err.value.permanent
    assert err.value.stage == stage
    assert limit.removesuffix("_literal").removesuffix("_line") in err.value.message
    # the client hung up instead of reading on: the flood never got through
    assert sent[0] < FLOOD // 2, sent
    d = diagnose(err.value)  # diagnostics name it, as permanent
    assert d.cause.code == "limit_exceeded" and d.permanent


def mailbox_server(answer: bytes, *, after_login: bool = True) -> Script:
    """Greets, takes LOGIN and SELECT, answers the first UID FETCH with ``answer`` (or
    LOGIN with it when ``after_login`` is false), then answers OK to the rest."""

    async def script(peer: Peer) -> None:
        await peer.send(b"* OK [CAPABILITY IMAP4rev1] hostile\r\n")
        while True:
            tag, verb, args = await peer.command()
            if not tag:
                return
            if verb == b"LOGIN" and not after_login:
                await peer.send(answer + tag + b" OK [CAPABILITY IMAP4rev1] in\r\n")
            elif verb == b"SELECT":
                await peer.send(b"* 4 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n"
                                + tag + b" OK [READ-WRITE] selected\r\n")
            elif verb == b"UID" and args.upper().startswith(b"FETCH"):
                await peer.send(answer + tag + b" OK done\r\n")
            else:
                await peer.send(tag + b" OK [CAPABILITY IMAP4rev1] done\r\n")

    return script


def header_fetch(uid: int, literal: bytes) -> bytes:
    return (b"* %d FETCH (UID %d BODY[HEADER.FIELDS (SUBJECT)] {%d}\r\n" % (uid, uid, len(literal))
            + literal + b")\r\n")


CREDS = Credentials("me", Secret("pw"))
BIG = HEADERS.literal + 1  # just past what a header fetch may bring


async def test_a_header_fetch_is_bounded_and_what_came_before_is_delivered() -> None:
    good = b"".join(header_fetch(u, b"Subject: ok %d\r\n\r\n" % u) for u in (1, 2, 3))
    bad = b"* 4 FETCH (UID 4 BODY[HEADER.FIELDS (SUBJECT)] {%d}\r\n" % BIG
    got: list[int] = []
    async with HostileServer(mailbox_server(good + bad)) as srv:
        c = client(srv.port, read_size=len(good))  # the good ones arrive in a read first
        await c.connect()
        await c.login(CREDS)
        await c.select("INBOX")
        with pytest.raises(LimitExceeded) as err:
            async for batch in c.uid_fetch_batches("1:4", ["UID", "BODY.PEEK[HEADER.FIELDS "
                                                           "(SUBJECT)]"]):
                got += [f.uid for f in batch if f.uid is not None]
        await c.close()
    assert got == [1, 2, 3]
    assert err.value.limit == "header_fetch_literal" and err.value.permanent
    assert err.value.stage == "imap_fetch" and str(BIG) in err.value.message


async def test_a_body_fetch_may_bring_what_a_header_fetch_may_not() -> None:
    body = b"Subject: big\r\n\r\n" + b"y" * BIG
    answer = b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % len(body) + body + b")\r\n"
    async with HostileServer(mailbox_server(answer)) as srv:
        c = client(srv.port)
        await c.connect()
        await c.login(CREDS)
        await c.select("INBOX")
        got = [f async for f in c.uid_fetch([1], ["UID", "BODY.PEEK[]"])]
        await c.logout()
    assert got[0].items["BODY[]"] == body


async def test_the_same_literal_is_refused_before_login_and_accepted_after() -> None:
    lit = b"z" * (PRE_AUTH.literal + 1)
    untagged = b"* ID (\"name\" {%d}\r\n" % len(lit) + lit + b")\r\n"
    async with HostileServer(mailbox_server(untagged, after_login=False)) as srv:
        c = client(srv.port)
        await c.connect()
        with pytest.raises(LimitExceeded) as err:
            await c.login(CREDS)
        await c.close()
    assert err.value.limit == "pre_auth_literal" and err.value.stage == "imap_login"
    async with HostileServer(mailbox_server(header_fetch(1, lit))) as srv:
        c = client(srv.port)
        await c.connect()
        await c.login(CREDS)
        await c.select("INBOX")
        got = [f async for f in c.uid_fetch([1], ["UID", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])]
        await c.logout()
    assert got[0].items["BODY[HEADER.FIELDS (SUBJECT)]"] == lit


async def test_a_limit_break_leaves_other_connections_alone() -> None:
    """One hostile connection fails; the event loop and a second connection carry on."""
    sent = [0]
    async with HostileServer(pre_auth_server("greeting_literal", sent)) as bad, \
            HostileServer(mailbox_server(header_fetch(1, b"Subject: x\r\n\r\n"))) as ok:
        c1, c2 = client(bad.port), client(ok.port)

        async def honest() -> list[int]:
            await c2.connect()
            await c2.login(CREDS)
            await c2.select("INBOX")
            return [f.uid or 0 async for f in c2.uid_fetch([1], ["UID"])]

        r1, r2 = await asyncio.gather(c1.connect(), honest(), return_exceptions=True)
        await c1.close()
        await c2.logout()
    assert isinstance(r1, LimitExceeded) and r2 == [1]


def scan_server(bad: bytes) -> Script:
    """Answers the scan: STATUS, EXAMINE, UID FETCH 1:2 honestly, then UID FETCH 3:4 with
    UID 3 and ``bad`` (followed by a flood, should the client read on)."""
    sent = [0]

    async def script(peer: Peer) -> None:
        await peer.send(b"* PREAUTH [CAPABILITY IMAP4rev1] ready\r\n")
        while True:
            tag, verb, args = await peer.command()
            if not tag:
                return
            if verb == b"STATUS":
                await peer.send(b"* STATUS INBOX (UIDVALIDITY 7 UIDNEXT 5 MESSAGES 4)\r\n"
                                + tag + b" OK done\r\n")
            elif verb == b"EXAMINE":
                await peer.send(b"* 4 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n"
                                b"* OK [UIDNEXT 5] ok\r\n" + tag + b" OK [READ-ONLY] ok\r\n")
            elif args.startswith(b"FETCH 1:2"):
                await peer.send(header_fetch(1, b"Message-ID: <m1@x>\r\n\r\n")
                                + header_fetch(2, b"Message-ID: <m2@x>\r\n\r\n")
                                + tag + b" OK first\r\n")
            elif args.startswith(b"FETCH 3:4"):
                await peer.send(header_fetch(3, b"Message-ID: <m3@x>\r\n\r\n") + bad)
                await flood(peer, sent)
            else:
                await peer.send(tag + b" OK done\r\n")

    return script


async def test_a_scan_that_breaks_a_limit_keeps_what_it_stored(tmp_path: Path) -> None:
    from inboxlab.engine.checkpoints import CheckpointStore
    from inboxlab.engine.db import Database
    from inboxlab.engine.sync import ScannedMessage, scan_folder

    bad = b"* 4 FETCH (UID 4 BODY[HEADER.FIELDS (MESSAGE-ID)] {%d}\r\n" % BIG
    got: list[ScannedMessage] = []
    async with HostileServer(scan_server(bad)) as srv, \
            await Database.open(tmp_path / "engine.db") as db:
        store = CheckpointStore(db)
        c = client(srv.port)
        await c.connect()
        with pytest.raises(LimitExceeded) as err:
            await scan_folder(c, store, "ann", "INBOX", got.append, batch=2, backfill=2**32)
        await c.close()
        saved = await store.get("ann", "INBOX")
    assert err.value.limit == "header_fetch_literal" and err.value.permanent
    assert [m.uid for m in got][:2] == [1, 2]
    assert saved is not None and saved.last_uid == 2  # the complete batch stays checkpointed


async def test_diagnose_names_the_limit_a_hostile_greeting_broke() -> None:
    """``inboxlab diagnose`` runs the same client: the greeting step fails, permanent,
    with the limit named, and the flood never gets through."""
    from inboxlab.engine.diag.probe import ProbeOptions, probe
    from inboxlab.engine.settings import AccountSettings, ImapServer

    sent = [0]
    async with HostileServer(pre_auth_server("greeting_literal", sent)) as srv:
        account = AccountSettings(username="me", imap=ImapServer("127.0.0.1", srv.port,
                                                                 "plain"))
        report = await probe(account, Secret("pw"),
                             ProbeOptions(connect_timeout=10, command_timeout=10))
    greeting = report.step("greeting")
    assert greeting is not None and greeting.status == "failed", report.as_dict()
    assert report.diagnosis is not None and report.diagnosis.code == "limit_exceeded"
    assert report.diagnosis.permanent
    assert "pre_auth" in greeting.summary, greeting.summary
    assert sent[0] < FLOOD // 2, sent
