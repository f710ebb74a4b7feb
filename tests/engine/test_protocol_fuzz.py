"""Fuzzing the response parser: hostile bytes only ever produce events or ProtocolViolation.

Derandomized with a modest budget so the suite stays fast and repeatable.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inboxlab.engine.errors import ProtocolViolation
from inboxlab.engine.imap.protocol import ResponseParser

# INBOXLAB_FUZZ_EXAMPLES raises the budget for a long run (tests/reliability does the same).
FUZZ = settings(max_examples=int(os.environ.get("INBOXLAB_FUZZ_EXAMPLES", "300")),
                derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

CORPUS = [
    b"* OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] Dovecot ready.\r\n",
    b"* 12 FETCH (UID 5 FLAGS (\\Seen $X) RFC822.SIZE 44 INTERNALDATE "
    b'"17-Jul-1996 02:44:25 -0700" BODY[HEADER.FIELDS (MESSAGE-ID)] {10}\r\nMessage-ID)\r\n',
    b"* 13 FETCH (UID 6 FLAGS (\\Seen $X) RFC822.SIZE 45 INTERNALDATE "
    b'"17-Jul-1996 02:44:25 -0700" BODY[HEADER.FIELDS (MESSAGE-ID)] {3}\r\nabc)\r\n',
    b'* 1 FETCH (ENVELOPE ("d" "s" (("A" NIL "a" "b")) NIL NIL NIL NIL NIL NIL "<i>") '
    b'BODYSTRUCTURE (("TEXT" "PLAIN" NIL NIL NIL "7BIT" 3 1)("TEXT" "HTML" NIL NIL NIL '
    b'"7BIT" 3 1) "ALTERNATIVE") MODSEQ (12))\r\n',
    b'* LIST (\\HasNoChildren \\Sent) "/" "Elementy wys&AUI-ane"\r\n',
    b'* LIST () "/" {4}\r\nSent\r\n',
    b"* STATUS INBOX (MESSAGES 3 UIDNEXT 4 HIGHESTMODSEQ 9)\r\n",
    b"* SEARCH 1 2 3 (MODSEQ 4)\r\n",
    b'* ESEARCH (TAG "A1") UID COUNT 3 ALL 1:3\r\n',
    b"* VANISHED (EARLIER) 1:3,5\r\n",
    b"* OK [PERMANENTFLAGS (\\Seen \\*)] ok\r\n",
    b"* 3 EXISTS\r\n* 2 EXPUNGE\r\n* 1 RECENT\r\n",
    b"A1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
    b"A2 OK [APPENDUID 1 2] done\r\n",
    b"+ idling\r\n",
    b"* BYE shutting down\r\n",
]


def drive(chunks: list[bytes], **kw: object) -> list[object]:
    """Outcomes in order: events, or the class name of each typed error."""
    parser = ResponseParser(max_line=4096, max_literal=1 << 16, **kw)  # type: ignore[arg-type]
    out: list[object] = []
    for chunk in chunks:
        parser.feed(chunk)
        for _ in range(10_000):
            try:
                event = parser.next_event()
            except ProtocolViolation as exc:
                assert exc.data is not None and len(exc.data) <= 300
                out.append("violation")
                continue
            if event is None:
                break
            out.append(event)
        else:
            raise AssertionError("the parser stopped making progress")
    return out


@FUZZ
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_random_bytes_never_crash(chunks: list[bytes]) -> None:
    drive(chunks)
    drive(chunks, expect_greeting=False)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    picks = draw(st.lists(st.sampled_from(CORPUS), min_size=1, max_size=6))
    data = bytearray(CORPUS[0] + b"".join(picks))
    for _ in range(draw(st.integers(0, 6))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "delete", "insert", "dup"]))
        if op == "flip":
            data[pos] = draw(st.sampled_from(b' ()[]{}"\\\r\n0123456789+*~x\x00\xff'))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 40))]
    return bytes(data)


@FUZZ
@given(mutated(), st.integers(1, 64))
def test_mutated_responses_give_events_or_typed_errors(data: bytes, step: int) -> None:
    whole = drive([data])
    chunked = drive([data[k : k + step] for k in range(0, len(data), step)])
    assert chunked == whole  # the split points of the network never change the outcome


@FUZZ
@given(mutated())
def test_fast_path_agrees_with_the_careful_scanner(data: bytes) -> None:
    assert drive([data]) == drive([data], fast_fetch=False)


@FUZZ
@given(st.lists(st.sampled_from(CORPUS[1:]), min_size=1, max_size=10), st.data())
def test_valid_streams_split_anywhere(picks: list[bytes], data: st.DataObject) -> None:
    stream = CORPUS[0] + b"".join(picks)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    outcome = drive(chunks)
    assert "violation" not in outcome
    assert len(outcome) == 1 + sum(p.count(b"\r\n") - p.count(b"}\r\n") for p in picks)


@FUZZ
@given(st.text(max_size=60), st.booleans())
def test_any_string_argument_round_trips_through_the_reader(text: str, plus: bool) -> None:
    """Whatever the string (quotes, backslashes, CR/LF, NUL, emoji), the bytes on the wire
    read back as exactly that string: no argument can inject syntax."""
    from inboxlab.engine.imap.commands import build
    from inboxlab.engine.imap.lexer import values

    cmd = build("A1", "X", text, literal_plus=plus)
    wire = cmd.wire
    assert wire.startswith(b"A1 X ") and wire.endswith(b"\r\n")
    if len(cmd.chunks) > 1:  # a synchronizing literal: the head ends the first chunk
        assert cmd.chunks[0].endswith(b"}\r\n")
    parsed, _ = values(wire, len(b"A1 X "))  # the reader also accepts {n+}
    assert parsed == (text.encode(),)


@FUZZ
@given(st.lists(st.integers(1, 5000), min_size=1, max_size=80))
def test_uid_sets_compress_and_expand_back(uids: list[int]) -> None:
    from inboxlab.engine.imap.commands import expand_uid_set, uid_set

    text = uid_set(uids)
    assert expand_uid_set(text) == sorted(set(uids))
    assert len(text) <= len(",".join(map(str, sorted(set(uids)))))
