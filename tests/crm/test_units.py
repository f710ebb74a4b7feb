"""Sans-I/O CRM pieces: sanitizing, MIME ingest, matching with reasons, logging rules."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxlab.engine.crm.errors import BadInput, MalformedMessage
from inboxlab.engine.crm.ingest import Address, Headers, parse_headers, parse_message
from inboxlab.engine.crm.records import ThreadRef, company_name
from inboxlab.engine.crm.rules import LoggingRules, Mode
from inboxlab.engine.crm.sanitize import safe_filename, safe_html
from inboxlab.engine.crm.tracking import is_forwarded, match, normalize_subject

OWN = ("sam@crm.test",)
THREAD = ThreadRef(1, "Quote for widgets", 7, frozenset({"sam@crm.test", "bob@client.test"}))
INDEX = {"<q1@crm.test>": THREAD}


@pytest.mark.parametrize("name,expected", [
    ("../../etc/passwd", "passwd"), ("C:\\Users\\x\\a.txt", "a.txt"), ("CON", "_CON"),
    ("nul.txt", "_nul.txt"), ("a\x00b\u202e.exe", "a b .exe"), ("", "attachment"),
    ("/abs/path.pdf", "path.pdf"), ("..", "attachment"),
])
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_safe_filename_never_escapes(name: str) -> None:
    out = safe_filename(name)
    assert out and "/" not in out and "\\" not in out and out not in (".", "..")
    assert not any(ord(c) < 32 for c in out) and len(out) <= 120


def test_safe_html_strips_scripts_handlers_and_js_links() -> None:
    out = safe_html('<p onclick="x()">hi<script>alert(1)</script>'
                    '<a href="javascript:evil()">l</a><img src="http://t/p.gif"></p>')
    assert "script" not in out and "onclick" not in out and "javascript" not in out
    assert "<img" not in out and "hi" in out


def test_company_from_domain() -> None:
    assert company_name("acme-widgets.co.uk") == "Acme Widgets"
    assert company_name("sales.globex.com") == "Globex"


def _mail(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    for k, v in headers.items():
        msg[k.replace("_", "-")] = v
    msg.set_content("plain body ünïcode")
    msg.add_alternative("<p>html <script>x</script>body</p>", subtype="html")
    msg.add_attachment(b"%PDF-1", maintype="application", subtype="pdf",
                       filename="../../evil.pdf")
    return msg


def test_parse_message_keeps_people_bodies_and_sanitized_attachments() -> None:
    msg = _mail(From="Bob Buyer <BOB@client.test>", To="Sam <sam@crm.test>, x@y.test",
                Cc="=?utf-8?q?J=C3=BCrgen?= <j@client.test>", Subject="Re: Quote",
                Message_ID="<r1@client.test>", In_Reply_To="<q1@crm.test>")
    email = parse_message(msg.as_bytes())
    h = email.headers
    assert h.from_ == Address("bob@client.test", "Bob Buyer")
    assert [a.email for a in h.to] == ["sam@crm.test", "x@y.test"]
    assert h.cc == (Address("j@client.test", "Jürgen"),)
    assert h.in_reply_to == ("<q1@crm.test>",)
    assert "ünïcode" in email.text and "script" not in email.html
    assert [(a.filename, a.data) for a in email.attachments] == [("evil.pdf", b"%PDF-1")]


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"\x00\x01\x02"])
def test_unusable_message_is_a_typed_error(raw: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_message(raw)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_garbage_never_crashes_the_parser(raw: bytes) -> None:
    try:
        parse_message(b"From: a@b.test\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
                      + raw)
    except MalformedMessage:
        pass


def test_normalize_subject_and_forward_marker() -> None:
    assert normalize_subject("RE: [ext] Fwd:  Quote  for WIDGETS") == "quote for widgets"
    assert normalize_subject("AW: WG: Quote for widgets") == "quote for widgets"
    assert is_forwarded("Re: Fwd: x") and not is_forwarded("Re: x")
    stacked = "RE: AW: SV: Re[2]: Antw: VS: RIF: Fwd: FW: WG: TR: RV: Doorst: ENC: Quote"
    assert normalize_subject(stacked) == "quote" and is_forwarded(stacked)
    assert normalize_subject("Re(3)： quote (fwd)") == "quote" and is_forwarded("x (FWD)")
    assert normalize_subject("Invoice: 12") == "invoice: 12" and not is_forwarded("AW: SV: x")


def H(**kw: object) -> Headers:
    kw.setdefault("message_id", "<m@client.test>")
    return Headers(**kw)  # type: ignore[arg-type]


def test_in_reply_to_joins_even_from_another_address() -> None:
    m = match(H(in_reply_to=("<q1@crm.test>",), subject="Re: Quote for widgets",
                from_=Address("bob.b@mobile.test")), INDEX, OWN)
    assert m.verdict == "join" and m.header == "In-Reply-To" and m.thread == THREAD
    assert "<q1@crm.test>" in m.reason


def test_references_only_join_from_participants_and_colleagues() -> None:
    bob = Address("bob@client.test")
    ok = match(H(references=("<q1@crm.test>", "<x@y>"), subject="RE: quote for widgets",
                 from_=bob), INDEX, OWN)
    assert ok.verdict == "join" and ok.header == "References" and "bob@client.test" in ok.reason
    colleague = match(H(references=("<q1@crm.test>",), subject="Re: Quote for widgets",
                        from_=Address("joe@client.test"), to=(Address("sam@crm.test"),)),
                      INDEX, OWN)
    assert colleague.verdict == "join" and "colleague" in colleague.reason
    stranger = match(H(references=("<q1@crm.test>",), subject="Re: Quote for widgets",
                       from_=Address("eve@gmail.com")), INDEX, OWN)
    assert stranger.verdict == "flag" and stranger.chain


def test_in_reply_to_with_a_new_subject_to_a_stranger_is_reuse() -> None:
    lunch = H(in_reply_to=("<q1@crm.test>",), subject="Lunch on Friday?",
              from_=Address("sam@crm.test"), to=(Address("pat@elsewhere.test"),))
    m = match(lunch, INDEX, OWN)
    assert m.verdict == "flag" and "thread reuse" in m.reason and "Lunch on Friday?" in m.reason
    assert m.chain == ("In-Reply-To <q1@crm.test>: tracked, thread 1 'Quote for widgets' "
                       "with bob@client.test, sam@crm.test",)
    same_people = match(H(in_reply_to=("<q1@crm.test>",), subject="Lunch on Friday?",
                          from_=Address("sam@crm.test"), to=(Address("bob@client.test"),)),
                        INDEX, OWN)
    assert same_people.verdict == "join" and "shared participants" in same_people.reason
    # logging all mail with contacts: the reuse goes on the stranger's own record, not thread 1
    own_record = LoggingRules(mode=Mode.ALL_CONTACTS).decide(
        lunch, m, 10, own=OWN, contacts=frozenset({"pat@elsewhere.test"}))
    assert own_record.log and own_record.contact_email == "pat@elsewhere.test"
    assert not LoggingRules().decide(lunch, m, 10, own=OWN).log
    # a stranger at a free-mail domain is no colleague of anyone
    assert match(H(in_reply_to=("<q1@crm.test>",), subject="Hi", from_=Address("x@gmail.com")),
                 INDEX, OWN).verdict == "flag"


@pytest.mark.parametrize("prefix", ["Fwd:", "FW:", "WG:", "TR:", "RV:", "Doorst:", "Re: Fwd:",
                                    "AW: WG:", "Fwd[2]:"])
def test_a_forward_to_a_stranger_is_flagged_in_any_language(prefix: str) -> None:
    m = match(H(in_reply_to=("<q1@crm.test>",), subject=f"{prefix} Quote for widgets",
                from_=Address("sam@crm.test"), to=(Address("carol@new.test"),)), INDEX, OWN)
    assert m.verdict == "flag" and "forward reuse" in m.reason


def test_forward_reuse_is_flagged_with_the_chain() -> None:
    fwd = match(H(in_reply_to=("<q1@crm.test>",), references=("<q1@crm.test>",),
                  subject="Fwd: Quote for widgets", from_=Address("sam@crm.test"),
                  to=(Address("carol@new.test"),)), INDEX, OWN)
    assert fwd.verdict == "flag" and "forward reuse" in fwd.reason
    reply = match(H(in_reply_to=("<fwd@crm.test>",),
                    references=("<q1@crm.test>", "<fwd@crm.test>"),
                    subject="Re: Fwd: Quote for widgets", from_=Address("carol@new.test"),
                    to=(Address("sam@crm.test"),)), INDEX, OWN)
    assert reply.verdict == "flag"
    assert reply.chain == (
        "References <q1@crm.test>: tracked, thread 1 'Quote for widgets' with "
        "bob@client.test, sam@crm.test",
        "References <fwd@crm.test>: not tracked", "In-Reply-To <fwd@crm.test>: not tracked")


def test_unrelated_and_known() -> None:
    assert match(H(subject="hello"), INDEX, OWN).verdict == "none"
    assert match(H(message_id="<q1@crm.test>"), INDEX, OWN).verdict == "known"


def test_rules_modes_never_log_and_attachment_limit() -> None:
    reply = H(in_reply_to=("<q1@crm.test>",), from_=Address("bob@client.test"),
              to=(Address("sam@crm.test"),))
    joined = match(reply, INDEX, OWN)
    rules = LoggingRules()
    d = rules.decide(reply, joined, 1000, own=OWN)
    assert d.log and d.with_attachments and d.note is None
    big = rules.decide(reply, joined, 60 * 1024 * 1024, own=OWN)
    assert big.log and not big.with_attachments and "limit" in (big.note or "")
    off = LoggingRules(log_attachments=False).decide(reply, joined, 10, own=OWN)
    assert off.log and not off.with_attachments and "off" in (off.note or "")
    for pattern in ("bob@client.test", "client.test"):
        never = LoggingRules(never_log=frozenset({pattern})).decide(reply, joined, 10, own=OWN)
        assert not never.log and "never-log" in never.reason
    cold = H(from_=Address("bob@client.test"), to=(Address("sam@crm.test"),))
    assert not rules.decide(cold, match(cold, INDEX, OWN), 10, own=OWN).log
    all_mail = LoggingRules(mode=Mode.ALL_CONTACTS)
    d = all_mail.decide(cold, match(cold, INDEX, OWN), 10, own=OWN,
                        contacts=frozenset({"bob@client.test"}))
    assert d.log and d.contact_email == "bob@client.test"
    assert not LoggingRules(inbox_connected=False).decide(reply, joined, 10, own=OWN).log


def test_bad_rules_are_typed_errors() -> None:
    with pytest.raises(BadInput, match="mode"):
        LoggingRules(mode="everything")  # type: ignore[arg-type]


def test_parse_headers_of_a_scan_fragment() -> None:
    h = parse_headers(b"Message-ID: <a@b>\r\nReferences: <1@x>\r\n <2@x>\r\n"
                      b"Subject: =?utf-8?b?w6k=?=\r\n\r\n")
    assert h.message_id == "<a@b>" and h.references == ("<1@x>", "<2@x>") and h.subject == "é"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"From", b"To", b"Cc", b"Message-ID", b"In-Reply-To",
                                 b"References", b"Subject", b"Date"]), max_size=6),
       st.lists(st.binary(max_size=60), max_size=6))
def test_hostile_header_fields_never_crash_the_matcher(names: list[bytes],
                                                       values: list[bytes]) -> None:
    raw = b"".join(n + b": " + v.replace(b"\n", b" ") + b"\r\n"
                   for n, v in zip(names, values, strict=False)) + b"\r\n"
    try:
        h = parse_headers(raw)
    except MalformedMessage:
        return
    match(h, INDEX, OWN)
    LoggingRules().decide(h, match(h, INDEX, OWN), 10, own=OWN)


def test_hostile_sizes_are_bounded_before_parsing() -> None:
    from inboxlab.engine.crm.ingest import MAX_ADDRESSES, MAX_FIELD

    many = ", ".join(f"P{n} <p{n}@x.test>" for n in range(3000))
    raw = (f"From: a@b.test\r\nTo: {many}\r\nSubject: {'x ' * 500_000}\r\n"
           f"References: {' '.join(f'<{n}@x>' for n in range(20_000))}\r\n"
           "Message-ID: <m@b.test>\r\n\r\nbody\r\n").encode()
    h = parse_message(raw).headers
    assert len(h.subject) <= MAX_FIELD
    assert 0 < len(h.to) <= MAX_ADDRESSES and h.to[0] == Address("p0@x.test", "P0")
    assert h.references[-1] == "<19999@x>"  # the nearest ancestor survives the cut
    assert h.message_id == "<m@b.test>"
