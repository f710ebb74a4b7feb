"""Bad input never crashes the diagnostics: redaction, line assembly, from-trace (seeded)."""

from __future__ import annotations

import tomllib

from hypothesis import given, seed, settings
from hypothesis import strategies as st

from inboxlab.engine.diag.redact import Redactor
from inboxlab.engine.diag.tracefile import LineAssembler, Record
from inboxlab.harness.fromtrace import scenario_from_trace

LINES = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["a1 LOGIN u p", "a2 AUTHENTICATE PLAIN", "* BYE [X] y", "a1 NO [Z] w",
                     "* LIST () \"/\" \"&-\"", "* 3 EXISTS", "a3 UID FETCH 1:* (FLAGS)",
                     "AUTH LOGIN", "334 x", "* STATUS \"a\" (MESSAGES 5)", "a9 SELECT \"b\""]),
)


@seed(1)
@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), LINES), max_size=30))
def test_the_redactor_takes_any_line(lines: list[tuple[bool, str]]) -> None:
    r = Redactor(["secret-pw"], bodies=False)
    for from_client, line in lines:
        out = r.client(line) if from_client else r.server(line)
        assert "secret-pw" not in out


@seed(2)
@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(1, 50), max_size=20))
def test_the_assembler_is_independent_of_how_bytes_are_cut(data: bytes, cuts: list[int]) -> None:
    whole = LineAssembler().feed(data)
    a, pos, got = LineAssembler(), 0, []
    for n in cuts:
        got += a.feed(data[pos:pos + n])
        pos += n
    got += a.feed(data[pos:])
    assert got == whole


KINDS = st.sampled_from(["line", "reset", "eof", "client_closed", "open"])


@seed(3)
@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), KINDS, st.sampled_from([">", "<"]), LINES,
                          st.integers(0, 100), st.booleans()), max_size=30))
def test_from_trace_always_writes_valid_toml(
        raw: list[tuple[int, str, str, str, int, bool]]) -> None:
    records = [Record(0.0, conn, kind, dir=d, text=text, partial=partial, waiting=waiting)
               for conn, kind, d, text, partial, waiting in raw]
    data = tomllib.loads(scenario_from_trace(records))
    assert data["accounts"][0]["folders"][0]["name"]
