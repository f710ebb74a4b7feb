"""Differential tests with several sessions on one mailbox: Dovecot and the fake agree.

Each test is one issue-14 item: a script of interleaved commands from two or three
connections (tests/interop/diff_sessions.py runs it on both servers and compares),
plus asserts on Dovecot's side that pin what the comparison is about, so two servers
wrong alike would not pass.
"""

from __future__ import annotations

import base64

import pytest
from diff_sessions import append, appends, both, message
from dovecot import DovecotHandle

pytestmark = [pytest.mark.dovecot, pytest.mark.interop]


def _expunged_elsewhere(count: int = 5, gone: bytes = b"2") -> list:
    """Session 0 expunges ``gone`` while session 1 has INBOX selected and is not told."""
    return [*appends(count), (0, "select", b"SELECT INBOX"), (1, "select", b"SELECT INBOX"),
            (1, "uids", b"FETCH 1:* (UID)"),
            (0, "delete", b"STORE %b +FLAGS.SILENT (\\Deleted \\Flagged)" % gone),
            (0, "expunge", b"EXPUNGE")]


async def test_expunged_elsewhere_stays_addressable_until_told(dovecot: DovecotHandle) -> None:
    """Item 1: until session 1 is told, message 2 keeps its number, its UID and flags,
    SEARCH on flags finds it, content answers [EXPUNGEISSUED], and COPY/MOVE of it fail
    with NO [EXPUNGEISSUED] (transient) after the EXPUNGE is reported."""
    steps = [*_expunged_elsewhere(),
             (1, "fetch flags", b"FETCH 2 (UID FLAGS)"),
             (1, "fetch content", b"FETCH 1:3 (UID RFC822.SIZE ENVELOPE BODY.PEEK[])"),
             (1, "search all", b"SEARCH ALL"),
             (1, "search flagged", b"SEARCH FLAGGED"),
             (1, "search uid", b"UID SEARCH UID 1:3"),
             (1, "search subject", b"SEARCH SUBJECT message"),
             (1, "store", b"STORE 1:3 +FLAGS (\\Answered)"),
             (1, "copy", b"COPY 1:3 Trash"),
             (1, "status trash", b"STATUS Trash (MESSAGES)"),
             (1, "search after", b"SEARCH ALL"),
             (0, "delete again", b"STORE 1 +FLAGS.SILENT (\\Deleted)"),
             (0, "expunge again", b"EXPUNGE"),
             (1, "uid fetch", b"UID FETCH 1:* (FLAGS)"),
             (0, "delete third", b"STORE 1 +FLAGS.SILENT (\\Deleted)"),
             (0, "expunge third", b"EXPUNGE"),
             (1, "uid move", b"UID MOVE 1:* Archive"),
             (1, "status archive", b"STATUS Archive (MESSAGES)"),
             (1, "noop", b"NOOP")]
    dove, _fake = await both(dovecot, steps)
    at = {name.split(" ", 2)[2]: value for name, value in dove.items()}
    assert at["fetch flags"]["untagged"]["FETCH"]["seq 2"]["FLAGS"] == ["\\Deleted", "\\Flagged"]
    assert at["fetch content"]["code"] == ("EXPUNGEISSUED",)
    assert at["search all"]["untagged"]["SEARCH"] == [1, 2, 3, 4, 5]
    assert at["search flagged"]["untagged"]["SEARCH"] == [2]
    assert at["search subject"]["code"] == ("EXPUNGEISSUED",)
    assert (at["copy"]["status"], at["copy"]["code"]) == ("NO", ("EXPUNGEISSUED",))
    assert at["copy"]["untagged"]["EXPUNGED UIDS"] == [2]
    assert at["status trash"]["untagged"]["STATUS Trash"] == {"MESSAGES": 0}
    assert at["uid fetch"]["untagged"]["EXPUNGED UIDS"] == [1]
    assert (at["uid move"]["status"], at["uid move"]["code"]) == ("NO", ("EXPUNGEISSUED",))
    assert at["status archive"]["untagged"]["STATUS Archive"] == {"MESSAGES": 0}


async def test_sequence_numbers_past_exists_are_bad(dovecot: DovecotHandle) -> None:
    """Item 10: a message sequence number above EXISTS is BAD for FETCH/STORE/COPY/MOVE
    (and ``1:*`` in an empty mailbox); UID forms and SEARCH stay OK."""
    steps = [*appends(3), (0, "select", b"SELECT INBOX"),
             (0, "fetch 999", b"FETCH 999 (FLAGS)"),
             (0, "fetch 2:4", b"FETCH 2:4 (FLAGS)"),
             (0, "fetch 2:*", b"FETCH 2:* (FLAGS)"),
             (0, "store 4", b"STORE 4 +FLAGS (\\Seen)"),
             (0, "copy 4", b"COPY 4 Trash"),
             (0, "move 3:9", b"MOVE 3:9 Trash"),
             (0, "uid fetch 999", b"UID FETCH 999 (FLAGS)"),
             (0, "uid store 999", b"UID STORE 999 +FLAGS (\\Seen)"),
             (0, "search 999", b"SEARCH 999"),
             (0, "select empty", b"SELECT Drafts"),
             (0, "fetch 1:* empty", b"FETCH 1:* (FLAGS)"),
             (0, "fetch * empty", b"FETCH * (FLAGS)"),
             (0, "uid fetch 1:* empty", b"UID FETCH 1:* (FLAGS)"),
             (0, "search 1:* empty", b"SEARCH 1:*")]
    dove, _fake = await both(dovecot, steps)
    bad = [name.split(" ", 2)[2] for name, value in dove.items() if value["status"] == "BAD"]
    assert bad == ["fetch 999", "fetch 2:4", "store 4", "copy 4", "move 3:9",
                   "fetch 1:* empty", "fetch * empty"]


async def test_new_keyword_from_another_session_is_announced_first(
        dovecot: DovecotHandle) -> None:
    """Item 2: a keyword another session brings in reaches this one as FLAGS and
    PERMANENTFLAGS before any FETCH shows it (in a FETCH, a STORE and a NOOP)."""
    steps = [*appends(3), (0, "select", b"SELECT INBOX"), (1, "select", b"SELECT INBOX"),
             (0, "new keyword", b"STORE 1 +FLAGS ($Work)"),
             (1, "fetch", b"FETCH 1 (FLAGS)"),
             (0, "another", b"STORE 2 +FLAGS ($Home)"),
             (1, "store", b"STORE 3 +FLAGS (\\Seen)"),
             (0, "third", b"STORE 3 +FLAGS ($Later)"),
             (1, "noop", b"NOOP"),
             (1, "known keyword", b"STORE 2 +FLAGS ($Work)"),
             (0, "noop 0", b"NOOP")]
    dove, _fake = await both(dovecot, steps)
    at = {name.split(" ", 2)[2]: value for name, value in dove.items()}
    for name in ("fetch", "store", "noop"):
        assert at[name]["untagged"].get("FLAGS before FETCH") is True, (name, at[name])
    assert at["noop"]["untagged"]["FLAGS"] == ["$Home", "$Later", "$Work", "\\Answered",
                                               "\\Deleted", "\\Draft", "\\Flagged", "\\Seen"]
    assert "FLAGS" not in at["known keyword"]["untagged"]


async def test_recent_belongs_to_the_first_session_that_sees_a_message(
        dovecot: DovecotHandle) -> None:
    """Item 3: \\Recent (RFC 3501 2.3.2) goes to the first session to select the mailbox
    after a message arrives (or to learn of it while selected); STATUS counts messages
    nobody has seen yet; SEARCH RECENT/NEW find them; COPY makes new recent messages."""
    steps = [*appends(3, session=2),
             (2, "status before", b"STATUS INBOX (MESSAGES RECENT)"),
             (0, "select", b"SELECT INBOX"),
             (1, "select 1", b"SELECT INBOX"),
             (2, "status after", b"STATUS INBOX (MESSAGES RECENT)"),
             (0, "fetch", b"FETCH 1:* (FLAGS)"),
             (0, "search recent", b"SEARCH RECENT"),
             (0, "search new", b"SEARCH NEW"),
             (1, "search recent 1", b"SEARCH RECENT"),
             (2, "append", append(message(4))),
             (2, "status appended", b"STATUS INBOX (MESSAGES RECENT)"),
             (1, "noop", b"NOOP"),
             (0, "noop 0", b"NOOP"),
             (1, "fetch 1", b"FETCH 4 (FLAGS)"),
             (0, "store", b"STORE 1 +FLAGS (\\Seen)"),
             (0, "search new 0", b"SEARCH NEW"),
             (0, "delete", b"STORE 2 +FLAGS.SILENT (\\Deleted)"),
             (0, "expunge", b"EXPUNGE"),
             (0, "copy", b"COPY 1 Trash"),
             (2, "status trash", b"STATUS Trash (MESSAGES RECENT)"),
             (2, "examine trash", b"EXAMINE Trash"),
             (2, "select trash", b"SELECT Trash"),
             (1, "select trash 1", b"SELECT Trash"),
             (0, "unselect", b"UNSELECT"),
             (2, "status inbox", b"STATUS INBOX (RECENT)")]
    dove, _fake = await both(dovecot, steps, strict=("recent",))
    at = {name.split(" ", 2)[2]: value for name, value in dove.items()}
    assert at["status before"]["untagged"]["STATUS INBOX"] == {"MESSAGES": 3, "RECENT": 3}
    assert at["select"]["untagged"]["RECENT"] == 3
    assert at["select 1"]["untagged"]["RECENT"] == 0
    assert at["search recent"]["untagged"]["SEARCH"] == [1, 2, 3]
    assert at["search recent 1"]["untagged"]["SEARCH"] == []
    assert at["status appended"]["untagged"]["STATUS INBOX"]["RECENT"] == 1
    assert at["fetch 1"]["untagged"]["FETCH"]["seq 4"]["FLAGS"] == ["\\Recent"]
    assert at["expunge"]["untagged"]["RECENT"] == 2
    assert at["examine trash"]["untagged"]["RECENT"] == 1
    assert at["select trash"]["untagged"]["RECENT"] == 1
    assert at["select trash 1"]["untagged"]["RECENT"] == 0


async def test_condstore_details(dovecot: DovecotHandle) -> None:
    """Item 12: the first CONDSTORE-enabling command after a plain SELECT (FETCH MODSEQ,
    SEARCH MODSEQ) tells HIGHESTMODSEQ; ESEARCH with a MODSEQ criterion returns MODSEQ;
    the implicit \\Seen of FETCH BODY[] comes with the message's new MODSEQ."""
    steps = [*appends(3), (0, "select", b"SELECT INBOX"),
             (0, "fetch modseq enables", b"FETCH 1 (FLAGS MODSEQ)"),
             (0, "noop", b"NOOP"),
             (1, "select 1", b"SELECT INBOX"),
             (1, "esearch modseq enables", b"SEARCH RETURN (ALL) MODSEQ 1"),
             (1, "esearch min max", b"SEARCH RETURN (MIN MAX COUNT) MODSEQ 1"),
             (1, "uid esearch", b"UID SEARCH RETURN () MODSEQ 1"),
             (1, "search modseq", b"SEARCH MODSEQ 1"),
             (1, "implicit seen", b"FETCH 2 (BODY[])"),
             (2, "select condstore", b"SELECT INBOX (CONDSTORE)"),
             (2, "implicit seen 2", b"FETCH 3 (BODY[TEXT])"),
             (2, "fetch modseq", b"FETCH 3 (MODSEQ)")]
    dove, _fake = await both(dovecot, steps)
    at = {name.split(" ", 2)[2]: value for name, value in dove.items()}
    assert at["fetch modseq enables"]["untagged"]["OK"] == [("HIGHESTMODSEQ", "<= base")]
    assert at["esearch modseq enables"]["untagged"]["OK"] == [("HIGHESTMODSEQ", "<= base")]
    assert at["esearch min max"]["untagged"]["ESEARCH"][-2:] == ["MODSEQ", "<= base"]
    assert at["implicit seen"]["untagged"]["FETCH"]["seq 2 again"]["MODSEQ"] == "> base"


async def test_append_normalises_and_store_refuses_unknown_system_flags(
        dovecot: DovecotHandle) -> None:
    """Item 11: APPEND stores bare-LF mail with CRLF (and sizes it so) and NUL as 0x80;
    STORE of an unknown system flag (``\\Bogus``) is BAD, keywords are fine."""
    lf = b"Subject: bare LF\nFrom: a@example.com\n\nline one\nline two\n"
    nul = b"Subject: NUL\r\n\r\nab\x00cd\r\n"
    steps = [(0, "append lf", append(lf)), (0, "append nul", append(nul)),
             (0, "select", b"SELECT INBOX"),
             (0, "fetch", b"FETCH 1:* (RFC822.SIZE BODY.PEEK[] BODY.PEEK[TEXT])"),
             (0, "store bogus", b"STORE 1 +FLAGS (\\Bogus)"),
             (0, "store bogus silent", b"STORE 1 +FLAGS.SILENT (\\Seen \\Bogus)"),
             (0, "store keyword", b"STORE 1 +FLAGS (Bogus)"),
             (0, "fetch flags", b"FETCH 1 (FLAGS)")]
    dove, _fake = await both(dovecot, steps)
    at = {name.split(" ", 2)[2]: value for name, value in dove.items()}
    first = at["fetch"]["untagged"]["FETCH"]["seq 1"]
    assert first["BODY[]"] == lf.replace(b"\n", b"\r\n")
    assert first["RFC822.SIZE"] == len(lf) + lf.count(b"\n")
    assert at["fetch"]["untagged"]["FETCH"]["seq 2"]["BODY[TEXT]"] == b"ab\x80cd\r\n"
    assert at["store bogus"]["status"] == at["store bogus silent"]["status"] == "BAD"
    assert at["fetch flags"]["untagged"]["FETCH"]["seq 1"]["FLAGS"] == ["Bogus"]


async def test_recursivematch_needs_a_selection_option_that_selects(
        dovecot: DovecotHandle) -> None:
    """Item 7 (its BAD part): RECURSIVEMATCH alone or with only REMOTE is BAD (RFC 5258
    3.1: REMOTE does not select anything by itself). What RECURSIVEMATCH returns
    (CHILDINFO) is in test_differential_mailboxes.py."""
    steps = [(0, "list alone", b'LIST (RECURSIVEMATCH) "" "*"'),
             (0, "list remote", b'LIST (RECURSIVEMATCH REMOTE) "" "*"')]
    dove, _fake = await both(dovecot, steps)
    assert [value["status"] for value in dove.values()] == ["BAD", "BAD"]


async def test_envelope_of_repeated_headers(dovecot: DovecotHandle) -> None:
    """Item 9 (its ENVELOPE part): repeated address headers all count (CPython corpus
    msg_20 has two Cc lines), a repeated Subject/Date/Message-ID gives the last one, and a
    comment-only group phrase stays a group, as in Dovecot 2.3."""
    raw = (b"From: A <a@example.com>\r\nTo: B <b@example.com>\r\nTo: C <c@example.com>\r\n"
           b"Cc: D <d@example.com>\r\nCc: E <e@example.com>, Team: f@example.com;\r\n"
           b"Subject: one\r\nSubject: two\r\nMessage-ID: <1@x>\r\nMessage-ID: <2@x>\r\n"
           b"Reply-To: (just a comment):;\r\nBcc: Group (comment only):;\r\n\r\nbody\r\n")
    steps = [(0, "append", append(raw)), (0, "select", b"SELECT INBOX"),
             (0, "envelope", b"FETCH 1 (ENVELOPE)"),
             (0, "search to", b"SEARCH TO c@example.com"),
             (0, "search cc", b"SEARCH CC f@example.com")]
    dove, _fake = await both(dovecot, steps)
    at = {name.split(" ", 2)[2]: value for name, value in dove.items()}
    env = at["envelope"]["untagged"]["FETCH"]["seq 1"]["ENVELOPE"]
    assert env[1] == b"two" and env[9] == b"<2@x>"
    assert [a[2] for a in env[5]] == [b"b", b"c"] and len(env[6]) == 5
    assert at["search to"]["untagged"]["SEARCH"] == at["search cc"]["untagged"]["SEARCH"] == [1]


async def test_search_from_to_cc_look_in_parsed_addresses(dovecot: DovecotHandle) -> None:
    """Item 9 (its SEARCH part): FROM/TO/CC match each parsed address written back
    (comments dropped, names quoted, RFC 2047 decoded, groups as ``name: `` and ``;``),
    one address at a time, as Dovecot 2.3; HEADER FROM still matches the text."""
    fields = ["From: Joe (the man) Smith <joe(c1)@ex(c2).com>",
              'From: "Quoted, Name" <q@example.com>\r\nTo: "last, first" <lf@x.com>, p@x.com',
              "From: x@y.com\r\nTo: Team: a@x.com, b@y.com;",
              "From: x@y.com\r\nCc: =?UTF-8?Q?J=C3=BCrgen?= <j@example.com>",
              "From: joe@ex.com (Joe Comment)\r\nTo: undisclosed-recipients:;",
              'From: "a\\"b" <ab@x.com>\r\nTo: @nolocal',
              "From: missing\r\nCc: Team Two: <c@z.com>;"]

    def search(key: str, words: str) -> tuple[int, str, bytes]:
        data = words.encode()
        return (0, f"search {key} {words}", b"SEARCH CHARSET UTF-8 %s {%d+}\r\n%s"
                % (key.encode(), len(data), data))

    queries = [("FROM", "joe@ex.com"), ("FROM", "the man"), ("FROM", "Joe Smith"),
               ("FROM", "c1"), ("FROM", "joe(c1)"), ("FROM", "smith <joe@"),
               ("FROM", '"Quoted'), ("FROM", "Quoted, Name"), ("TO", "x.com>, p"),
               ("TO", '"last, first" <lf'), ("TO", "Team: "), ("TO", "Team: a"),
               ("TO", "a@x.com, b"), ("TO", "y.com;"), ("TO", ";"), ("TO", "recipients:;"),
               ("CC", "jürgen <j@"), ("CC", "=?UTF-8"), ("FROM", "Joe Comment"),
               ("FROM", "joe@ex.com (Joe"), ("FROM", 'a\\"b'), ("FROM", 'a"b'),
               ("TO", "MISSING_MAILBOX@nolocal"), ("FROM", "missing@MISSING_DOMAIN"),
               ("CC", '"Team Two": '), ("CC", "Two: <c@"), ("HEADER FROM", "the man"),
               ("FROM", "")]
    steps = [*((0, f"append {n}", append(f"{f}\r\nSubject: s\r\n\r\nbody\r\n".encode()))
               for n, f in enumerate(fields)),
             (0, "select", b"SELECT INBOX"), *(search(k, w) for k, w in queries)]
    dove, _fake = await both(dovecot, steps)
    found = {name.split(" ", 3)[3]: value["untagged"]["SEARCH"] for name, value in dove.items()
             if name.split(" ", 3)[2] == "search"}
    assert found["FROM Joe Smith"] == [1] and found["FROM the man"] == []
    assert found["TO a@x.com, b"] == [] and found["TO Team: "] == [3]
    assert found["CC jürgen <j@"] == [4] and found["HEADER FROM the man"] == [1]


async def test_search_body_and_text_look_in_decoded_text(dovecot: DovecotHandle) -> None:
    """Item 8: BODY finds words across a quoted-printable soft break and inside a base64
    text part, not in the base64 itself nor in an attachment or the part headers, and in
    UTF-8 case-insensitively; TEXT also finds RFC 2047 words of the header."""
    text = base64.b64encode("secret text Grüße".encode()).decode()
    attachment = base64.b64encode(b"attachword inside").decode()
    raw = ("From: a@example.com\r\nTo: b@example.com\r\n"
           "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus?=\r\nMIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n\r\nhel=\r\nlo wor=C3=B6ld\r\n"
           "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
           f"Content-Transfer-Encoding: base64\r\n\r\n{text}\r\n--b1\r\n"
           "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64"
           f"\r\n\r\n{attachment}\r\n--b1--\r\n").encode()
    plain = b"From: c@example.com\r\nSubject: plain\r\n\r\nJust hello in plain text.\r\n"

    def search(key: str, words: str) -> tuple[int, str, bytes]:
        data = words.encode()
        return (0, f"{key} {words}", b"SEARCH CHARSET UTF-8 %s {%d+}\r\n%s"
                % (key.encode(), len(data), data))

    queries = [("BODY", "hello"), ("BODY", "secret"), ("BODY", "attachword"),
               ("BODY", text[:8]), ("BODY", "wORöld"), ("BODY", "grüße"), ("BODY", "GRÜSSE"),
               ("BODY", "Content-Type"), ("BODY", "quoted-printable"), ("TEXT", "grüße aus"),
               ("TEXT", "hello"), ("TEXT", "Content-Type"), ("BODY", "Grüße aus")]
    steps = [(0, "append", append(raw)), (0, "append plain", append(plain)),
             (0, "select", b"SELECT INBOX"), *(search(k, w) for k, w in queries)]
    dove, _fake = await both(dovecot, steps)
    found = {name.split(" ", 2)[2]: value["untagged"]["SEARCH"] for name, value in dove.items()
             if "SEARCH" in value["untagged"]}
    assert found["BODY hello"] == found["TEXT hello"] == [1, 2]
    assert found["BODY secret"] == found["BODY wORöld"] == found["TEXT grüße aus"] == [1]
    assert found["BODY attachword"] == found[f"BODY {text[:8]}"] == found["BODY GRÜSSE"] == []


async def test_nested_multipart_reusing_its_parents_boundary(dovecot: DovecotHandle) -> None:
    """Item 13: a multipart inside a multipart with the same boundary (malformed, real:
    CPython corpus msg_15, msg_39) is split as Dovecot 2.3 does: the delimiters up to the
    inner close delimiter are the inner part's, the parent goes on after it."""
    raw = (b"From: a@example.com\r\nSubject: reuse\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="BOUND"\r\n\r\npreamble\r\n--BOUND\r\n'
           b'Content-Type: multipart/alternative; boundary="BOUND"\r\n\r\n--BOUND\r\n'
           b"Content-Type: text/plain\r\n\r\nplain one\r\n--BOUND\r\nContent-Type: text/html"
           b"\r\n\r\n<p>html</p>\r\n--BOUND--\r\n\r\n--BOUND\r\nContent-Type: text/plain\r\n"
           b"\r\nouter second\r\n--BOUND--\r\n")
    steps = [(0, "append", append(raw)), (0, "select", b"SELECT INBOX"),
             (0, "structure", b"FETCH 1 (BODYSTRUCTURE)"),
             (0, "sections", b"FETCH 1 (BODY.PEEK[1] BODY.PEEK[1.1] BODY.PEEK[1.2] "
                             b"BODY.PEEK[2])")]
    dove, _fake = await both(dovecot, steps)
    at = {name.split(" ", 2)[2]: value for name, value in dove.items()}
    got = at["sections"]["untagged"]["FETCH"]["seq 1"]
    assert (got["BODY[1.1]"], got["BODY[1.2]"], got["BODY[2]"]) == (
        b"plain one", b"<p>html</p>", b"outer second")


async def test_mailbox_names_must_be_valid_modified_utf7(dovecot: DovecotHandle) -> None:
    """Item 6: CREATE/SELECT/STATUS/RENAME of a name that is not valid modified UTF-7
    (unterminated shift, shifted ASCII, stray '&', raw UTF-8) is NO, as in Dovecot."""
    utf8 = "Café".encode()
    steps = [(0, "create ok", b'CREATE "Caf&AOk-"'), (0, "create amp", b'CREATE "ok&-amp"'),
             (0, "create open shift", b'CREATE "bad&Jjo"'),
             (0, "create shifted ascii", b'CREATE "bad&AGE-"'),
             (0, "create stray amp", b'CREATE "bad&-x&"'),
             (0, "create raw utf8", b"CREATE {%d+}\r\n%s" % (len(utf8), utf8)),
             (0, "select bad", b'SELECT "bad&Jjo"'),
             (0, "status bad", b'STATUS "bad&Jjo" (MESSAGES)'),
             (0, "rename to bad", b'RENAME "Caf&AOk-" "bad&Jjo"'),
             (0, "list", b'LIST "" "*"')]
    dove, _fake = await both(dovecot, steps)
    status = {name.split(" ", 2)[2]: value["status"] for name, value in dove.items()}
    assert [k for k, v in status.items() if v == "NO"] == [
        "create open shift", "create shifted ascii", "create stray amp", "create raw utf8",
        "select bad", "status bad", "rename to bad"]
