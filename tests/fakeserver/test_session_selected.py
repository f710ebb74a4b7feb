"""Sans-I/O tests of the selected state: FETCH, STORE, SEARCH, COPY/MOVE, EXPUNGE, and
what one session sees of another's changes (sequence numbers never move under a client).
"""

from __future__ import annotations

import re

from inboxlab.fakeserver.imap import responses as r


def _inbox(lab):
    return lab.store.accounts["user@example.com"].folder("INBOX")


def test_fetch_basic_items_match_the_store(lab) -> None:
    d = lab.driver(select="INBOX")
    folder = _inbox(lab)
    out = d.send("f FETCH 2 (UID FLAGS RFC822.SIZE INTERNALDATE)")
    expected = b"* 2 FETCH (UID 2 FLAGS %b RFC822.SIZE %d INTERNALDATE %b)\r\n" % (
        r.flag_list(folder.flags(2)), folder.size(2),
        # an independent oracle: strftime, not the server's formatter (C locale month names)
        folder.internaldate(2).strftime('"%d-%b-%Y %H:%M:%S %z"').encode())
    assert out == expected + b"f OK FETCH completed\r\n"


def test_uid_fetch_always_includes_uid_and_star_means_highest(lab) -> None:
    d = lab.driver(select="INBOX")
    out = d.send("f UID FETCH 19:* FLAGS")
    assert re.findall(rb"\* (\d+) FETCH \(.*UID (\d+)", out) == [(b"19", b"19"), (b"20", b"20")]
    out = d.send("g UID FETCH 900:* FLAGS")  # RFC 3501: n:* includes the last message
    assert re.findall(rb"UID (\d+)", out) == [b"20"]


def test_body_sections_partials_and_header_fields_fast_path(lab) -> None:
    d = lab.driver(select="INBOX")
    raw = _inbox(lab).raw(3)
    out = d.send("f FETCH 3 (BODY.PEEK[])")
    assert out == b"* 3 FETCH (BODY[] {%d}\r\n%b)\r\nf OK FETCH completed\r\n" % (len(raw), raw)
    out = d.send("g FETCH 3 (BODY.PEEK[]<10.20>)")
    assert b"BODY[]<10> {20}\r\n" + raw[10:30] + b")" in out
    out = d.send("h FETCH 3 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    subject = next(line for line in raw.split(b"\r\n") if line.startswith(b"Subject:"))
    assert b"BODY[HEADER.FIELDS (SUBJECT)] {%d}\r\n%b\r\n\r\n)" % (
        len(subject) + 4, subject) in out
    out = d.send("i FETCH 3 (RFC822.HEADER)")
    header = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    assert b"RFC822.HEADER {%d}\r\n%b)" % (len(header), header) in out


def test_non_peek_body_fetch_sets_seen_and_reports_flags(lab) -> None:
    folder = _inbox(lab)
    unseen = next(uid for uid in folder.uids() if "\\Seen" not in folder.flags(uid))
    d = lab.driver(select="INBOX")
    d.send(f"a UID FETCH {unseen} (BODY.PEEK[TEXT])")
    assert "\\Seen" not in folder.flags(unseen)
    out = d.send(f"b UID FETCH {unseen} (BODY[TEXT])")
    assert "\\Seen" in folder.flags(unseen)
    assert b"FLAGS (" in out and b"\\Seen" in out


def test_envelope_and_bodystructure_are_served(lab) -> None:
    d = lab.driver(select="INBOX")
    out = d.send("f FETCH 1 (ENVELOPE BODYSTRUCTURE)")
    assert out.startswith(b"* 1 FETCH (ENVELOPE (") and b" BODYSTRUCTURE (" in out
    assert out.endswith(b"f OK FETCH completed\r\n")


def test_store_flags_silent_and_unchangedsince(lab) -> None:
    d = lab.driver(select="INBOX")
    folder = _inbox(lab)
    out = d.send("a STORE 1:2 +FLAGS (\\Flagged)")
    assert out.count(b" FETCH (UID ") == 2 and b"\\Flagged" in out
    assert d.send("b STORE 3 +FLAGS.SILENT (\\Flagged)") == b"b OK STORE completed\r\n"
    assert "\\Flagged" in folder.flags(3)
    d.send("c STORE 3 -FLAGS.SILENT (\\Flagged)")
    assert "\\Flagged" not in folder.flags(3)
    old = folder.modseq(4)
    d.send("d STORE 4 +FLAGS.SILENT ($Work)")
    out = d.send(f"e UID STORE 4,5 (UNCHANGEDSINCE {old}) +FLAGS.SILENT (\\Answered)")
    # RFC 7162 3.1.3 (its example d105): the stored one still reports its new MODSEQ
    # ... and, CONDSTORE coming on with it, the HIGHESTMODSEQ (RFC 7162 3.1, as Dovecot)
    assert out == (b"* 5 FETCH (UID 5 MODSEQ (%d))\r\n" % folder.modseq(5)
                   + b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % folder.highestmodseq
                   + b"e OK [MODIFIED 4] Conditional STORE failed\r\n")
    assert "\\Answered" not in folder.flags(4) and "\\Answered" in folder.flags(5)


def test_fetch_modseq_and_changedsince(lab) -> None:
    d = lab.driver(select="INBOX")
    folder = _inbox(lab)
    base = folder.highestmodseq
    d.send("a STORE 7 +FLAGS.SILENT (\\Flagged)")
    out = d.send(f"b UID FETCH 1:* (FLAGS) (CHANGEDSINCE {base})")
    assert re.findall(rb"\* (\d+) FETCH", out) == [b"7"]
    assert b"MODSEQ (%d)" % folder.modseq(7) in out


def test_search_keys(lab) -> None:
    d = lab.driver(select="INBOX")
    folder = _inbox(lab)

    def found(text: str) -> list[int]:
        out = d.send(f"s {text}")
        assert out.endswith(b"s OK SEARCH completed\r\n"), out
        line = out.split(b"\r\n")[0]
        return [int(n) for n in re.findall(rb"\d+", line.split(b"(MODSEQ")[0])]

    seen = [u for u in folder.uids() if "\\Seen" in folder.flags(u)]
    assert found("SEARCH SEEN") == seen
    assert found("SEARCH UNSEEN") == [u for u in folder.uids() if u not in seen]
    assert found("SEARCH ALL") == list(range(1, 21))
    assert found("UID SEARCH UID 5:8 NOT SEEN") == [u for u in range(5, 9) if u not in seen]
    assert found("SEARCH OR 1 3") == [1, 3]
    assert found("SEARCH 2:4 LARGER 1") == [2, 3, 4]
    subject = folder.headers(6)["subject"][0]
    word = subject.split()[-1]
    expected = [u for u in folder.uids() if word.lower() in folder.headers(u)["subject"][0].lower()]
    assert found(f'SEARCH SUBJECT "{word}"') == expected
    d.send("a STORE 9 +FLAGS.SILENT (\\Deleted)")
    modseq = folder.modseq(9)
    out = d.send(f"m SEARCH MODSEQ {modseq}")
    assert out == (b"* SEARCH 9 (MODSEQ %d)\r\n* OK [HIGHESTMODSEQ %d] Highest\r\n"
                   b"m OK SEARCH completed\r\n" % (modseq, _inbox(lab).highestmodseq))
    assert d.send("c SEARCH CHARSET KOI8-R ALL").startswith(b"c NO [BADCHARSET")


def test_copy_and_move_report_copyuid(lab) -> None:
    d = lab.driver(select="INBOX")
    trash = lab.store.accounts["user@example.com"].folder("Trash")
    out = d.send("c COPY 1:2 Trash")
    assert out == f"c OK [COPYUID {trash.uidvalidity} 1:2 1:2] COPY completed\r\n".encode()
    out = d.send("m UID MOVE 5 Trash")
    assert out == (f"* OK [COPYUID {trash.uidvalidity} 5 3] Moved UIDs\r\n"
                   "* 5 EXPUNGE\r\nm OK MOVE completed\r\n").encode()
    assert len(_inbox(lab)) == 19 and len(trash) == 3
    assert d.send("n COPY 1 Nowhere").startswith(b"n NO [TRYCREATE]")


def test_expunge_reports_decreasing_sequence_numbers(lab) -> None:
    d = lab.driver(select="INBOX")
    d.send("a STORE 2,3,7 +FLAGS.SILENT (\\Deleted)")
    # 2 goes first; 3 has become 2; 7 has become 5.
    assert d.send("e EXPUNGE") == (
        b"* 2 EXPUNGE\r\n* 2 EXPUNGE\r\n* 5 EXPUNGE\r\ne OK EXPUNGE completed\r\n")
    d.send("b STORE 1,2 +FLAGS.SILENT (\\Deleted)")
    assert d.send("u UID EXPUNGE 4") == b"* 2 EXPUNGE\r\nu OK EXPUNGE completed\r\n"
    assert _inbox(lab).uids().tolist()[:3] == [1, 5, 6]


def test_other_sessions_changes_wait_for_a_safe_moment(lab) -> None:
    a = lab.driver(select="INBOX")
    b = lab.driver(select="INBOX")
    b.send("x STORE 3 +FLAGS.SILENT (\\Deleted)")
    assert b.send("y EXPUNGE").startswith(b"* 3 EXPUNGE")
    b.send(b"z APPEND INBOX {3+}\r\nhi\r\n".rstrip(b"\r\n"))
    # During FETCH no EXPUNGE may reach A: its numbering still has 20 messages.
    out = a.send("f FETCH 20 (UID)")
    assert out.startswith(b"* 20 FETCH (UID 20)") and b"EXPUNGE" not in out
    assert b"* 21 EXISTS" in out  # EXISTS is allowed at any time
    out = a.send("n NOOP")
    assert out.startswith(b"* 3 EXPUNGE\r\n") and out.endswith(b"n OK NOOP completed\r\n")
    assert a.send("g FETCH 20 (UID)").startswith(b"* 20 FETCH (UID 21)")


def test_flag_changes_by_others_arrive_as_fetch(lab) -> None:
    a = lab.driver(select="INBOX")
    b = lab.driver(select="INBOX")
    b.send("x STORE 4 +FLAGS.SILENT (\\Flagged)")
    out = a.send("n NOOP")
    assert re.match(rb"\* 4 FETCH \(UID 4 FLAGS \([^)]*\\Flagged", out)


def test_qresync_select_reports_vanished_and_changes(lab) -> None:
    folder = _inbox(lab)
    a = lab.driver()
    a.send("e ENABLE QRESYNC")
    base = folder.highestmodseq
    b = lab.driver(select="INBOX")
    b.send("x STORE 10,11 +FLAGS.SILENT (\\Deleted)")
    b.send("y EXPUNGE")
    b.send("z UID STORE 12 +FLAGS.SILENT (\\Flagged)")
    out = a.send(f"s SELECT INBOX (QRESYNC ({folder.uidvalidity} {base}))")
    assert b"* VANISHED (EARLIER) 10:11\r\n" in out
    assert re.search(rb"\* 10 FETCH \(UID 12 FLAGS \([^)]*\\Flagged[^)]*\) MODSEQ", out)
    # Later expunges by others come as VANISHED, not EXPUNGE.
    b.send("w STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.send("v EXPUNGE")
    assert a.send("n NOOP").startswith(b"* VANISHED 1\r\n")


def test_close_expunges_silently_and_unselect_does_not(lab) -> None:
    d = lab.driver(select="INBOX")
    d.send("a STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert d.send("u UNSELECT") == b"u OK UNSELECT completed\r\n"
    assert len(_inbox(lab)) == 20
    d.send("s SELECT INBOX")
    assert d.send("c CLOSE") == b"c OK CLOSE completed\r\n"
    assert len(_inbox(lab)) == 19
    assert d.send("f FETCH 1 UID").startswith(b"f BAD ")


def test_bad_input_gets_bad_and_sessions_keep_working(lab) -> None:
    a = lab.driver(select="INBOX")
    b = lab.driver(select="INBOX")
    for bad in (b"a1 FETCH 1 (FLAGS", b"a2 FETCH 0:3 FLAGS", b"a3 FETCH 1:a FLAGS",
                b"a4 SELECT {abc}", b"a5 LOGIN \xff\xfe x", b"a6 FETCH 1 (FOO)",
                b"a7 STORE 1 FLAGS (", b"a8 SEARCH OR 1"):
        out = a.send(bad)
        tag = bad.split(b" ")[0]
        assert out.startswith(tag + b" BAD ") or out.startswith(b"* BAD "), (bad, out)
    huge = a.send(b"a9 APPEND INBOX {999999999999}")
    assert huge.startswith(b"a9 BAD ") and b"+ " not in huge
    assert a.send("ok NOOP") == b"ok OK NOOP completed\r\n"
    assert b.send("ok NOOP") == b"ok OK NOOP completed\r\n"
    assert len(_inbox(lab)) == 20


def test_uid_fetch_changedsince_vanished_under_qresync(lab) -> None:
    folder = _inbox(lab)
    a = lab.driver()
    a.send("e ENABLE QRESYNC")
    a.send("s SELECT INBOX")
    base = folder.highestmodseq
    b = lab.driver(select="INBOX")
    b.send("x UID STORE 4 +FLAGS.SILENT (\\Deleted)")
    b.send("y EXPUNGE")
    b.send("z UID STORE 6 +FLAGS.SILENT (\\Flagged)")
    out = a.send(f"f UID FETCH 1:* (FLAGS) (CHANGEDSINCE {base} VANISHED)")
    assert out.startswith(b"* VANISHED (EARLIER) 4\r\n")
    assert re.findall(rb"UID (\d+)", out) == [b"6"]
    assert out.endswith(b"* VANISHED 4\r\nf OK FETCH completed\r\n")  # then the live report
    assert a.send(f"g FETCH 1:* (FLAGS) (CHANGEDSINCE {base} VANISHED)").startswith(b"g BAD ")


def test_header_search_matches_decoded_values_and_presence(lab) -> None:
    d = lab.driver(select="INBOX")
    subject = "=?utf-8?q?Caf=C3=A9_meeting?="
    message = f"From: a@example.org\r\nSubject: {subject}\r\nX-Tag: \r\n\r\nhi\r\n".encode()
    d.send(b"a APPEND INBOX {%d+}\r\n%b" % (len(message), message))
    assert d.send('s SEARCH SUBJECT "caf\xe9"'.encode()).startswith(b"* SEARCH 21\r\n")
    assert d.send('t SEARCH HEADER X-Tag ""').startswith(b"* SEARCH 21\r\n")
    assert d.send('u SEARCH HEADER X-Missing ""').startswith(b"* SEARCH\r\n")


def test_deleting_a_mailbox_another_session_selected_ends_that_session(lab) -> None:
    a = lab.driver(select="Trash")
    b = lab.driver()
    assert b.send("d DELETE Trash") == b"d OK DELETE completed\r\n"
    assert a.send("n NOOP") == b"* BYE Selected mailbox was deleted, have to disconnect.\r\n"
    assert a.closed
    c = lab.driver(select="INBOX")
    b.send("r RENAME Projects Work")  # renaming keeps the selected folder valid
    d = lab.driver(select="Work")
    b.send("s RENAME Work Job")
    assert d.send("m NOOP") == b"m OK NOOP completed\r\n"
    assert c.send("o NOOP") == b"o OK NOOP completed\r\n"
