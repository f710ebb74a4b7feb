"""SORT (RFC 5256, RFC 5957 DISPLAYFROM/DISPLAYTO) and THREAD: Dovecot and the fake agree
(issue 14, "then SORT and THREAD=REFERENCES/ORDEREDSUBJECT").

Fourteen messages built to meet the rules where servers could differ: a missing and an
unparseable Date (the INTERNALDATE stands in), zones, an encoded-word and an empty
display name, a group as the first To, subjects with Re:/Fwd:/[blob]/(fwd)/[fwd: ...],
a duplicate Message-ID, references to absent messages, an In-Reply-To only, and a
References loop.
"""

from __future__ import annotations

import pytest
from diff_sessions import both
from dovecot import DovecotHandle

pytestmark = [pytest.mark.dovecot, pytest.mark.interop]

_HEADERS = [
    'Date: Mon, 5 Feb 2024 10:00:00 +0000\r\nFrom: "Zed" <zed@a.com>\r\nTo: bob@b.com\r\n'
    "Subject: Hello\r\nMessage-ID: <1@x>",
    'Date: Mon, 5 Feb 2024 09:00:00 +0000\r\nFrom: alice@a.com\r\nTo: "Yves" <yves@b.com>\r\n'
    "Subject: Re: Hello\r\nMessage-ID: <2@x>\r\nIn-Reply-To: <1@x>\r\nReferences: <1@x>",
    "Date: Mon, 5 Feb 2024 10:30:00 +0100\r\nFrom: =?UTF-8?Q?=C3=89mile?= <emile@c.com>\r\n"
    "Cc: zz@c.com\r\nSubject: [list] Re: Hello\r\nMessage-ID: <3@x>\r\nReferences: <1@x> <2@x>",
    'From: "bob" <Bob@d.com>\r\nSubject: Fwd: Other (fwd)\r\nMessage-ID: <4@x>',
    "Date: garbage\r\nFrom: carl@e.com\r\nSubject: other\r\nMessage-ID: <5@x>\r\n"
    "References: <missing@x>",
    "Date: Tue, 6 Feb 2024 08:00:00 -0500\r\nFrom: Dana <dana@f.com>\r\n"
    "Subject: Re: re: RE: [fwd: Another]\r\nMessage-ID: <6@x>\r\nReferences: <missing@x> <5@x>",
    "Date: Sun, 4 Feb 2024 08:00:00 +0000\r\nFrom: erin@g.com\r\nSubject: Another\r\n"
    "Message-ID: <7@x>\r\nReferences: <missing2@x>",
    "Date: Sat, 3 Feb 2024 08:00:00 +0000\r\nFrom: frank@h.com\r\nSubject: \r\n"
    "Message-ID: <1@x>",
    "Date: Sat, 3 Feb 2024 09:00:00 +0000\r\nFrom: Gus <gus@i.com>\r\nTo: group: a@b.com;\r\n"
    "Cc: c@d.com\r\nSubject:   Spaces   in  subject  \r\nMessage-ID: <9@x>",
    "Date: Sun, 4 Feb 2024 09:00:00 +0000\r\nFrom: _under@j.com\r\nSubject: Re: Another\r\n"
    "Message-ID: <10@x>\r\nIn-Reply-To: <7@x>",
    "Date: Wed, 7 Feb 2024 09:00:00 +0000\r\nFrom: hal@k.com\r\nSubject: loop a\r\n"
    "Message-ID: <11@x>\r\nReferences: <12@x>",
    "Date: Wed, 7 Feb 2024 10:00:00 +0000\r\nFrom: ida@k.com\r\nSubject: loop b\r\n"
    "Message-ID: <12@x>\r\nReferences: <11@x>",
    "Date: Thu, 8 Feb 2024 10:00:00 +0000\r\nFrom: Hello There <ht@k.com>\r\n"
    "Subject: Re: [fwd: Hello]\r\nMessage-ID: <13@x>",
    'Date: Thu, 8 Feb 2024 11:00:00 +0000\r\nFrom: "" <empty@k.com>\r\nSubject: Hello\r\n'
    "Message-ID: <14@x>\r\nReferences: <nothere@x>",
]
_CRITERIA = ["ARRIVAL", "DATE", "REVERSE DATE", "FROM", "TO", "CC", "SUBJECT", "SIZE",
             "DISPLAYFROM", "DISPLAYTO", "SUBJECT DATE", "REVERSE SUBJECT REVERSE ARRIVAL",
             "SIZE REVERSE DATE", "CC FROM"]


def _appends() -> list[tuple[int, str, bytes]]:
    """One APPEND each, INTERNALDATEs in January in message order, sizes that vary."""
    out = []
    for n, header in enumerate(_HEADERS, 1):
        raw = f"{header}\r\n\r\n{'x' * (n * 7 % 5)}body\r\n".encode()
        out.append((0, f"append {n}", b'APPEND INBOX "%02d-Jan-2024 12:00:00 +0000" {%d+}\r\n%s'
                    % (n, len(raw), raw)))
    return out


async def test_sort_and_thread_as_dovecot(dovecot: DovecotHandle) -> None:
    steps = [*_appends(), (0, "select", b"SELECT INBOX"),
             *((0, f"sort {c}", b"SORT (%s) UTF-8 ALL" % c.encode()) for c in _CRITERIA),
             (0, "uid sort", b"UID SORT (DATE) UTF-8 ALL"),
             (0, "sort searched", b"SORT (DATE) UTF-8 FROM a.com"),
             (0, "sort us-ascii", b"SORT (SUBJECT) US-ASCII ALL"),
             (0, "sort empty", b"SORT () UTF-8 ALL"), (0, "sort bad", b"SORT (BOGUS) UTF-8 ALL"),
             (0, "sort reverse only", b"SORT (REVERSE) UTF-8 ALL"),
             (0, "thread orderedsubject", b"THREAD ORDEREDSUBJECT UTF-8 ALL"),
             (0, "thread references", b"THREAD REFERENCES UTF-8 ALL"),
             (0, "uid thread", b"UID THREAD REFERENCES UTF-8 ALL"),
             (0, "thread searched", b"THREAD REFERENCES UTF-8 SUBJECT hello"),
             (0, "thread os searched", b"THREAD ORDEREDSUBJECT UTF-8 SUBJECT hello"),
             (0, "thread bad", b"THREAD BOGUS UTF-8 ALL"),
             (0, "store", b"STORE 1:3 +FLAGS.SILENT (\\Deleted)"), (0, "expunge", b"EXPUNGE"),
             (0, "uid sort after expunge", b"UID SORT (REVERSE FROM) UTF-8 ALL"),
             (0, "thread after expunge", b"THREAD REFERENCES UTF-8 ALL")]
    dove, _fake = await both(dovecot, steps)
    at = {name.split(" ", 2)[2]: value for name, value in dove.items()}
    assert at["sort DATE"]["untagged"]["SORT"] == [[4, 5, 8, 9, 7, 10, 2, 3, 1, 6, 11, 12, 13, 14]]
    assert at["sort FROM"]["untagged"]["SORT"] == [[2, 4, 5, 6, 3, 14, 7, 8, 9, 11, 13, 12, 1,
                                                    10]]
    assert at["sort SUBJECT"]["untagged"]["SORT"] == [[8, 6, 7, 10, 1, 2, 3, 13, 14, 11, 12,
                                                       4, 5, 9]]
    assert at["thread references"]["untagged"]["THREAD"] == [[
        [5, [4], [6]], [8], [9], [7, 10], [[1, [2, 3], [13]], [14]], [12, 11]]]
    assert [at[k]["status"] for k in ("sort empty", "sort bad", "thread bad")] == ["BAD"] * 3
