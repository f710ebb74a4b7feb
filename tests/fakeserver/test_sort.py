"""SORT/THREAD pieces without sockets (base subject, threading), and the capability gate
over the sans-I/O session. tests/interop/test_differential_sort.py checks the whole
against Dovecot."""

from __future__ import annotations

from inboxlab.fakeserver.imap.handlers.threads import Msg, ordered_subject, references, render
from inboxlab.fakeserver.profiles import load_profile
from inboxlab.fakeserver.sortkeys import base_subject, casemap, display_name, first_mailbox


def test_base_subject_rfc5256() -> None:
    assert base_subject("Re: re: RE: [fwd: Another]") == ("ANOTHER", True)
    assert base_subject("[list] Re: Hello") == ("HELLO", True)
    assert base_subject("Fwd: Other (fwd)") == ("OTHER", True)
    assert base_subject("  Spaces   in  subject  ") == ("SPACES IN SUBJECT", False)
    assert base_subject("[just a blob]") == ("[JUST A BLOB]", False)  # nothing would be left
    assert base_subject("=?UTF-8?Q?Re:_Gr=C3=BC=C3=9Fe?=") == (casemap("Grüße"), True)
    assert base_subject(None) == ("", False)


def test_address_keys() -> None:
    assert first_mailbox("Zed <zed@a.com>, b@b.com") == "ZED"
    assert first_mailbox("group: a@b.com;") == "GROUP" and first_mailbox(None) == ""
    assert display_name('"" <empty@k.com>') == "EMPTY@K.COM"
    assert display_name("=?UTF-8?Q?=C3=89mile?= <e@c.com>") == casemap("Émile")


def _msg(n: int, subject: str, date: float, mid: str | None = None, refs: str | None = None,
         ) -> Msg:
    base, reply = base_subject(subject)
    return Msg(n, n, date, base, reply, mid, refs)


def test_threads_render_chains_branches_and_dummies() -> None:
    msgs = [_msg(1, "Hello", 3, "<1@x>"), _msg(2, "Re: Hello", 1, "<2@x>", "<1@x>"),
            _msg(3, "Re: Hello", 2, "<3@x>", "<1@x> <2@x>"), _msg(4, "Hello", 4, "<4@x>"),
            _msg(5, "loop", 5, "<5@x>", "<6@x>"), _msg(6, "loop b", 6, "<6@x>", "<5@x>"),
            _msg(7, "Other", 0, "<1@x>")]  # a duplicate Message-ID stands alone
    assert render(references(msgs)) == b"(7)((1 2 3)(4))(6 5)"
    assert render(ordered_subject(msgs)) == b"(7)(2 (3)(1)(4))(5)(6)"


def test_sort_and_thread_only_where_advertised(make_lab) -> None:
    caps = load_profile("dovecot").capabilities
    assert caps.sort and caps.thread
    line = make_lab(sort=True, thread=True).driver().send("c CAPABILITY")
    assert b" SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES" in line
    plain = make_lab().driver(select="INBOX")
    assert b"SORT" not in plain.send("c CAPABILITY")
    assert plain.send("s SORT (DATE) UTF-8 ALL").startswith(b"s BAD ")
    assert plain.send("t THREAD REFERENCES UTF-8 ALL").startswith(b"t BAD ")
    d = make_lab(count=3, sort=True, thread=True).driver(select="INBOX")
    assert d.send("s UID SORT (REVERSE ARRIVAL) UTF-8 ALL").startswith(b"* SORT 3 2 1\r\n")
