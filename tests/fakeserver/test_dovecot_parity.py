"""Regressions found by the differential test against Dovecot (tests/interop/test_differential).

Each test pins one behaviour where the fake server used to answer differently from Dovecot
2.3 and from the RFC; sans-I/O, so they run where Dovecot is not installed.
"""

from __future__ import annotations

import re
from dataclasses import replace

from inboxlab.fakeserver import render

FETCH_MODSEQ = re.compile(rb"\* (\d+) FETCH \(UID (\d+) MODSEQ \((\d+)\)\)\r\n")


def _inbox(lab):
    return lab.store.accounts["user@example.com"].folder("INBOX")


def test_silent_store_with_unchangedsince_still_reports_the_new_modseq(lab) -> None:
    """RFC 7162 3.1.3: after UNCHANGEDSINCE the FETCH with MODSEQ MUST be sent even with
    .SILENT, or the client's cache keeps a stale MODSEQ."""
    folder = _inbox(lab)
    d = lab.driver(select="INBOX (CONDSTORE)")
    base = folder.highestmodseq
    out = d.send(f"s UID STORE 4,6 (UNCHANGEDSINCE {base}) +FLAGS.SILENT (\\Deleted)")
    found = FETCH_MODSEQ.findall(out)
    assert [(int(seq), int(uid)) for seq, uid, _m in found] == [(4, 4), (6, 6)]
    assert [int(m) for _s, _u, m in found] == [folder.modseq(4), folder.modseq(6)]
    assert all(int(m) > base for _s, _u, m in found)
    assert b"FLAGS" not in out  # still silent about the flags themselves
    assert out.endswith(b"s OK STORE completed\r\n")


def test_silent_store_under_condstore_reports_modseq_only_for_changed_messages(lab) -> None:
    folder = _inbox(lab)
    seen = next(uid for uid in folder.uids() if "\\Seen" in folder.flags(uid))
    unseen = next(uid for uid in folder.uids() if "\\Seen" not in folder.flags(uid))
    d = lab.driver(select="INBOX (CONDSTORE)")
    out = d.send(f"s UID STORE {seen},{unseen} +FLAGS.SILENT (\\Seen)")
    assert [int(uid) for _s, uid, _m in FETCH_MODSEQ.findall(out)] == [unseen]


def test_silent_store_without_condstore_stays_silent(lab) -> None:
    d = lab.driver(select="INBOX")
    out = d.send("s UID STORE 1:3 +FLAGS.SILENT (\\Flagged)")
    assert out == b"s OK STORE completed\r\n"


def test_select_reports_the_first_unseen_message(lab) -> None:
    """RFC 3501 6.3.1: [UNSEEN n] is the sequence number of the first unseen message."""
    folder = _inbox(lab)
    first = next(seq for seq, uid in enumerate(folder.uids(), 1)
                 if "\\Seen" not in folder.flags(uid))
    d = lab.driver()
    out = d.send("s SELECT INBOX")
    assert b"* OK [UNSEEN %d] " % first in out
    assert out.index(b"[UNSEEN") < out.index(b"s OK")
    d.send("a STORE 1:* +FLAGS.SILENT (\\Seen)")
    out = d.send("e EXAMINE INBOX")  # every message seen: no UNSEEN code at all
    assert b"[UNSEEN" not in out and out.endswith(b"e OK [READ-ONLY] EXAMINE completed\r\n")


def _nested(gap: bytes) -> bytes:
    return (b"Content-Type: multipart/mixed; boundary=mix\r\n\r\n--mix\r\n"
            b"Content-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\n"
            b"Content-Type: text/plain\r\n\r\nplain\r\n--alt--\r\n" + gap
            + b"--mix\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--mix--\r\n")


def test_nested_multipart_section_ends_with_its_close_delimiter_line() -> None:
    """BODY[1] of a multipart inside a multipart ends with ``--alt--`` and one line
    break, whether or not a blank line follows before the outer delimiter (Dovecot 2.3)."""
    for gap in (b"", b"\r\n"):
        part = render.section(_nested(gap), (1,))
        assert part.endswith(b"plain\r\n--alt--\r\n") and not part.endswith(b"\r\n\r\n"), gap
        assert render.section(_nested(gap), (2,)) == b"second"


def test_keywords_are_announced_in_flags_at_select_and_when_new(lab) -> None:
    """Dovecot lists a folder's keywords in FLAGS/PERMANENTFLAGS at SELECT, and sends both
    again when this session's STORE or APPEND brings a new keyword in."""
    d = lab.driver(select="INBOX")
    out = d.send("s UID STORE 1 +FLAGS ($Work)")
    assert out.startswith(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)\r\n"
                          b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
                          b"\\Draft $Work \\*)] ")
    assert b"* 1 FETCH (UID 1 FLAGS (" in out
    out = d.send("t UID STORE 2 +FLAGS ($Work)")  # known keyword: no new announcement
    assert b"* FLAGS" not in out
    body = b"Subject: x\r\n\r\nx\r\n"
    out = d.send(b"a APPEND INBOX ($Label1) {%d+}\r\n%s" % (len(body), body))
    assert b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1 $Work)\r\n" in out
    out = d.send("e EXAMINE INBOX")
    assert b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1 $Work)\r\n" in out
    assert b"* OK [PERMANENTFLAGS ()] " in out
    out = lab.driver().send(b"b APPEND Sent ($Other) {%d+}\r\n%s" % (len(body), body))
    assert b"* FLAGS" not in out  # nothing is selected there: nobody to tell


def test_header_fields_of_a_message_without_a_blank_line() -> None:
    """Dovecot 2.3: HEADER.FIELDS always ends with the blank line; .NOT and HEADER cut the
    header as it is, so a message that has none gets none."""
    raw = b"From: a@example.com\r\nSubject: s\r\n"
    assert render.header_fields(raw, ["from"]) == b"From: a@example.com\r\n\r\n"
    assert render.header_fields(raw, ["x-none"]) == b"\r\n"
    assert render.header_fields(raw, ["from"], negate=True) == b"Subject: s\r\n"
    assert render.section(raw, (), "HEADER") == raw


def _appended_twice(lab) -> tuple[bytes, bytes]:
    body = b"Subject: new\r\n\r\nnew\r\n"
    lab.driver().send(b"a APPEND INBOX {%d+}\r\n%s" % (len(body), body))
    first, second = lab.driver(), lab.driver()
    return first.send("s SELECT INBOX"), second.send("s SELECT INBOX")


def test_recent_goes_to_the_first_session_only(lab) -> None:
    """RFC 3501 2.3.2 (Dovecot's default; the differential test checks it against Dovecot):
    starting contents are nobody's \\Recent, a new message is the first selector's."""
    first, second = _appended_twice(lab)
    assert b"* 1 RECENT\r\n" in first and b"* 0 RECENT\r\n" in second


def test_a_profile_without_recent_never_sets_it(lab) -> None:
    """``recent = false`` in a profile (ServerConfig.recent): RECENT is always 0."""
    first, second = _appended_twice(type(lab)(replace(lab.config, recent=False)))
    assert b"* 0 RECENT\r\n" in first and b"* 0 RECENT\r\n" in second
