"""Real IMAP clients against the fake server: stdlib imaplib, imapclient, aioimaplib, mbsync.

Each client logs in, lists, selects, fetches every header of a 10k-message generated
INBOX, appends, stores a flag and IDLEs while a second connection appends (the idler
must see EXISTS). mbsync mirrors a 5k folder into a Maildir; a second run moves nothing.
"""

from __future__ import annotations

import asyncio
import imaplib
import re
import shutil
import ssl
from pathlib import Path

import aioimaplib
import pytest
from imapclient import IMAPClient

from inboxlab.fakeserver.imap.hooks import ServerHooks
from inboxlab.fakeserver.imap.server import FakeImapServer

pytestmark = pytest.mark.interop

USER, PASSWORD = "user@example.com", "inboxlab-demo"
COUNT = 10_000
MESSAGE = b"From: a@example.org\r\nTo: user@example.com\r\nSubject: interop\r\n\r\nhello\r\n"


def _header(srv: FakeImapServer, uid: int) -> bytes:
    raw = srv.store.accounts[USER].folder("INBOX").raw(uid)
    return raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"


def _append_from_elsewhere(srv: FakeImapServer) -> None:
    """A second connection delivers a message (run in a worker thread)."""
    other = imaplib.IMAP4(srv.host, srv.port, timeout=30)
    other.login(USER, PASSWORD)
    assert other.append("INBOX", None, None, MESSAGE)[0] == "OK"
    other.logout()


def _imaplib_flow(srv: FakeImapServer, ctx: ssl.SSLContext) -> dict[str, object]:
    c = imaplib.IMAP4(srv.host, srv.port, timeout=30)
    c.starttls(ssl_context=ctx)
    c.login(USER, PASSWORD)
    _typ, boxes = c.list()
    _typ, count = c.select("INBOX")
    _typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER])")
    headers = [item[1] for item in data if isinstance(item, tuple)]
    _typ, appended = c.append("Sent", "(\\Seen)", None, MESSAGE)
    _typ, stored = c.store("1", "+FLAGS", "(\\Flagged)")
    tag = c._new_tag().decode()
    c.send(f"{tag} IDLE\r\n".encode())
    continuation = c.readline()
    _append_from_elsewhere(srv)
    pushed = c.readline()
    recent = c.readline()  # the idler is the first to learn of it: \Recent is its own
    c.send(b"DONE\r\n")
    done = c.readline()
    c.logout()
    return {"boxes": boxes, "count": count, "headers": headers, "appended": appended,
            "stored": stored, "continuation": continuation, "pushed": pushed, "recent": recent,
            "done": done,
            "tag": tag}


async def test_stdlib_imaplib(fake_imap) -> None:
    srv = await fake_imap(COUNT)
    got = await asyncio.to_thread(_imaplib_flow, srv, srv.client_ssl_context())
    assert any(b"\\Sent" in box and b'"Sent"' in box for box in got["boxes"])
    assert got["count"] == [b"10000"]
    headers = got["headers"]
    assert len(headers) == COUNT
    assert headers[0] == _header(srv, 1) and headers[-1] == _header(srv, COUNT)
    assert re.match(rb"\[APPENDUID \d+ 1\]", got["appended"][0])
    assert b"\\Flagged" in got["stored"][0]
    assert "\\Flagged" in srv.store.accounts[USER].folder("INBOX").flags(1)
    assert got["continuation"] == b"+ idling\r\n"
    assert got["pushed"] == b"* 10001 EXISTS\r\n"
    assert got["recent"] == b"* 1 RECENT\r\n"
    assert got["done"] == f"{got['tag']} OK IDLE terminated\r\n".encode()


def _imapclient_flow(srv: FakeImapServer, ctx: ssl.SSLContext) -> dict[str, object]:
    c = IMAPClient(srv.host, port=srv.tls_port, ssl=True, ssl_context=ctx, timeout=30)
    c.login(USER, PASSWORD)
    folders = c.list_folders()
    selected = c.select_folder("INBOX")
    uids = c.search("ALL")
    fetched = c.fetch(uids, ["BODY.PEEK[HEADER]"])
    appended = c.append("INBOX", MESSAGE, flags=[b"\\Seen"])
    flagged = c.add_flags([2], [b"\\Flagged"])
    c.idle()
    _append_from_elsewhere(srv)
    pushed = c.idle_check(timeout=30)
    c.idle_done()
    c.logout()
    return {"folders": folders, "selected": selected, "fetched": fetched,
            "appended": appended, "flagged": flagged, "pushed": pushed}


async def test_imapclient(fake_imap) -> None:
    srv = await fake_imap(COUNT)
    got = await asyncio.to_thread(_imapclient_flow, srv, srv.client_ssl_context())
    names = {name for _flags, _delim, name in got["folders"]}
    assert {"INBOX", "Sent", "Drafts", "Trash"} <= names
    assert got["selected"][b"EXISTS"] == COUNT
    fetched = got["fetched"]
    assert len(fetched) == COUNT
    assert fetched[1][b"BODY[HEADER]"] == _header(srv, 1)
    assert fetched[COUNT][b"BODY[HEADER]"] == _header(srv, COUNT)
    assert b"[APPENDUID" in got["appended"]
    assert b"\\Flagged" in got["flagged"][2]
    assert (COUNT + 2, b"EXISTS") in got["pushed"]


async def test_aioimaplib(fake_imap) -> None:
    async with asyncio.timeout(120):  # a wedged client library must fail, not hang
        await _aioimaplib_flow(await fake_imap(COUNT))


async def _aioimaplib_flow(srv: FakeImapServer) -> None:
    c = aioimaplib.IMAP4(host=srv.host, port=srv.port, timeout=30)
    await c.wait_hello_from_server()
    assert (await c.login(USER, PASSWORD)).result == "OK"
    listing = await c.list('""', "*")
    assert any(b"\\Trash" in bytes(line) for line in listing.lines)
    selected = await c.select("INBOX")
    assert b"10000 EXISTS" in selected.lines
    headers = 0
    # aioimaplib 2.0.3 recurses once per response line within one socket read and hits
    # RecursionError past ~1000 lines; a read can hold 256 KiB, so keep batches small.
    for start in range(1, COUNT + 1, 100):
        resp = await c.fetch(f"{start}:{start + 99}", "(BODY.PEEK[HEADER])")
        assert resp.result == "OK"
        headers += sum(1 for line in resp.lines if b" FETCH (BODY[HEADER] {" in bytes(line))
    assert headers == COUNT
    appended = await c.append(MESSAGE, mailbox="INBOX", flags="(\\Seen)")
    assert appended.result == "OK" and b"APPENDUID" in appended.lines[-1]
    stored = await c.store("3", "+FLAGS", "(\\Flagged)")
    assert stored.result == "OK"
    assert "\\Flagged" in srv.store.accounts[USER].folder("INBOX").flags(3)
    idle = await c.idle_start(timeout=30)
    await asyncio.to_thread(_append_from_elsewhere, srv)
    pushed = await c.wait_server_push(timeout=30)
    c.idle_done()
    await asyncio.wait_for(idle, 30)
    assert any(bytes(line) == f"{COUNT + 2} EXISTS".encode() for line in pushed)
    await c.logout()


class CommandLog(ServerHooks):
    """Records (connection, command name, fetch items) so a test can see what was asked."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, str, str]] = []

    def on_command(self, session, command):
        attrs = getattr(command.args, "attrs", ())
        self.seen.append((session.conn.conn_id, command.name,
                          " ".join(a.label for a in attrs)))
        return None


def _mbsyncrc(tmp: Path, srv: FakeImapServer) -> Path:
    mail = tmp / "mail"
    mail.mkdir()
    rc = tmp / "mbsyncrc"
    rc.write_text(
        "FSync no\n\n"  # global: a test need not survive power loss
        f"IMAPAccount fake\nHost localhost\nPort {srv.port}\nUser {USER}\nPass {PASSWORD}\n"
        f"SSLType STARTTLS\nCertificateFile {srv.ca_pem_path}\nAuthMechs PLAIN\n\n"
        "IMAPStore fake-far\nAccount fake\n\n"
        f"MaildirStore local\nPath {mail}/\nInbox {mail}/INBOX\n\n"
        "Channel mirror\nFar :fake-far:\nNear :local:\nPatterns INBOX\nCreate Near\n"
        "Sync Pull\nSyncState *\n"
    )
    return rc


async def _mbsync(rc: Path) -> str:
    proc = await asyncio.create_subprocess_exec(
        "mbsync", "-c", str(rc), "-a", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 300)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    return text


def _maildir(tmp: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (tmp / "mail" / "INBOX").glob("*/*")}


def _uid_of(name: str) -> int:
    match = re.search(r",U=(\d+)", name)
    assert match, name
    return int(match.group(1))


@pytest.mark.skipif(shutil.which("mbsync") is None, reason="mbsync (Debian isync) not installed")
async def test_mbsync_mirrors_then_transfers_nothing(fake_imap, tmp_path) -> None:
    log = CommandLog()
    srv = await fake_imap(5000, hooks=log)
    rc = _mbsyncrc(tmp_path, srv)
    await _mbsync(rc)
    first = _maildir(tmp_path)
    assert len(first) == 5000
    folder = srv.store.accounts[USER].folder("INBOX")
    for name, data in first.items():
        uid = _uid_of(name)
        # mbsync stores LF line ends and may add its own X-TUID tracking header.
        data = re.sub(rb"(?m)^X-TUID: [^\n]*\n", b"", data, count=1)
        assert data.replace(b"\n", b"\r\n") == folder.raw(uid), name
        assert ("S" in name.rsplit(":2,", 1)[1]) == ("\\Seen" in folder.flags(uid)), name
    body_fetches_first = sum(1 for _c, name, items in log.seen
                             if name == "FETCH" and "BODY[]" in items)
    assert body_fetches_first > 0
    log.seen.clear()
    await _mbsync(rc)
    assert _maildir(tmp_path) == first
    assert not [s for s in log.seen if s[1] == "FETCH" and "BODY[]" in s[2]]
    assert not [s for s in log.seen if s[1] in ("APPEND", "STORE", "EXPUNGE")]
