"""Which limits a command's answer gets (sans-I/O: ``engine.imap.limits``)."""

from __future__ import annotations

import pytest

from inboxlab.engine.imap.client import HEADER_ITEMS
from inboxlab.engine.imap.commands import Atom
from inboxlab.engine.imap.limits import BODY, COMMAND, HEADERS, PRE_AUTH, for_command, widest
from inboxlab.engine.sync import FETCH_ITEMS


@pytest.mark.parametrize(("items", "expected"), [
    (("UID", "FLAGS"), None),
    (("UID", "RFC822.SIZE", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID REFERENCES)]"), HEADERS),
    (("UID", "BODY.PEEK[HEADER]"), HEADERS),
    (("UID", "BODY[1.MIME]", "RFC822.HEADER"), HEADERS),
    (("UID", "BODY.PEEK[]"), BODY),
    (("UID", "BODY.PEEK[HEADER]", "BODY.PEEK[1.2]"), BODY),
    (("RFC822",), BODY),
    (("BINARY.PEEK[2]",), BODY),
    (("UID", "BODYSTRUCTURE"), None),
])
def test_a_fetch_gets_the_limits_of_what_it_asks_for(items: tuple[str, ...],
                                                       expected: object) -> None:
    args = ("1:*", tuple(Atom(i) for i in items))
    assert for_command("UID FETCH", args) is expected


def test_the_scan_fetch_is_a_header_fetch_and_other_commands_add_nothing() -> None:
    assert for_command("UID FETCH", ("1:500", tuple(Atom(i) for i in FETCH_ITEMS))) is HEADERS
    assert for_command("UID FETCH", ("1:500", Atom(HEADER_ITEMS))) is HEADERS
    assert for_command("SELECT", ("INBOX",)) is None
    assert for_command("SEARCH", (Atom("BODY"), "x")) is None


def test_the_widest_in_flight_wins_and_contexts_nest() -> None:
    assert widest(COMMAND, [None, HEADERS, BODY, HEADERS]) is BODY
    assert widest(COMMAND, [None]) is COMMAND
    for small, big in ((PRE_AUTH, COMMAND), (COMMAND, HEADERS), (HEADERS, BODY)):
        assert big.covers(small) and not small.covers(big)
