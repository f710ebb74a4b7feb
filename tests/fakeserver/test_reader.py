"""CommandReader framing: lines, literals, limits, raw lines, eof, incremental feeding."""

from __future__ import annotations

import pytest

from inboxlab.fakeserver.errors import LimitExceeded, ProtocolError
from inboxlab.fakeserver.imap.command_specs import COMMANDS
from inboxlab.fakeserver.imap.syntax.commands import (
    AppendArgs,
    Command,
    ContinuationRequest,
    Credentials,
    CutMidLiteral,
    Fatal,
    Malformed,
    NoArgs,
    RawLine,
    ReaderEvent,
)
from inboxlab.fakeserver.imap.syntax.reader import CommandReader


def events(data: bytes, reader: CommandReader | None = None) -> list[ReaderEvent]:
    reader = reader or CommandReader(commands=COMMANDS)
    reader.feed(data)
    out: list[ReaderEvent] = []
    while (event := reader.next_event()) is not None:
        out.append(event)
    return out


def norm(event: ReaderEvent) -> object:
    """Exceptions compare by identity; compare Malformed/Fatal by what they say."""
    if isinstance(event, Malformed | Fatal):
        error = event.error
        tag = event.tag if isinstance(event, Malformed) else None
        return (type(event), tag, type(error), error.text, error.code, error.tag)
    return event


def bytewise(data: bytes, reader: CommandReader | None = None) -> list[ReaderEvent]:
    reader = reader or CommandReader(commands=COMMANDS)
    out: list[ReaderEvent] = []
    for i in range(len(data)):
        reader.feed(data[i : i + 1])
        while (event := reader.next_event()) is not None:
            out.append(event)
    return out


def test_simple_command_and_crlf_or_bare_lf() -> None:
    got = events(b"a1 noop\r\nA2 CAPABILITY\n")
    assert got == [
        Command("a1", "NOOP", NoArgs(), raw_size=9),
        Command("A2", "CAPABILITY", NoArgs(), raw_size=14),
    ]


def test_partial_line_waits_for_more_bytes() -> None:
    reader = CommandReader(commands=COMMANDS)
    reader.feed(b"A1 NO")
    assert reader.next_event() is None
    reader.feed(b"OP\r")
    assert reader.next_event() is None
    reader.feed(b"\n")
    event = reader.next_event()
    assert isinstance(event, Command) and event.name == "NOOP"


def test_sync_literal_asks_for_continuation_then_completes() -> None:
    reader = CommandReader(commands=COMMANDS)
    reader.feed(b"A1 LOGIN {4}\r\n")
    assert reader.next_event() == ContinuationRequest()
    assert reader.next_event() is None
    reader.feed(b"joe! {6}\r\n")
    assert reader.next_event() == ContinuationRequest()
    reader.feed(b"se\"c\r\n\r\n")
    event = reader.next_event()
    assert isinstance(event, Command)
    assert event.args == Credentials("joe!", 'se"c\r\n')
    assert event.raw_size == len(b"A1 LOGIN {4}\r\njoe! {6}\r\nse\"c\r\n\r\n")


def test_literal_plus_needs_no_continuation() -> None:
    got = events(b"A1 APPEND INBOX {5+}\r\nhello\r\n")
    assert len(got) == 1 and isinstance(got[0], Command)
    assert isinstance(got[0].args, AppendArgs) and got[0].args.message == b"hello"


def test_literal_bytes_are_opaque() -> None:
    body = b"\xff\x00{3}\r\nA9 LOGOUT\r\n"
    got = events(b"A1 APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\nA2 NOOP\r\n")
    assert [type(e) for e in got] == [Command, Command]
    first = got[0]
    assert isinstance(first, Command) and isinstance(first.args, AppendArgs)
    assert first.args.message == body
    assert isinstance(got[1], Command) and got[1].tag == "A2"


def test_zero_length_literal() -> None:
    got = events(b"A1 LOGIN {0+}\r\n {0+}\r\n\r\n")
    assert isinstance(got[0], Command) and got[0].args == Credentials("", "")


def test_literal_plus_refused_when_not_enabled() -> None:
    got = events(b"A1 LOGIN {1+}\r\nx y\r\nA2 NOOP\r\n",
                 CommandReader(commands=COMMANDS, literal_plus=False))
    assert isinstance(got[0], Malformed) and got[0].tag == "A1"
    assert got[0].error.text == "LITERAL+ is not enabled on this server"
    assert isinstance(got[1], Command) and got[1].tag == "A2"  # framing kept


def test_literal_minus_takes_small_non_synchronizing_literals_only() -> None:
    """RFC 7888 LITERAL- (Gmail): {n+} up to 4096 octets, a larger one is BAD, framing kept."""
    reader = CommandReader(commands=COMMANDS, literal_plus=False, literal_minus=True)
    small = b"x" * 4096
    got = events(b"A1 APPEND INBOX {4096+}\r\n" + small + b"\r\nA2 NOOP\r\n", reader)
    assert isinstance(got[0], Command) and got[0].tag == "A1"
    assert isinstance(got[1], Command) and got[1].tag == "A2"
    reader = CommandReader(commands=COMMANDS, literal_plus=False, literal_minus=True)
    got = events(b"A1 APPEND INBOX {4097+}\r\n" + small + b"y\r\nA2 NOOP\r\n", reader)
    assert isinstance(got[0], Malformed) and got[0].tag == "A1"
    assert "LITERAL-" in got[0].error.text
    assert isinstance(got[1], Command) and got[1].tag == "A2"


def test_oversized_sync_literal_is_tagged_bad_without_continuation() -> None:
    reader = CommandReader(commands=COMMANDS, max_literal=10)
    got = events(b"A1 APPEND INBOX {11}\r\nA2 NOOP\r\n", reader)
    assert isinstance(got[0], Malformed) and got[0].tag == "A1"
    assert isinstance(got[0].error, LimitExceeded)
    assert got[0].error.response("A1") == (
        b"A1 BAD [TOOBIG] literal of 11 bytes exceeds the limit of 10\r\n"
    )
    assert isinstance(got[1], Command) and got[1].tag == "A2"
    assert not any(isinstance(e, ContinuationRequest) for e in got)


def test_huge_literal_announcement_is_not_converted() -> None:
    got = events(b"A1 APPEND INBOX {" + b"9" * 400 + b"}\r\n")
    assert isinstance(got[0], Malformed) and got[0].tag == "A1"
    assert isinstance(got[0].error, LimitExceeded)


def test_oversized_literal_plus_is_fatal_and_stops_framing() -> None:
    reader = CommandReader(commands=COMMANDS, max_literal=10)
    got = events(b"A1 APPEND INBOX {11+}\r\nhello world\r\nA2 NOOP\r\n", reader)
    assert len(got) == 1 and isinstance(got[0], Fatal)
    assert got[0].error.tag == "A1"
    reader.feed(b"A3 NOOP\r\n")
    assert reader.next_event() is None


def test_literals_are_limited_in_total_per_command() -> None:
    reader = CommandReader(commands=COMMANDS, max_literal=10)
    got = events(b"A1 LOGIN {6+}\r\nabcdef {6}\r\n", reader)
    assert isinstance(got[0], Malformed) and isinstance(got[0].error, LimitExceeded)


def test_overlong_line_is_bad_and_skipped_to_next_line() -> None:
    reader = CommandReader(commands=COMMANDS, max_line=20)
    got = bytewise(b"A1 SELECT " + b"x" * 50 + b"\r\nA2 NOOP\r\n", reader)
    assert isinstance(got[0], Malformed) and got[0].tag == "A1"
    assert got[0].error.text == "command line longer than 20 bytes"
    assert isinstance(got[1], Command) and got[1].tag == "A2"
    assert len(got) == 2


def test_overlong_line_complete_in_buffer() -> None:
    got = events(b"A1 SELECT " + b"x" * 50 + b"\r\nA2 NOOP\r\n",
                 CommandReader(commands=COMMANDS, max_line=20))
    assert [type(e) for e in got] == [Malformed, Command]


def test_line_exactly_at_limit_is_accepted() -> None:
    line = b"A1 SELECT " + b"x" * 10  # 20 bytes
    got = bytewise(line + b"\r\n", CommandReader(commands=COMMANDS, max_line=20))
    assert isinstance(got[0], Command)


def test_empty_line_and_missing_tag_are_untagged_bad() -> None:
    got = events(b"\r\n NOOP\r\n")
    assert [e.tag for e in got if isinstance(e, Malformed)] == [None, None]
    assert isinstance(got[0], Malformed) and got[0].error.text == "empty command line"
    assert got[0].error.response("*") == b"* BAD empty command line\r\n"
    assert isinstance(got[1], Malformed) and got[1].error.text == "missing or invalid tag"


def test_bad_literal_announcement() -> None:
    got = events(b"A1 LOGIN {abc}\r\n")
    assert isinstance(got[0], Malformed) and got[0].tag == "A1"
    assert got[0].error.text == "invalid literal announcement '{abc}'"


def test_literal_announcement_mid_line_is_not_a_literal() -> None:
    got = events(b"A1 LOGIN {3} bob\r\n")
    assert isinstance(got[0], Malformed)
    assert got[0].error.text == "LOGIN: literal announcement '{3}' must end the line"


def test_non_utf8_atom_is_bad_but_literal_is_not() -> None:
    got = events(b"A1 SELECT caf\xe9\r\nA2 APPEND INBOX {1+}\r\n\xe9\r\n")
    assert isinstance(got[0], Malformed)
    assert got[0].error.text == "SELECT: mailbox name is not valid UTF-8"
    assert isinstance(got[1], Command)


def test_expect_line_returns_raw_line_once() -> None:
    reader = CommandReader(commands=COMMANDS)
    events(b"A1 IDLE\r\n", reader)
    reader.expect_line()
    got = events(b"DONE\r\nA2 NOOP\r\n", reader)
    assert got[0] == RawLine(b"DONE")
    assert isinstance(got[1], Command) and got[1].tag == "A2"


def test_expect_line_keeps_braces_and_empty_lines_raw() -> None:
    reader = CommandReader(commands=COMMANDS)
    reader.expect_line()
    assert events(b"{5}\r\n", reader) == [RawLine(b"{5}")]
    reader.expect_line()
    assert events(b"\r\n", reader) == [RawLine(b"")]


def test_eof_inside_literal_reports_cut() -> None:
    reader = CommandReader(commands=COMMANDS)
    events(b"A1 APPEND INBOX {100+}\r\npartial", reader)
    assert reader.eof() == CutMidLiteral("A1")
    reader.feed(b"A2 NOOP\r\n")
    assert reader.next_event() is None


def test_eof_after_literal_before_line_end_reports_cut() -> None:
    reader = CommandReader(commands=COMMANDS)
    events(b"A1 LOGIN {3+}\r\nbob", reader)
    assert reader.eof() == CutMidLiteral("A1")


def test_eof_between_commands_is_clean() -> None:
    reader = CommandReader(commands=COMMANDS)
    events(b"A1 NOOP\r\nA2 NO", reader)
    assert reader.eof() is None


@pytest.mark.parametrize(
    "stream",
    [
        b"A1 LOGIN {3}\r\nbob {4+}\r\npass\r\nA2 SELECT inbox\r\nA3 FETCH 1:* (FLAGS)\n",
        b"\r\nA1 BOGUS\r\nA2 APPEND x (\\Seen) {3}\r\nabc\r\nA3 FETCH 1:*:3 FLAGS\r\n",
        b"A1 SEARCH CHARSET UTF-8 SUBJECT {4}\r\n\xc3\xa9t\xc3\r\n",
    ],
)
def test_bytewise_feeding_equals_whole_buffer(stream: bytes) -> None:
    whole = [norm(e) for e in events(stream)]
    assert [norm(e) for e in bytewise(stream)] == whole
    assert len(whole) >= 2


def test_large_literal_is_framed_in_chunks() -> None:
    size = 8 * 1024 * 1024
    body = bytes(range(256)) * (size // 256)
    reader = CommandReader(commands=COMMANDS)
    reader.feed(b"A1 APPEND INBOX {%d+}\r\n" % size)
    assert reader.next_event() is None
    for start in range(0, size, 65536):
        reader.feed(body[start : start + 65536])
        assert reader.next_event() is None
    reader.feed(b"\r\n")
    event = reader.next_event()
    assert isinstance(event, Command) and isinstance(event.args, AppendArgs)
    assert event.args.message == body
    assert "bytes>" in repr(event.args) and len(repr(event)) < 300


def test_malformed_error_renders_tagged_bad() -> None:
    got = events(b"A7 FETCH 0 FLAGS\r\n")
    assert isinstance(got[0], Malformed)
    assert isinstance(got[0].error, ProtocolError)
    assert got[0].error.response(got[0].tag or "*") == (
        b"A7 BAD FETCH: invalid sequence set '0': numbers start at 1\r\n"
    )


def test_overlong_raw_line_is_untagged_bad() -> None:
    reader = CommandReader(commands=COMMANDS, max_line=10)
    reader.expect_line()
    got = bytewise(b"A1 " + b"x" * 30 + b"\r\nA2 NOOP\r\n", reader)
    assert isinstance(got[0], Malformed) and got[0].tag is None
    assert isinstance(got[1], Command) and got[1].tag == "A2"


def test_overlong_line_announcing_literal_plus_is_fatal() -> None:
    got = events(b"A1 APPEND " + b"x" * 30 + b" {3+}\r\nabc\r\n",
                 CommandReader(commands=COMMANDS, max_line=20))
    assert len(got) == 1 and isinstance(got[0], Fatal)
    assert got[0].error.tag == "A1"
