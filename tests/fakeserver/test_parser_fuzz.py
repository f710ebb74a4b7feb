"""Property tests: hostile bytes only ever become events, and valid commands round-trip.

Budgets are modest and derandomized so the suite stays fast and repeatable.
"""

from __future__ import annotations

import datetime as dt
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inboxlab.fakeserver.errors import ProtocolError
from inboxlab.fakeserver.imap.command_specs import COMMANDS
from inboxlab.fakeserver.imap.syntax.commands import (
    STAR,
    And,
    Command,
    ContinuationRequest,
    CopyArgs,
    CutMidLiteral,
    Date,
    Fatal,
    FetchArgs,
    FetchAttr,
    Flag,
    Header,
    Malformed,
    ModSeq,
    Not,
    Or,
    QResync,
    RawLine,
    ReaderEvent,
    SearchArgs,
    SearchKey,
    Section,
    SelectArgs,
    SeqSet,
    SequenceSet,
    Size,
    StoreArgs,
    StoreMode,
    Text,
    UidSet,
)
from inboxlab.fakeserver.imap.syntax.reader import CommandReader
from inboxlab.fakeserver.imap.syntax.search import FLAG_KEYS

# INBOXLAB_FUZZ_EXAMPLES raises the budget for a long run (tests/reliability does the same).
FUZZ = settings(max_examples=int(os.environ.get("INBOXLAB_FUZZ_EXAMPLES", "200")),
                derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# -- never-crash properties ----------------------------------------------------------

VALID = [
    b"A1 LOGIN {3}\r\nbob {4+}\r\npass\r\n",
    b"A2 UID FETCH 1:*,3 (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.10>) (CHANGEDSINCE 4 "
    b"VANISHED)\r\n",
    b'A3 SEARCH RETURN (MIN) CHARSET UTF-8 OR FROM "a" NOT (SEEN SINCE 1-Jan-2024) UID 1:5\r\n',
    b"A4 STORE 1 (UNCHANGEDSINCE 2) +FLAGS.SILENT (\\Seen $x)\r\n",
    b"A5 SELECT INBOX (QRESYNC (1 2 1:9 (1:2 3:4)))\r\n",
    b'A6 LIST (SUBSCRIBED) "" ("a" %) RETURN (STATUS (MESSAGES))\r\n',
    b'A7 APPEND x (\\Seen) " 1-Jan-2024 00:00:00 +0000" {3}\r\nabc\r\n',
    b'A8 ID ("name" NIL)\r\nA9 STATUS INBOX (UIDNEXT)\r\nB1 AUTHENTICATE PLAIN =\r\n',
]
FRAGMENTS = [
    b"A1 ", b"UID ", b"FETCH ", b"SEARCH ", b"STORE ", b"APPEND ", b"LOGIN ", b"LIST ", b"(",
    b")", b"[", b"]", b"<", b">", b"{3}\r\n", b"{0+}\r\n", b"{x}\r\n", b"\r\n", b"\n", b"*",
    b":", b"1", b"0", b",", b'"', b"\\", b" ", b"OR ", b"NOT ", b"BODY", b".PEEK", b"HEADER",
    b".FIELDS", b"\xff", b"\xc3\xa9", b"\x00", b"$", b"+FLAGS", b"SINCE 1-Jan-2024",
    b"CHANGEDSINCE 5", b"VANISHED", b"INBOX", b"NIL", b"QRESYNC", b"RETURN",
]


def drain(reader: CommandReader) -> list[ReaderEvent]:
    out: list[ReaderEvent] = []
    while (event := reader.next_event()) is not None:
        out.append(event)
    return out


def check_stream(data: bytes, cuts: list[int], *, max_line: int = 200,
                 max_literal: int = 50) -> list[ReaderEvent]:
    reader = CommandReader(commands=COMMANDS, max_line=max_line, max_literal=max_literal)
    events: list[ReaderEvent] = []
    start = 0
    for cut in [*sorted({c % (len(data) + 1) for c in cuts}), len(data)]:
        reader.feed(data[start:cut])
        start = cut
        events.extend(drain(reader))
    end = reader.eof()
    if end is not None:
        events.append(end)
    for event in events:
        assert isinstance(event, Command | ContinuationRequest | RawLine | Malformed | Fatal
                          | CutMidLiteral)
        if isinstance(event, Malformed | Fatal):
            assert isinstance(event.error, ProtocolError)
            assert "internal parser error" not in event.error.text, event.error.text
            assert "\n" not in event.error.response(event.error.tag or "*")[:-2].decode()
    return events


@FUZZ
@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=6))
def test_random_bytes_only_become_events(data: bytes, cuts: list[int]) -> None:
    check_stream(data, cuts)


@FUZZ
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40), st.lists(st.integers(0, 400),
                                                                     max_size=4))
def test_imap_shaped_noise_only_becomes_events(parts: list[bytes], cuts: list[int]) -> None:
    check_stream(b"".join(parts), cuts)


@FUZZ
@given(st.sampled_from(VALID), st.data())
def test_mutated_valid_commands_only_become_events(base: bytes, data: st.DataObject) -> None:
    mutated = bytearray(base)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(mutated)))
        action = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = data.draw(st.sampled_from(b' ()[]{}<>"\\*:,.+-0159AZaz\r\n\x00\xff'))
        if action == "insert":
            mutated.insert(pos, byte)
        elif pos < len(mutated):
            if action == "delete":
                del mutated[pos]
            else:
                mutated[pos] = byte
    check_stream(bytes(mutated), data.draw(st.lists(st.integers(0, 400), max_size=4)))


@FUZZ
@given(st.lists(st.sampled_from(VALID), min_size=1, max_size=5), st.lists(st.integers(0, 2000),
                                                                           max_size=8))
def test_chunking_never_changes_the_events(commands: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(commands)
    whole = check_stream(stream, [], max_line=1000, max_literal=1000)
    split = check_stream(stream, cuts, max_line=1000, max_literal=1000)
    assert split == whole
    expected = sum(c.count(b"\n") - c.count(b"}\r\n") for c in commands)
    assert sum(isinstance(e, Command) for e in whole) == expected


# -- round trip: generated structures -> wire bytes -> the same structures ------------

ATOM_CHARS = "abcXYZ019-_.$&'+!#;=?@~^`|"
texts = st.one_of(
    st.text('ab "\\{}()*%]\r', max_size=8),  # the characters quoting and framing care about
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)
keywords = st.text("abcxyzABC$_", min_size=1, max_size=8)
system_flags = st.sampled_from(["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"])
numbers = st.integers(1, 0xFFFF_FFFF)
modseqs = st.integers(1, (1 << 63) - 1)


def quote(text: str) -> bytes:
    return b'"' + text.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'


def literal(data: bytes) -> bytes:
    return b"{%d+}\r\n" % len(data) + data


@st.composite
def astrings(draw: st.DrawFn, values: st.SearchStrategy[str] = texts) -> tuple[str, bytes]:
    """A value and one valid wire spelling of it (atom, quoted or literal)."""
    value = draw(values)
    forms = [literal(value.encode())]
    if value.isprintable() and all(c not in "\r\n" for c in value) and value.isascii():
        forms.append(quote(value))
    if value and all(c in ATOM_CHARS for c in value):
        forms.append(value.encode())
    return value, draw(st.sampled_from(forms))


@st.composite
def sequence_sets(draw: st.DrawFn) -> tuple[SequenceSet, bytes]:
    ends = st.one_of(numbers, st.just(STAR))
    pairs = draw(st.lists(st.tuples(ends, st.one_of(st.none(), ends)), min_size=1, max_size=4))
    text = ",".join(
        ("*" if a == STAR else str(a)) + ("" if b is None else ":" + ("*" if b == STAR else str(b)))
        for a, b in pairs
    )
    return SequenceSet.parse(text), text.encode()


@st.composite
def fetch_attrs(draw: st.DrawFn) -> tuple[FetchAttr, bytes]:
    simple = ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE", "BODY",
              "RFC822", "RFC822.HEADER", "RFC822.TEXT", "MODSEQ"]
    kind = draw(st.sampled_from(["simple", "body", "binary", "binary.size"]))
    if kind == "simple":
        name = draw(st.sampled_from(simple))
        return FetchAttr(name), name.encode()
    parts = tuple(draw(st.lists(st.integers(1, 99), max_size=3)))
    text: str | None = None
    fields: tuple[str, ...] = ()
    if kind == "body":
        choices = ["HEADER", "TEXT", "HEADER.FIELDS", "HEADER.FIELDS.NOT"] + (["MIME"] if parts
                                                                                else [])
        text = draw(st.one_of(st.none(), st.sampled_from(choices)))
        if text and text.startswith("HEADER.FIELDS"):
            fields = tuple(draw(st.lists(st.text("ABCXYZ-", min_size=1, max_size=6), min_size=1,
                                         max_size=3)))
    section = Section(parts, text, fields)
    peek = draw(st.booleans()) and kind != "binary.size"
    partial = None
    if kind != "binary.size" and draw(st.booleans()):
        partial = (draw(st.integers(0, 10**6)), draw(st.integers(1, 10**6)))
    name = {"body": "BODY", "binary": "BINARY", "binary.size": "BINARY.SIZE"}[kind]
    wire = f"{name}{'.PEEK' if peek else ''}[{section.label}]"
    if partial:
        wire += f"<{partial[0]}.{partial[1]}>"
    return FetchAttr(name, section, partial, peek), wire.encode()


def search_leaves() -> st.SearchStrategy[tuple[SearchKey, bytes]]:
    flag_keys = st.sampled_from(sorted(FLAG_KEYS)).map(
        lambda k: (Flag(*FLAG_KEYS[k]), k.encode())
    )
    keyword = st.tuples(keywords, st.booleans()).map(
        lambda kp: (Flag(kp[0], kp[1]), f"{'KEYWORD' if kp[1] else 'UNKEYWORD'} {kp[0]}".encode())
    )
    header = st.tuples(st.sampled_from(["FROM", "TO", "CC", "BCC", "SUBJECT"]), astrings()).map(
        lambda h: (Header(h[0], h[1][0], address=h[0] != "SUBJECT"),
                   h[0].encode() + b" " + h[1][1])
    )
    any_header = st.tuples(st.text("ABCXYZ-", min_size=1, max_size=8), astrings()).map(
        lambda h: (Header(h[0], h[1][0]), b"HEADER " + h[0].encode() + b" " + h[1][1])
    )
    text = st.tuples(st.sampled_from(["BODY", "TEXT"]), astrings()).map(
        lambda t: (Text(t[0], t[1][0]), t[0].encode() + b" " + t[1][1])  # type: ignore[arg-type]
    )
    date = st.tuples(st.sampled_from(["SINCE", "BEFORE", "ON"]), st.booleans(),
                     st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))).map(
        lambda d: (
            Date(d[0], d[2], d[1]),  # type: ignore[arg-type]
            f"{'SENT' if d[1] else ''}{d[0]} {d[2].day}-{MONTHS[d[2].month - 1]}-{d[2].year}"
            .encode(),
        )
    )
    size = st.tuples(st.sampled_from(["LARGER", "SMALLER"]), st.integers(0, 10**12)).map(
        lambda s: (Size(s[0], s[1]), f"{s[0]} {s[1]}".encode())  # type: ignore[arg-type]
    )
    uid = sequence_sets().map(lambda s: (UidSet(s[0]), b"UID " + s[1]))
    seq = sequence_sets().map(lambda s: (SeqSet(s[0]), s[1]))
    modseq = st.tuples(modseqs, st.booleans()).map(
        lambda m: (ModSeq(m[0], "/flags/\\seen", "priv"), b'MODSEQ "/flags/\\\\seen" priv %d'
                   % m[0]) if m[1] else (ModSeq(m[0]), b"MODSEQ %d" % m[0])
    )
    return st.one_of(flag_keys, keyword, header, any_header, text, date, size, uid, seq, modseq)


def search_keys() -> st.SearchStrategy[tuple[SearchKey, bytes]]:
    def extend(children: st.SearchStrategy[tuple[SearchKey, bytes]]
               ) -> st.SearchStrategy[tuple[SearchKey, bytes]]:
        return st.one_of(
            children.map(lambda c: (Not(c[0]), b"NOT " + c[1])),
            st.tuples(children, children).map(
                lambda p: (Or(p[0][0], p[1][0]), b"OR " + p[0][1] + b" " + p[1][1])
            ),
            st.lists(children, min_size=2, max_size=3).map(
                lambda ks: (And(tuple(k for k, _ in ks)), b"(" + b" ".join(w for _, w in ks)
                            + b")")
            ),
        )

    return st.recursive(search_leaves(), extend, max_leaves=6)


def parse_wire(wire: bytes) -> Command:
    reader = CommandReader(commands=COMMANDS)
    reader.feed(wire + b"\r\n")
    events = drain(reader)
    assert len(events) == 1, events
    assert isinstance(events[0], Command), events[0]
    return events[0]


@FUZZ
@given(sequence_sets(), st.lists(fetch_attrs(), min_size=1, max_size=5),
       st.one_of(st.none(), st.integers(0, (1 << 63) - 1)))
def test_fetch_round_trip(seq: tuple[SequenceSet, bytes], attrs: list[tuple[FetchAttr, bytes]],
                          changed: int | None) -> None:
    wire = b"F1 FETCH " + seq[1] + b" (" + b" ".join(w for _, w in attrs) + b")"
    if changed is not None:
        wire += b" (CHANGEDSINCE %d)" % changed
    command = parse_wire(wire)
    assert command.args == FetchArgs(seq[0], tuple(a for a, _ in attrs), changed)


@FUZZ
@given(st.lists(search_keys(), min_size=1, max_size=3), st.booleans())
def test_search_round_trip(keys: list[tuple[SearchKey, bytes]], uid: bool) -> None:
    wire = (b"S1 UID SEARCH " if uid else b"S1 SEARCH ") + b" ".join(w for _, w in keys)
    command = parse_wire(wire)
    expected = keys[0][0] if len(keys) == 1 else And(tuple(k for k, _ in keys))
    assert command.uid == uid and command.args == SearchArgs(expected)


@FUZZ
@given(sequence_sets(), st.sampled_from(list(StoreMode)), st.booleans(),
       st.lists(st.one_of(system_flags, keywords), max_size=4),
       st.one_of(st.none(), st.integers(0, (1 << 63) - 1)))
def test_store_round_trip(seq: tuple[SequenceSet, bytes], mode: StoreMode, silent: bool,
                          flags: list[str], unchanged: int | None) -> None:
    wire = b"S2 STORE " + seq[1]
    if unchanged is not None:
        wire += b" (UNCHANGEDSINCE %d)" % unchanged
    wire += f" {mode.value}FLAGS{'.SILENT' if silent else ''} ({' '.join(flags)})".encode()
    assert parse_wire(wire).args == StoreArgs(seq[0], mode, tuple(flags), silent, unchanged)


@FUZZ
@given(astrings(), st.one_of(st.none(), st.tuples(numbers, modseqs,
                                                     st.one_of(st.none(), sequence_sets()))),
       st.booleans(), sequence_sets())
def test_select_and_copy_round_trip(
    mailbox: tuple[str, bytes],
    qresync: tuple[int, int, tuple[SequenceSet, bytes] | None] | None,
    condstore: bool,
    seq: tuple[SequenceSet, bytes],
) -> None:
    name = "INBOX" if mailbox[0].upper() == "INBOX" else mailbox[0]
    wire = b"S3 SELECT " + mailbox[1]
    if qresync is not None:
        uv, ms, known = qresync
        wire += b" (QRESYNC (%d %d" % (uv, ms) + (b" " + known[1] if known else b"") + b"))"
        expected = SelectArgs(name, True, QResync(uv, ms, known[0] if known else None))
    elif condstore:
        wire += b" (CONDSTORE)"
        expected = SelectArgs(name, True)
    else:
        expected = SelectArgs(name)
    assert parse_wire(wire).args == expected
    assert parse_wire(b"S4 UID COPY " + seq[1] + b" " + mailbox[1]).args == CopyArgs(seq[0], name)


@FUZZ
@given(sequence_sets(), st.integers(0, 60), st.integers(1, 70))
def test_sequence_set_contains_agrees_with_resolve(
    seq: tuple[SequenceSet, bytes], max_value: int, n: int
) -> None:
    small = SequenceSet.parse(  # fold big numbers into a range the probe can reach
        ",".join(
            ":".join(p if p == "*" else str(int(p) % 64 + 1) for p in element.split(":"))
            for element in seq[1].decode().split(",")
        )
    )
    members = {v for lo, hi in small.resolve(max_value) for v in range(lo, hi + 1)}
    assert small.contains(n, max_value) == (n in members)
