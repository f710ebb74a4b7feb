"""Differential test: one command script against Dovecot and the fake server, same answers.

Both servers hold the same INBOX (tests/interop/diff_messages.py: 40 generated messages plus
hand-written edge cases, same bytes, flags and INTERNALDATE) and the same special-use
folders. One script of raw command lines runs against each over a plain socket
(tests/interop/diff_wire.py, which shares no code with engine/ or fakeserver/); each
step's responses are reduced to what a client relies on and the two reductions must be
equal. Every difference the reduction drops is in TOLERATED below, with its reason.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from diff_messages import EDGE_CASES, SPEC, USER, dovecot_load
from diff_reduce import NEEDED_CAPABILITIES, Reducer, differences, uid_set
from diff_wire import Response, Wire, WireError, parse
from dovecot import DovecotHandle

from inboxlab.fakeserver.config import AccountConfig, FolderConfig, ServerConfig
from inboxlab.fakeserver.imap.server import FakeImapServer

PASSWORD = "differential-pass"
FOLDERS = (("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"),
           ("Junk", "\\Junk"), ("Archive", "\\Archive"))
TOTAL = SPEC.count + len(EDGE_CASES)

# What the reduction leaves out or rewrites, and why. The reducer (diff_reduce.py) names
# the key of every rewrite it makes and fails on a key missing here, so every tolerance
# in force is one of these.
TOLERATED: dict[str, str] = {
    "uidvalidity": "UIDVALIDITY is the server's choice (RFC 3501 2.3.1.1); only its "
                   "stability matters, so values are replaced by a marker",
    "modseq-values": "MODSEQ/HIGHESTMODSEQ numbers are the server's (RFC 7162 3.1.1 only "
                     "asks that they grow); they are compared as order against the "
                     "HIGHESTMODSEQ the SELECT reported, never as numbers",
    "recent": "the fake server does not track \\Recent (RFC 9051 dropped it; RFC 3501 "
              "allows 0): RECENT counts and the \\Recent flag are dropped",
    "internaldate-zone": "an INTERNALDATE may be written in any zone (Dovecot uses its local "
                         "one, the fake the zone it was given); compared as instants",
    "text": "human-readable response text is free wording (RFC 3501 7.1)",
    "capability": "capability lists differ by design (Dovecot has many more extensions); "
                  "compared only on the extensions the script relies on",
    "delimiter": "the hierarchy delimiter is the server's choice (Dovecot maildir '.', "
                 "fake '/'); the script uses flat names only",
    "unsolicited": "Dovecot sends an untagged OK [CLOSED] whenever a SELECT replaces a "
                   "selected mailbox; RFC 7162 3.2.11 requires it only once QRESYNC is "
                   "enabled, which is when the fake sends it. Dropped",
    "list-order": "LIST responses come in any order (RFC 3501 6.3.8): compared as a set",
    "list-children": "with LIST-EXTENDED selection or RETURN options, \\HasChildren and "
                     "\\HasNoChildren are optional unless RETURN (CHILDREN) asks (RFC 5258 "
                     "4); Dovecot leaves them out there, the fake sends them. Plain LIST "
                     "compares them",
    "clientbug": "Dovecot adds [CLIENTBUG] to STATUS of the selected mailbox, an advisory "
                 "code (RFC 5530) that changes no result",
    "expunge-order": "EXPUNGE responses for several messages may come in any valid order; "
                     "they are compared as the UIDs they remove",
    "flags-order": "FLAGS and PERMANENTFLAGS list flags in any order (Dovecot: keywords "
                   "in creation order); compared sorted",
}


def fake_config(edge_cases: tuple[bytes, ...] = EDGE_CASES) -> ServerConfig:
    folders = (FolderConfig("INBOX", generated=SPEC, messages=edge_cases),
               *(FolderConfig(name, special_use=(use,)) for name, use in FOLDERS))
    return ServerConfig(accounts=(AccountConfig(USER, PASSWORD, folders),))


def _appended() -> bytes:
    body = (b"Date: Wed, 14 Feb 2024 10:00:00 +0000\r\nFrom: Appender <app@example.com>\r\n"
            b"To: user@example.com\r\nSubject: appended with APPEND\r\n"
            b"Message-ID: <appended@example.com>\r\n\r\nAppended body.\r\n")
    return (b'APPEND INBOX (\\Flagged $Label1) "14-Feb-2024 10:00:05 +0000" {%d+}\r\n%s'
            % (len(body), body))


# One script for both servers: (name, command line). "{base}" is the HIGHESTMODSEQ that
# this server's SELECT INBOX reported (the only per-server value a command needs).
SCRIPT: tuple[tuple[str, bytes], ...] = (
    ("capability", b"CAPABILITY"),
    ("list all", b'LIST "" "*"'),
    ("list special-use selection", b'LIST (SPECIAL-USE) "" "*"'),
    ("list return special-use", b'LIST "" "*" RETURN (SPECIAL-USE)'),
    ("status inbox", b"STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)"),
    ("select condstore", b"SELECT INBOX (CONDSTORE)"),
    ("fetch uid flags date size", b"UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)"),
    ("fetch envelope", b"UID FETCH 1:* (ENVELOPE)"),
    ("fetch bodystructure", b"UID FETCH 1:* (BODYSTRUCTURE)"),
    ("fetch header fields", b"UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT "
                            b"DATE MESSAGE-ID IN-REPLY-TO REFERENCES)])"),
    ("fetch header fields not", b"UID FETCH 41:* (BODY.PEEK[HEADER.FIELDS.NOT (FROM TO)])"),
    ("fetch sections", b"UID FETCH 41:* (BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2.1] "
                       b"BODY.PEEK[TEXT]<10.40> BODY)"),
    ("fetch header and text", b"UID FETCH 41:* (RFC822.HEADER BODY.PEEK[HEADER] "
                              b"BODY.PEEK[TEXT])"),
    ("fetch sizes by sequence", b"FETCH 35:* (RFC822.SIZE UID)"),
    ("search header subject", b'UID SEARCH HEADER Subject "the original"'),
    ("search header message-id", b"UID SEARCH HEADER Message-ID <edge-quotes@example.com>"),
    ("search encoded words", "UID SEARCH CHARSET UTF-8 SUBJECT {5+}\r\nKöln".encode()),
    ("search encoded from", "UID SEARCH CHARSET UTF-8 FROM {6+}\r\nAndré".encode()),
    ("search since", b"UID SEARCH SINCE 8-Feb-2024"),
    ("search header exists", b'UID SEARCH HEADER Cc ""'),
    ("search to group", b'UID SEARCH TO "bob@example.com"'),
    ("search larger", b"UID SEARCH LARGER 3000 NOT HEADER Subject Re"),
    ("search before on", b"UID SEARCH OR BEFORE 2-Jan-2024 ON 10-Feb-2024"),
    ("search sentsince", b"UID SEARCH SENTSINCE 11-Feb-2024"),
    ("search body", b'UID SEARCH BODY "original body"'),
    ("search uid range", b"UID SEARCH UID 30:45 UNSEEN"),
    ("search or", b"UID SEARCH OR FLAGGED ANSWERED"),
    ("search not", b"UID SEARCH NOT SEEN"),
    ("search or not since", b"UID SEARCH OR NOT SINCE 5-Jan-2024 HEADER From asha"),
    ("search not or", b"UID SEARCH NOT OR SEEN SINCE 1-Feb-2024"),
    ("append appenduid", _appended()),
    ("store modseq", b"UID STORE 1:3 +FLAGS (\\Flagged)"),
    ("store new keyword", b"UID STORE 11 +FLAGS ($Work)"),
    ("store unchangedsince ok", b"UID STORE 5 (UNCHANGEDSINCE {base}) +FLAGS (\\Draft)"),
    ("store unchangedsince modified",
     b"UID STORE 2 (UNCHANGEDSINCE {base}) -FLAGS (\\Flagged)"),
    ("fetch changedsince", b"UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE {base})"),
    ("store silent", b"UID STORE 10 +FLAGS.SILENT (\\Seen \\Draft)"),
    ("mark deleted", b"UID STORE 4,6,9 (UNCHANGEDSINCE {base}) +FLAGS.SILENT (\\Deleted)"),
    ("expunge", b"EXPUNGE"),
    ("search after expunge", b"UID SEARCH ALL"),
    ("move", b"UID MOVE 7:8,45 Archive"),
    ("status archive", b"STATUS Archive (MESSAGES UIDNEXT UNSEEN)"),
    ("status inbox after", b"STATUS INBOX (MESSAGES UIDNEXT UNSEEN)"),
    ("select inbox again", b"SELECT INBOX"),
    ("examine archive", b"EXAMINE Archive"),
    ("fetch moved", b"UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)"),
)


# -- running the script ---------------------------------------------------------------------


def run_script(host: str, port: int) -> list[list[Response]]:
    """Log in, then every SCRIPT step in order; the responses of each step."""
    wire = Wire(host, port)
    try:
        login = wire.command(b'LOGIN "%s" "%s"' % (USER.encode(), PASSWORD.encode()))
        assert login[-1].status == "OK", login[-1].raw
        out: list[list[Response]] = []
        base = b""
        for _name, line in SCRIPT:
            got = wire.command(line.replace(b"{base}", base))
            out.append(got)
            for resp in got:
                if resp.code and resp.code[0] == "HIGHESTMODSEQ" and not base:
                    base = str(resp.code[1]).encode()  # the first SELECT's, for {base}
        return out
    finally:
        wire.close()


# -- the test -------------------------------------------------------------------------------


def reducer(steps: list[list[Response]]) -> Reducer:
    return Reducer([name for name, _ in SCRIPT], steps, tolerated=TOLERATED)


def reduce(steps: list[list[Response]]) -> dict[str, Any]:
    return reducer(steps).reduce()


async def run_on_fake(config: ServerConfig) -> list[list[Response]]:
    fake = FakeImapServer(config, tls_port=None)
    await fake.start()
    try:
        return await asyncio.to_thread(run_script, fake.host, fake.port)
    finally:
        await fake.stop()


@pytest.mark.dovecot
@pytest.mark.interop
async def test_one_script_same_answers(dovecot: DovecotHandle) -> None:
    offset = datetime(2024, 2, 8, tzinfo=UTC).astimezone().utcoffset() or timedelta()
    if abs(offset) > timedelta(hours=11):  # see diff_messages: the dates keep 11 h clear
        pytest.skip(f"local UTC offset {offset} moves SEARCH SINCE/ON dates in Dovecot "
                    "(it uses local time; the fake uses UTC)")
    dovecot.add_user(USER, PASSWORD)
    dovecot.load_messages(USER, "INBOX", dovecot_load())
    fake_steps = await run_on_fake(fake_config())
    dove_steps = await asyncio.to_thread(run_script, dovecot.host, dovecot.port)
    dove_side, fake_side = reducer(dove_steps), reducer(fake_steps)
    dove, got = dove_side.reduce(), fake_side.reduce()
    found = differences(dove, got)
    assert not found, "\n".join(found)
    # the table lists exactly the tolerances in force: none stale, none missing
    assert dove_side.used | fake_side.used == set(TOLERATED)
    # equal answers must also be the right ones, or two servers refusing alike would pass
    assert [n for n, step in dove.items() if step["status"] != "OK"] == []
    assert dove["capability"]["untagged"]["CAPABILITY"] == sorted(NEEDED_CAPABILITIES)
    for name in ("fetch uid flags date size", "fetch envelope", "fetch bodystructure",
                 "fetch header fields"):
        assert sorted(dove[name]["untagged"]["FETCH"]) == list(range(1, TOTAL + 1)), name
    assert dove["search header message-id"]["untagged"]["SEARCH"] == [SPEC.count + 2]
    assert dove["search encoded words"]["untagged"]["SEARCH"] == [SPEC.count + 1]
    assert dove["store unchangedsince modified"]["code"] == ("MODIFIED", [2])
    assert dove["expunge"]["untagged"]["EXPUNGED UIDS"] == [4, 6, 9]
    assert dove["move"]["untagged"]["EXPUNGED UIDS"] == [7, 8, SPEC.count + 5]
    assert sorted(dove["fetch changedsince"]["untagged"]["FETCH"]) == [1, 2, 3, 5, 11, TOTAL + 1]


async def test_the_comparison_sees_a_one_word_difference() -> None:
    """Two fake servers whose INBOX differs in one Subject word must not compare equal,
    and the report must name the step and the message (no Dovecot needed)."""
    changed = (EDGE_CASES[0], EDGE_CASES[1].replace(b"left", b"went"), *EDGE_CASES[2:])
    assert changed != EDGE_CASES
    first = reduce(await run_on_fake(fake_config()))
    again = reduce(await run_on_fake(fake_config()))
    other = reduce(await run_on_fake(fake_config(changed)))
    assert differences(first, again) == []
    found = differences(first, other)
    uid = SPEC.count + 2
    assert any(line.startswith(f"/fetch envelope/untagged/FETCH/{uid}/ENVELOPE") for line in found)
    assert any(f"/FETCH/{uid}/BODY[HEADER.FIELDS" in line for line in found)
    assert all(f"/{uid}/" in line or "RFC822.SIZE" in line or "BODYSTRUCTURE" in line
               for line in found), found


def test_wire_reader_values() -> None:
    raw = (b'* 12 FETCH (UID 7 FLAGS (\\Seen $Work) ENVELOPE ("a \\"q\\" b" NIL {4}\r\n'
           b'x\r\ny) BODY[HEADER.FIELDS (FROM)]<0> {3}\r\nab\n)\r\n')
    resp = parse(raw)
    assert resp.kind == "untagged" and resp.status is None
    assert resp.values == [12, "FETCH", ["UID", 7, "FLAGS", ["\\Seen", "$Work"], "ENVELOPE",
                                         [b'a "q" b', None, b"x\r\ny"], "BODY",
                                         ("HEADER.FIELDS", ["FROM"]), "<0>", b"ab\n"]]
    done = parse(b"T9 OK [COPYUID 1 7:8,45 1:3] Moved (text [with] brackets\r\n")
    assert (done.kind, done.tag, done.status) == ("tagged", "T9", "OK")
    assert done.code == ("COPYUID", 1, "7:8,45", "1:3")
    assert done.text == b"Moved (text [with] brackets"
    assert uid_set("7:8,45") == [7, 8, 45] and uid_set("3:1") == [1, 2, 3]
    with pytest.raises(WireError):
        parse(b"* LIST (\\Noselect \"/\" x\r\n")
