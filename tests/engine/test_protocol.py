"""The sans-I/O response parser and command builder, with canned server bytes (no sockets).

Examples are from RFC 3501/9051/7162/4315/2177 and from Dovecot 2.3 transcripts.
"""

from __future__ import annotations

import pytest

from inboxlab.engine.errors import (
    AuthFailed,
    LimitExceeded,
    ProtocolViolation,
    ServerRefused,
    Throttled,
)
from inboxlab.engine.imap import utf7
from inboxlab.engine.imap.commands import (
    Atom,
    Mailbox,
    TagCounter,
    build,
    expand_uid_set,
    format_internaldate,
    parse_internaldate,
    uid_set,
)
from inboxlab.engine.imap.model import (
    Bye,
    Capability,
    Continuation,
    Enabled,
    ESearch,
    Event,
    Exists,
    Expunge,
    Fetch,
    Flags,
    Greeting,
    ListItem,
    Recent,
    Search,
    Status,
    Tagged,
    Untagged,
    UntaggedStatus,
    Vanished,
)
from inboxlab.engine.imap.protocol import ResponseParser
from inboxlab.engine.imap.results import Credentials, refusal
from inboxlab.engine.secrets import Secret

GREETING = b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ " \
           b"STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n"

SELECT_SESSION = (
    b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
    b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] "
    b"Flags permitted.\r\n"
    b"* 172 EXISTS\r\n"
    b"* 1 RECENT\r\n"
    b"* OK [UNSEEN 12] Message 12 is first unseen\r\n"
    b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
    b"* OK [UIDNEXT 4392] Predicted next UID\r\n"
    b"* OK [HIGHESTMODSEQ 715194045007] Highest\r\n"
    b"A142 OK [READ-WRITE] SELECT completed\r\n"
)

FETCH_ENVELOPE = (
    b'* 12 FETCH (FLAGS (\\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" '
    b'RFC822.SIZE 4286 ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" '
    b'"IMAP4rev1 WG mtg summary and minutes" '
    b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
    b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
    b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
    b'((NIL NIL "imap" "cac.washington.edu")) '
    b'((NIL NIL "minutes" "CNRI.Reston.VA.US")'
    b'("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL '
    b'"<B27397-0100000@cac.washington.edu>") '
    b'BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))\r\n'
)


def header_fetch(n: int, body: bytes, flags: bytes = b"\\Seen $Label1") -> bytes:
    return (
        b"* %d FETCH (UID %d FLAGS (%s) RFC822.SIZE %d "
        b'INTERNALDATE "02-Mar-2026 10:00:00 +0000" '
        b"BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)] {%d}\r\n"
        % (n, n + 100, flags, 1000 + n, len(body))
        + body + b")\r\n"
    )


def stream(count: int = 50) -> bytes:
    parts = [GREETING]
    for n in range(1, count + 1):
        body = b"Message-ID: <%d@x>\r\nSubject: s\xc3\xa9 %d\r\n\r\n" % (n, n)
        parts.append(header_fetch(n, body, (b"\\Seen $Label1", b"", b"\\Flagged")[n % 3]))
        if n % 17 == 0:
            parts.append(b"* %d EXISTS\r\n" % (count + n))
    parts.append(b"A7 OK Fetch completed (0.001 + 0.000 secs).\r\n")
    return b"".join(parts)


def parse_all(data: bytes, *, chunk: int | None = None, **kw: object) -> list[Event]:
    parser = ResponseParser(**kw)  # type: ignore[arg-type]
    out: list[Event] = []
    step = chunk or len(data) or 1
    for k in range(0, len(data), step):
        parser.feed(data[k : k + step])
        out.extend(parser.events())
    assert parser.buffered == 0
    return out


def one(line: bytes) -> Event:
    events = parse_all(line, expect_greeting=False)
    assert len(events) == 1
    return events[0]


# -- canned responses ----------------------------------------------------------------------


def test_greeting_with_capabilities() -> None:
    (g,) = parse_all(GREETING)
    assert isinstance(g, Greeting)
    assert g.status == "OK" and g.code == "CAPABILITY"
    assert "LITERAL+" in g.code_args and g.text == "Dovecot (Debian) ready."


def test_preauth_and_bye_greetings() -> None:
    assert parse_all(b"* PREAUTH IMAP4rev1 server logged in as Smith\r\n")[0] == Greeting(
        "PREAUTH", None, (), "IMAP4rev1 server logged in as Smith")
    assert parse_all(b"* BYE [UNAVAILABLE] Too busy\r\n")[0] == Greeting(
        "BYE", "UNAVAILABLE", (), "Too busy")


def test_select_session() -> None:
    events = parse_all(SELECT_SESSION, expect_greeting=False)
    assert events[0] == Flags(("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"))
    assert events[1] == UntaggedStatus(
        "OK", "PERMANENTFLAGS",
        (("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\*"),),
        "Flags permitted.")
    assert events[2] == Exists(172) and events[3] == Recent(1)
    assert events[5] == UntaggedStatus("OK", "UIDVALIDITY", ("3857529045",), "UIDs valid")
    assert events[7].code_args == ("715194045007",)  # type: ignore[union-attr]
    assert events[8] == Tagged("A142", "OK", "READ-WRITE", (), "SELECT completed")


def test_fetch_envelope_and_body_structure() -> None:
    event = one(FETCH_ENVELOPE)
    assert isinstance(event, Fetch) and event.seq == 12
    env = event.items["ENVELOPE"]
    assert env[1] == b"IMAP4rev1 WG mtg summary and minutes"
    assert env[2] == ((b"Terry Gray", None, b"gray", b"cac.washington.edu"),)
    assert env[6][1] == (b"John Klensin", None, b"KLENSIN", b"MIT.EDU")
    assert env[9] == b"<B27397-0100000@cac.washington.edu>"
    assert event.items["BODY"] == (b"TEXT", b"PLAIN", (b"CHARSET", b"US-ASCII"), None, None,
                                   b"7BIT", "3028", "92")
    assert event.items["RFC822.SIZE"] == 4286
    assert parse_internaldate(event.items["INTERNALDATE"]).utcoffset().total_seconds() == -25200


def test_fetch_partial_modseq_and_binary() -> None:
    event = one(b"* 3 FETCH (UID 9 MODSEQ (624140003) BODY[]<0> {5}\r\nHello BINARY[1] ~{2}\r\n"
                b"\x00\x01 BODY[TEXT] NIL)\r\n")
    assert event == Fetch(3, {"UID": 9, "MODSEQ": 624140003, "BODY[]<0>": b"Hello",
                              "BINARY[1]": b"\x00\x01", "BODY[TEXT]": None})


def test_list_lsub_with_special_use_and_utf7() -> None:
    item = one(b'* LIST (\\HasNoChildren \\Sent) "/" "Elementy wys&AUI-ane"\r\n')
    assert item == ListItem(("\\HasNoChildren", "\\Sent"), "/", "Elementy wys\u0142ane",
                            b"Elementy wys&AUI-ane", "LIST")
    assert one(b'* LIST (\\Noselect) NIL ""\r\n') == ListItem(("\\Noselect",), None, "", b"")
    assert one(b'* LSUB () "." inbox\r\n').name == "INBOX"  # type: ignore[union-attr]
    literal = one(b'* LIST () "/" {8}\r\nA "b" &c\r\n')
    assert literal.raw_name == b'A "b" &c'  # type: ignore[union-attr]
    assert literal.name == 'A "b" &c'  # invalid UTF-7 falls back to the raw text


def test_status_search_esearch_vanished_enabled() -> None:
    assert one(b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n") == Status(
        "blurdybloop", {"MESSAGES": 231, "UIDNEXT": 44292}, b"blurdybloop")
    assert one(b"* SEARCH 2 84 882\r\n") == Search((2, 84, 882))
    assert one(b"* SEARCH\r\n") == Search(())
    assert one(b"* SEARCH 2 5 6 7 (MODSEQ 917162500)\r\n") == Search((2, 5, 6, 7), 917162500)
    assert one(b'* ESEARCH (TAG "A285") UID MIN 7 MAX 3800\r\n') == ESearch(
        "A285", True, {"MIN": 7, "MAX": 3800})
    assert one(b"* VANISHED (EARLIER) 300:310,405,411\r\n") == Vanished("300:310,405,411", True)
    assert Vanished("1:3,7").uid_list() == [1, 2, 3, 7]
    assert one(b"* ENABLED CONDSTORE QRESYNC\r\n") == Enabled(("CONDSTORE", "QRESYNC"))
    assert one(b"* 44 EXPUNGE\r\n") == Expunge(44)
    assert one(b"* CAPABILITY IMAP4rev1 idle\r\n") == Capability(("IMAP4REV1", "IDLE"))
    assert one(b'* ID ("name" "Dovecot")\r\n') == Untagged("ID", ((b"name", b"Dovecot"),))


def test_tagged_continuation_and_bye() -> None:
    assert one(b"A1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n") == Tagged(
        "A1", "NO", "AUTHENTICATIONFAILED", (), "Authentication failed.")
    assert one(b"A3 OK [APPENDUID 38505 3955] APPEND completed\r\n").code_args == (  # type: ignore[union-attr]
        "38505", "3955")
    assert one(b"+ idling\r\n") == Continuation("idling")
    assert one(b"+\r\n") == Continuation("")
    assert one(b"* BYE Autologout; idle for too long\r\n") == Bye(
        None, (), "Autologout; idle for too long")
    assert one(b"a2 ok\r\n") == Tagged("a2", "OK")


def test_quoted_escapes_and_nil() -> None:
    event = one(b'* 1 FETCH (ENVELOPE ("a \\"q\\" \\\\ b" NIL "NIL"))\r\n')
    assert event.items["ENVELOPE"] == (b'a "q" \\ b', None, b"NIL")  # type: ignore[union-attr]


def test_bare_lf_line_endings_are_tolerated() -> None:
    assert one(b"* 4 EXISTS\n") == Exists(4)


# -- streaming and framing -------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 4096])
def test_any_chunking_gives_the_same_events(chunk: int) -> None:
    data = stream(40)
    assert parse_all(data, chunk=chunk) == parse_all(data)


def test_learned_fast_path_equals_the_careful_scanner() -> None:
    data = stream(200) + FETCH_ENVELOPE
    fast = parse_all(data)
    assert fast == parse_all(data, fast_fetch=False)
    fetches = [e for e in fast if isinstance(e, Fetch)]
    assert len(fetches) == 201
    assert fetches[0].items["FLAGS"] == ()
    assert fetches[1].items["FLAGS"] == ("\\Flagged",)
    assert fetches[2].items["FLAGS"] == ("\\Seen", "$Label1")
    assert fetches[5].items["BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)]"].startswith(
        b"Message-ID: <6@x>")


@pytest.mark.parametrize("chunk", [1, 97, 100_000])
def test_fetch_run_batches_give_the_same_events(chunk: int) -> None:
    data = stream(120) + FETCH_ENVELOPE + stream(3)[len(GREETING):]
    parser = ResponseParser()
    got: list[Event] = []
    batches = 0
    for k in range(0, len(data), chunk):
        parser.feed(data[k : k + chunk])
        while True:
            batch: list[Fetch] = []
            batches += parser.fetch_run(batch) > 0
            got.extend(batch)
            event = parser.next_event()
            if event is None:
                break
            got.append(event)
    assert got == parse_all(data)
    assert batches > 0


def test_fast_path_falls_back_when_the_shape_changes() -> None:
    data = GREETING + header_fetch(1, b"x") + header_fetch(2, b"y") + (
        b'* 3 FETCH (UID 103 FLAGS (\\Seen $Label1) RFC822.SIZE 1003 INTERNALDATE "02-Mar-2026 '
        b'10:00:00 +0000" BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)] {1}\r\nz MODSEQ (5))\r\n'
        b"* 4 FETCH (UID 104 FLAGS (\\Seen) RFC822.SIZE 5 INTERNALDATE \"x\" "
        b"BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)] NIL)\r\n"
    )
    events = parse_all(data)
    assert events == parse_all(data, fast_fetch=False)
    assert events[3].items["MODSEQ"] == 5  # type: ignore[union-attr]
    assert events[4].items["BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)]"] is None  # type: ignore[union-attr]


def literal_not_last(count: int) -> bytes:
    """Responses whose literal is not the last item (BODY[] before FLAGS/MODSEQ, as a
    server answers when the fetch set \\Seen; two literals in one response)."""
    parts = [GREETING]
    for n in range(1, count + 1):
        head = b"Message-ID: <%d@x>\r\n\r\n" % n
        text = b"body {%d}\r\n)" % n  # IMAP syntax inside a literal is just data
        if n <= count // 2:
            parts.append(b"* %d FETCH (UID %d BODY[HEADER] {%d}\r\n%s FLAGS (\\Seen%s) "
                         b"MODSEQ (%d))\r\n" % (n, n, len(head), head,
                                                b" $Hot" if n % 3 == 0 else b"", 10 + n))
        else:
            parts.append(b"* %d FETCH (UID %d BODY[HEADER] {%d}\r\n%s BODY[TEXT] {%d}\r\n%s "
                         b"RFC822.SIZE %d)\r\n" % (n, n, len(head), head, len(text), text,
                                                   len(head) + len(text)))
    parts.append(b"A8 OK done\r\n")
    return b"".join(parts)


@pytest.mark.parametrize("chunk", [1, 5, 97, 100_000])
def test_literal_not_last_has_a_fast_path_with_the_same_events(chunk: int) -> None:
    data = literal_not_last(60)
    careful = parse_all(data, fast_fetch=False)
    assert parse_all(data, chunk=chunk) == careful
    assert careful[1] == Fetch(1, {"UID": 1, "BODY[HEADER]": b"Message-ID: <1@x>\r\n\r\n",
                                   "FLAGS": ("\\Seen",), "MODSEQ": 11})
    assert careful[-2].items["BODY[TEXT]"] == b"body {60}\r\n)"  # type: ignore[union-attr]
    # The batch shortcut takes them: all but the first of each of the two shapes.
    parser = ResponseParser()
    parser.feed(data)
    events: list[Event] = []
    fast = 0
    while True:
        batch: list[Fetch] = []
        fast += parser.fetch_run(batch)
        events.extend(batch)
        event = parser.next_event()
        if event is None:
            break
        events.append(event)
    assert events == careful
    assert fast == 58


def test_big_literal_split_across_many_feeds() -> None:
    body = bytes(range(256)) * 8192  # 2 MiB, with CR, LF, braces and quotes inside
    data = GREETING + b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % len(body) + body + b")\r\nA1 OK\r\n"
    parser = ResponseParser()
    events: list[Event] = []
    for k in range(0, len(data), 65536):
        parser.feed(data[k : k + 65536])
        events.extend(parser.events())
    assert [type(e) for e in events] == [Greeting, Fetch, Tagged]
    assert events[1].items["BODY[]"] == body  # type: ignore[union-attr]


def test_literal_arriving_after_its_announcement() -> None:
    parser = ResponseParser(expect_greeting=False)
    parser.feed(b"* 1 FETCH (UID 1 BODY[] {5}\r\n")
    assert parser.next_event() is None
    parser.feed(b"ab")
    assert parser.next_event() is None
    parser.feed(b"cde)\r")
    assert parser.next_event() is None
    parser.feed(b"\n")
    assert parser.next_event() == Fetch(1, {"UID": 1, "BODY[]": b"abcde"})


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        b"garbage without tag status\r\n",
        b"* 12 FETCH UID 5\r\n",
        b"* 12 FETCH (UID abc)\r\n",
        b"* 12 FETCH (UID 5 FLAGS (\\Seen)\r\n",
        b"* 12 FETCH (UID 5) trailing\r\n",
        b'* 12 FETCH (BODY[] "unterminated)\r\n',
        b"* STATUS box (MESSAGES)\r\n",
        b"* LIST \\Noselect \"/\" x\r\n",
        b"* OK [UNTERMINATED code\r\n",
        b"A1 MAYBE done\r\n",
        b"*\r\n",
        b"+x\x00\r\n\r\n",
        b"* SEARCH 1 two\r\n",
        b"* 1 FETCH (ENVELOPE ((((\r\n",
    ],
)
def test_malformed_responses_raise_protocol_violation(line: bytes) -> None:
    parser = ResponseParser(expect_greeting=False)
    parser.feed(line + b"* 7 EXISTS\r\n")
    raised: list[ProtocolViolation] = []
    events: list[Event] = []
    for _ in range(10):
        try:
            event = parser.next_event()
        except ProtocolViolation as exc:
            raised.append(exc)
            continue
        if event is None:
            break
        events.append(event)
    if line.startswith(b"+x"):
        assert events[0] == Continuation("x\x00")  # odd but parseable; the empty line is not
    assert raised, f"{line!r} parsed as {events}"
    assert raised[0].data and raised[0].code == "protocol_violation"
    assert Exists(7) in events  # the parser resynchronised on the next line


def test_greeting_must_come_first() -> None:
    parser = ResponseParser()
    parser.feed(b"A1 OK hello\r\n")
    with pytest.raises(ProtocolViolation, match="greeting"):
        parser.next_event()


def test_overlong_line_is_refused_and_skipped() -> None:
    parser = ResponseParser(expect_greeting=False, max_line=1000)
    parser.feed(b"* OK " + b"x" * 2000)
    with pytest.raises(LimitExceeded, match="longer than the custom limit of 1000") as err:
        parser.next_event()
    assert err.value.limit == "custom_line"
    parser.feed(b"yyy\r\n* 3 EXISTS\r\n")
    assert parser.next_event() == Exists(3)


def test_oversized_literal_is_refused() -> None:
    parser = ResponseParser(expect_greeting=False, max_literal=100)
    parser.feed(b"* 1 FETCH (BODY[] {101}\r\n")
    with pytest.raises(LimitExceeded, match="literal of 101 bytes announced") as err:
        parser.next_event()
    assert err.value.limit == "custom_literal" and err.value.permanent


def test_deep_nesting_is_refused_not_recursed() -> None:
    deep = b"* 1 FETCH (BODYSTRUCTURE " + b"(" * 5000 + b")" * 5000 + b")\r\n"
    with pytest.raises(ProtocolViolation, match="nested"):
        parse_all(deep, expect_greeting=False)


# -- refusals -> the error tree -------------------------------------------------------------


def test_refusals_are_classified() -> None:
    auth = refusal("NO", "AUTHENTICATIONFAILED", (), "Authentication failed.",
                   stage="imap_login", command="LOGIN")
    assert isinstance(auth, AuthFailed) and auth.permanent
    assert auth.server_text == "Authentication failed." and auth.remediation
    slow = refusal("NO", None, (), "Request is throttled. Try again later.",
                   stage="imap_fetch", command="UID FETCH")
    assert isinstance(slow, Throttled) and not slow.permanent
    coded = refusal("NO", "THROTTLED", (), "slow down", stage="imap_login", command="LOGIN")
    assert isinstance(coded, Throttled)
    expired = refusal("NO", "EXPIRED", (), "Password expired", stage="imap_login",
                      command="LOGIN")
    assert isinstance(expired, AuthFailed) and expired.code == "expired"
    gone = refusal("NO", "NONEXISTENT", (), "Mailbox doesn't exist: X", stage="imap_select",
                   command="SELECT")
    assert type(gone) is ServerRefused and gone.permanent and gone.code == "nonexistent"
    busy = refusal("NO", "UNAVAILABLE", (), "Temporary failure", stage="imap_login",
                   command="LOGIN")
    assert not isinstance(busy, AuthFailed) and not busy.permanent
    assert auth.as_dict() == {
        "type": "AuthFailed", "code": "authenticationfailed", "permanent": True,
        "stage": "imap_login", "message": "LOGIN refused: NO [AUTHENTICATIONFAILED]",
        "server_text": "Authentication failed.", "remediation": auth.remediation,
    }


# -- command building -------------------------------------------------------------------------


def test_strings_are_quoted_or_literal_never_raw() -> None:
    cmd = build("A1", "LOGIN", "user@example.com", 'pa"s\\s', secret=(1,))
    assert cmd.chunks == (b'A1 LOGIN "user@example.com" "pa\\"s\\\\s"\r\n',)
    assert cmd.trace_text == 'A1 LOGIN "user@example.com" [redacted]'
    sync = build("A2", "LOGIN", "u", "p\u00e4ss\r\n", secret=(1,))
    assert sync.chunks == (b'A2 LOGIN "u" {7}\r\n', "p\u00e4ss\r\n".encode() + b"\r\n")
    assert "p\u00e4ss" not in sync.trace_text


def test_literal_plus_and_minus() -> None:
    small = build("A3", "APPEND", Mailbox("Sent"), b"hi", literal_plus=True)
    assert small.chunks == (b'A3 APPEND "Sent" {2+}\r\nhi\r\n',)
    assert small.trace_text == 'A3 APPEND "Sent" {2+}<2 bytes>'
    minus_small = build("A4", "APPEND", Mailbox("S"), b"x" * 4096, literal_minus=True)
    assert len(minus_small.chunks) == 1
    minus_big = build("A5", "APPEND", Mailbox("S"), b"x" * 4097, literal_minus=True)
    assert minus_big.chunks[0] == b'A5 APPEND "S" {4097}\r\n'


def test_mailbox_names_and_lists() -> None:
    cmd = build("A6", "SELECT", Mailbox("Elementy wys\u0142ane"), (Atom("CONDSTORE"),))
    assert cmd.wire == b'A6 SELECT "Elementy wys&AUI-ane" (CONDSTORE)\r\n'
    fetch = build("A7", "UID FETCH", uid_set([5, 1, 2, 3, 9, 10]), Atom("(UID FLAGS)"))
    assert fetch.wire == b"A7 UID FETCH 1:3,5,9:10 (UID FLAGS)\r\n"


@pytest.mark.parametrize("bad", [Atom("a\r\nb"), Atom(""), -1, 1.5, True])
def test_bad_arguments_are_typed_errors(bad: object) -> None:
    from inboxlab.engine.errors import ConfigError

    with pytest.raises(ConfigError):
        build("A1", "X", bad)  # type: ignore[arg-type]


def test_uid_sets_and_tags() -> None:
    assert uid_set("1:*") == "1:*"
    assert expand_uid_set("3:1,7") == [1, 2, 3, 7]
    assert expand_uid_set("5:*", star=6) == [5, 6]
    from inboxlab.engine.errors import ConfigError

    with pytest.raises(ConfigError):
        uid_set("1:2 FLAGS")
    tags = TagCounter("X")
    assert [tags.next(), tags.next()] == ["X0001", "X0002"]


def test_internaldate_round_trip() -> None:
    text = "17-Jul-1996 02:44:25 -0700"
    assert format_internaldate(parse_internaldate(text)) == text
    assert parse_internaldate(" 7-Jul-1996 02:44:25 +0000").day == 7
    with pytest.raises(ValueError):
        parse_internaldate("yesterday")


TAIPEI = "~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e"  # RFC 3501's own example


@pytest.mark.parametrize("name", [
    "INBOX", "Gesendete Elemente", "Elementy wys\u0142ane", "R&D", TAIPEI, "\U0001f4e7 mail",
    "\u041e\u0442\u043f\u0440\u0430\u0432\u043b\u0435\u043d\u043d\u044b\u0435",
])
def test_modified_utf7_round_trip(name: str) -> None:
    encoded = utf7.encode(name)
    assert encoded.isascii()
    assert utf7.decode(encoded) == name
    assert utf7.encode("R&D") == b"R&-D"
    assert utf7.decode(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-") == TAIPEI


def test_credentials_hide_the_password() -> None:
    import dataclasses
    import pickle

    creds = Credentials("me@example.com", "hunter2")
    assert "hunter2" not in repr(creds) and "hunter2" not in str(creds)
    assert "hunter2" not in repr(dataclasses.asdict(creds))
    with pytest.raises(TypeError):
        pickle.dumps(creds)
    assert creds.reveal() == "hunter2"
    assert Credentials("me", Secret("s3")).reveal() == "s3"


def test_a_big_body_costs_about_twice_its_size_at_peak() -> None:
    import tracemalloc

    size = 16 << 20
    body = b"x" * size
    head = GREETING + b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % size
    tail = b")\r\nA1 OK\r\n"
    parser = ResponseParser()
    parser.feed(head)
    assert parser.next_event() is not None  # the greeting
    tracemalloc.start()
    try:
        for k in range(0, size, 1 << 20):
            parser.feed(memoryview(body)[k : k + (1 << 20)])
            assert parser.next_event() is None
        parser.feed(tail)
        event = parser.next_event()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(event, Fetch) and len(event.items["BODY[]"]) == size
    assert peak < 2.5 * size, f"peak {peak / size:.2f}x the body"
    assert parser.next_event() == Tagged("A1", "OK")


def test_empty_literals_on_both_paths() -> None:
    data = GREETING + b"".join(b"* %d FETCH (UID %d BODY[] {0}\r\n)\r\n" % (n, n) for n in (1, 2))
    for fast in (True, False):
        events = parse_all(data, fast_fetch=fast)
        assert events[1:] == [Fetch(1, {"UID": 1, "BODY[]": b""}),
                              Fetch(2, {"UID": 2, "BODY[]": b""})]


# -- the session state table (RFC 3501 section 3) ---------------------------------------------


def test_state_table_transitions_and_checks() -> None:
    from inboxlab.engine.errors import ConfigError
    from inboxlab.engine.imap.state import TRANSITIONS, ImapState, SessionState

    for (start, event), end in TRANSITIONS.items():  # every legal transition
        state = SessionState()
        state.state = start
        assert state.advance(event) is end
    state = SessionState()
    with pytest.raises(ConfigError, match="needs the session to be selected"):
        state.check("UID FETCH")
    state.check("LOGIN")
    state.advance("auth_ok")
    with pytest.raises(ConfigError) as err:
        state.check("LOGIN")
    assert err.value.code == "wrong_state"
    state.advance("select_ok")
    state.check("UID FETCH")
    state.advance("select_failed")
    assert state.state is ImapState.AUTHENTICATED
    with pytest.raises(ConfigError):
        state.advance("greeting_preauth")  # an illegal transition is a bug, loudly
    state.check("XYZZY")  # unmodelled commands are the server's to judge


async def test_commands_in_the_wrong_state_never_reach_the_wire() -> None:
    import asyncio

    from memory_writer import MemoryWriter

    from inboxlab.engine.errors import ConfigError
    from inboxlab.engine.imap.client import ImapClient

    reader = asyncio.StreamReader()
    reader.feed_data(b"* OK ready\r\n")
    client = ImapClient("127.0.0.1", 1, security="plain")
    writer = MemoryWriter()
    await client.attach(reader, writer)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="UID FETCH needs"):
        await anext(client.uid_fetch("1:*", "(UID)"))
    with pytest.raises(ConfigError, match="SELECT needs"):
        await client.select("INBOX")
    assert writer.sent == b""
    await client.close()
