"""Rendering FETCH data from bytes: sections, ENVELOPE, BODYSTRUCTURE, IMAP strings.

The expectations written out below were checked against Dovecot 2.3; the differential
test at the end re-checks the whole corpus (and generated messages) against a real
Dovecot when one is installed.
"""

from __future__ import annotations

import random
import re
import socket
from datetime import UTC, datetime

import pytest

from inboxlab.fakeserver import generate, render
from inboxlab.fakeserver.generate import GenSpec

CORPUS: list[bytes] = [
    b"Subject: plain\r\nFrom: a@b.c\r\n\r\nhello\r\nworld",
    (
        b'From: "Smith, Anna" <a@b.c>, undisclosed-recipients:;\r\n'
        b"To: Group: x@y, =?utf-8?q?Zo=C3=AB?= <@r1,@r2:z@q.r>;\r\n"
        b"Cc: John Q. Public <jqp@ex.com> (comment), bare@host\r\n"
        b'Subject: h\xc3\xa9llo "q" \\ back\r\n'
        b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
        b"Message-ID: <x@y>\r\n"
        b"In-Reply-To: <p@q>\r\n"
        b"Reply-To: r@s.t\r\n"
        b"Sender: s@t.u\r\n"
        b"Bcc: hidden@x.y\r\n"
        b"\r\n"
        b"body\r\n"
    ),
    (
        b"Subject: folded\r\n"
        b" subject line\r\n"
        b"To: a@b.c,\r\n"
        b" d@e.f\r\n"
        b'Content-Type: TEXT/Plain; CharSet="ISO-8859-1"; format=flowed\r\n'
        b"Content-Transfer-Encoding: Quoted-Printable\r\n"
        b"Content-ID: <cid1@x>\r\n"
        b"Content-Description: a desc\r\n"
        b"Content-Language: en, de\r\n"
        b"Content-Location: http://x/y\r\n"
        b"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
        b"\r\n"
        b"line1\r\n"
        b"line2 no eol"
    ),
    (
        b"Subject: mixed\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XX"\r\n'
        b"\r\n"
        b"preamble\r\n"
        b"--XX\r\n"
        b"Content-Type: text/plain\r\n"
        b"\r\n"
        b"part one\r\n"
        b"--XX\r\n"
        b"Content-Type: message/rfc822\r\n"
        b"\r\n"
        b"Subject: inner\r\n"
        b"From: i@n.r\r\n"
        b"Content-Type: multipart/alternative; boundary=YY\r\n"
        b"\r\n"
        b"--YY\r\n"
        b"\r\n"
        b"inner text\r\n"
        b"--YY\r\n"
        b"Content-Type: text/html\r\n"
        b"\r\n"
        b"<b>x</b>\r\n"
        b"--YY--\r\n"
        b"\r\n"
        b"--XX\r\n"
        b'Content-Type: application/octet-stream; name="a b.bin"\r\n'
        b"Content-Disposition: attachment; filename*=utf-8''a%20b.bin; size=3\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n"
        b"AAEC\r\n"
        b"--XX--\r\n"
        b"epilogue\r\n"
    ),
    (
        b"Subject: digest\r\n"
        b"Content-Type: multipart/digest; boundary=D\r\n"
        b"\r\n"
        b"--D\r\n"
        b"\r\n"
        b"Subject: d1\r\n"
        b"\r\n"
        b"d1 body\r\n"
        b"--D\r\n"
        b"Content-Type: text/plain\r\n"
        b"\r\n"
        b"plain in digest\r\n"
        b"--D--\r\n"
    ),
    b"Subject: no boundary\r\nContent-Type: multipart/mixed\r\n\r\nstuff\r\n",
    (
        b"Subject: unterminated\r\n"
        b"Content-Type: multipart/mixed; boundary=Z\r\n"
        b"\r\n"
        b"--Z\r\n"
        b"\r\n"
        b"only part"
    ),
    b"Subject: bad ctype\r\nContent-Type: garbage\r\n\r\nx\r\n",
    b"Subject:\r\nFrom: \r\nTo: <>\r\nDate: \r\n\r\nempty headers\r\n",
    (b"From: Undisclosed\r\nTo: a@b.c (Name In Comment)\r\nContent-Disposition: inline\r\n\r\nx"),
    b"Subject: no body",
    (
        b"Subject: image\r\n"
        b"Content-Type: image/png\r\n"
        b'Content-Disposition: inline; filename="x.png"\r\n'
        b"\r\n"
        b"AAAA\r\n"
    ),
    (
        b"From: =?iso-8859-1?q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\r\n"
        b"Subject: long " + b"x" * 1500 + b"\r\n"
        b"\r\n"
        b"b"
    ),
    (
        b"Subject: rfc822 nonmultipart\r\n"
        b"Content-Type: message/rfc822\r\n"
        b"\r\n"
        b"Subject: inner\r\n"
        b"To: q@r.s\r\n"
        b"\r\n"
        b"inner body\r\n"
        b"line2\r\n"
    ),
    b"Subject: empty multipart\r\nContent-Type: multipart/mixed; boundary=E\r\n\r\n--E--\r\n",
    b'Subject: ascii "quoted" and \\ backslash\r\nFrom: "Quote \\" In" <q@x.y>\r\n\r\nx\r\n',
    (
        b"Subject: inline typed\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Disposition: inline\r\n"
        b"\r\n"
        b"x\r\n"
    ),
    (
        b"Subject: attach noparams\r\n"
        b"Content-Type: application/pdf\r\n"
        b"Content-Disposition: attachment\r\n"
        b"\r\n"
        b"x\r\n"
    ),
    (
        b"Subject: 2231\r\n"
        b"Content-Type: application/x-stuff;\r\n"
        b" title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
        b" title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n"
        b' title*2="isn\'t it!"; plain=p\r\n'
        b"\r\n"
        b"x\r\n"
    ),
    (b'Subject: 2231b\r\nContent-Type: text/plain; name*0="long"; name*1="name.txt"\r\n\r\nx\r\n'),
    (
        b"Subject: rfc822 charset\r\n"
        b"Content-Type: message/rfc822; charset=utf-8\r\n"
        b"\r\n"
        b"Subject: i\r\n"
        b"\r\n"
        b"b\r\n"
    ),
    (
        b"Message-ID:\r\n"
        b" <folded@id>\r\n"
        b"In-Reply-To: <a@b> <c@d>\r\n"
        b"Date: Tue,\r\n"
        b" 2 Jan 2024 10:00:00 +0100\r\n"
        b"\r\n"
        b"x\r\n"
    ),
    b'To: a@b.c (First), (Second) d@e.f, "" <g@h.i>, @nolocal, nohost@\r\n\r\nx',
    (
        b"Content-Type: text/plain\r\n"
        b"Content-Language: en\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n"
        b"h\xc3\xa9\r\n"
    ),
    b"Subject: nct disp\r\nContent-Disposition: inline; filename=a.txt\r\n\r\nx\r\n",
    b"Subject: nct disp2\r\nMIME-Version: 1.0\r\nContent-Disposition: inline\r\n\r\nxy\r\n",
    b"Subject: trailing  \r\nContent-Type: text/plain\r\nContent-Disposition: inline\r\n\r\nx",
    (b"Subject: nct disp3\r\nContent-Disposition: attachment\r\nContent-ID: <a@b>\r\n\r\nxy\r\n"),
]


def test_quote_uses_literals_for_anything_needing_escapes() -> None:
    assert render.quote("plain text") == b'"plain text"'
    assert render.quote(b'say "hi"') == b'{8}\r\nsay "hi"'
    assert render.quote("back\\slash") == b"{10}\r\nback\\slash"
    assert render.quote("h\u00e9") == b"{3}\r\nh\xc3\xa9"
    assert render.quote("two\r\nlines") == b"{10}\r\ntwo\r\nlines"
    assert render.nstring(None) == b"NIL"
    assert render.astring("INBOX") == b"INBOX"
    assert render.astring("Sent Items") == b'"Sent Items"'


def test_envelope_groups_routes_quotes_and_8bit() -> None:
    assert render.envelope(CORPUS[1]) == (
        b'("Mon, 1 Jan 2024 00:00:00 +0000" {17}\r\nh\xc3\xa9llo "q" \\ back '
        b'(("Smith, Anna" NIL "a" "b.c")(NIL NIL "undisclosed-recipients" NIL)'
        b'(NIL NIL NIL NIL)) ((NIL NIL "s" "t.u")) ((NIL NIL "r" "s.t")) '
        b'((NIL NIL "Group" NIL)(NIL NIL "x" "y")'
        b'("=?utf-8?q?Zo=C3=AB?=" "@r1,@r2" "z" "q.r")(NIL NIL NIL NIL)) '
        b'(("John Q. Public" NIL "jqp" "ex.com")(NIL NIL "bare" "host")) '
        b'((NIL NIL "hidden" "x.y")) "<p@q>" "<x@y>")'
    )


def test_envelope_missing_parts_and_comment_names() -> None:
    assert render.envelope(CORPUS[22]) == (
        b'(NIL NIL NIL NIL NIL (("First" NIL "a" "b.c")(NIL NIL "d" "e.f")'
        b'(NIL NIL "g" "h.i")(NIL NIL "MISSING_MAILBOX" "nolocal")'
        b'(NIL NIL "nohost" "MISSING_DOMAIN")) NIL NIL NIL NIL)'
    )
    # a folded subject goes as a literal with the line break removed
    assert render.envelope(CORPUS[2]).startswith(b"(NIL {19}\r\nfolded subject line NIL")


def test_bodystructure_nested_message_and_rfc2231() -> None:
    assert render.bodystructure(CORPUS[3]) == (
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 8 0 NIL NIL NIL NIL)'
        b'("message" "rfc822" NIL NIL NIL "7bit" 152 (NIL "inner" ((NIL NIL "i" "n.r")) '
        b'((NIL NIL "i" "n.r")) ((NIL NIL "i" "n.r")) NIL NIL NIL NIL NIL) '
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0 NIL NIL NIL NIL)'
        b'("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 8 0 NIL NIL NIL NIL) '
        b'"alternative" ("boundary" "YY") NIL NIL NIL) 12 NIL NIL NIL NIL)'
        b'("application" "octet-stream" ("name" "a b.bin") NIL NIL "base64" 4 NIL '
        b'("attachment" ("size" "3" "filename*" "utf-8\'\'a%20b.bin")) NIL NIL) '
        b'"mixed" ("boundary" "XX") NIL NIL NIL)'
    )
    assert render.bodystructure(CORPUS[3], extensible=False) == (
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 8 0)'
        b'("message" "rfc822" NIL NIL NIL "7bit" 152 (NIL "inner" ((NIL NIL "i" "n.r")) '
        b'((NIL NIL "i" "n.r")) ((NIL NIL "i" "n.r")) NIL NIL NIL NIL NIL) '
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0)'
        b'("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 8 0) "alternative") 12)'
        b'("application" "octet-stream" ("name" "a b.bin") NIL NIL "base64" 4) "mixed")'
    )


def test_bodystructure_keeps_case_and_extension_fields() -> None:
    assert render.bodystructure(CORPUS[2]) == (
        b'("TEXT" "Plain" ("CharSet" "ISO-8859-1" "format" "flowed") "<cid1@x>" "a desc" '
        b'"Quoted-Printable" 19 1 "Q2hlY2sgSW50ZWdyaXR5IQ==" NIL ("en" "de") "http://x/y")'
    )


def test_sections_of_a_nested_message() -> None:
    raw = CORPUS[3]
    assert render.section(raw, (1,)) == b"part one"
    assert render.section(raw, (1,), "MIME") == b"Content-Type: text/plain\r\n\r\n"
    assert render.section(raw, (2,), "HEADER").startswith(b"Subject: inner\r\n")
    assert render.section(raw, (2,), "HEADER").endswith(b"\r\n\r\n")
    assert render.section(raw, (2, 1)) == b"inner text"
    assert render.section(raw, (2, 2), "MIME") == b"Content-Type: text/html\r\n\r\n"
    assert render.section(raw, (2,), "HEADER.FIELDS", ["subject"]) == b"Subject: inner\r\n\r\n"
    assert render.section(raw, (3,)) == b"AAEC"
    assert render.section(raw, (1, 1)) == b"part one"  # a leaf's part 1 is itself
    assert render.section(raw, (4,)) == b""
    assert render.section(raw, (), "TEXT").startswith(b"preamble\r\n--XX\r\n")
    assert render.section(raw) == raw
    header = render.section(raw, (), "HEADER")
    assert header.endswith(b"\r\n\r\n") and raw.startswith(header)


def test_header_fields_order_and_negation() -> None:
    raw = b"B: 2\r\nA: 1\r\nb: 3\r\n folded\r\nC: 4\r\n\r\nbody"
    assert render.header_fields(raw, ["b", "A"]) == b"B: 2\r\nA: 1\r\nb: 3\r\n folded\r\n\r\n"
    assert render.header_fields(raw, ["B"], negate=True) == b"A: 1\r\nC: 4\r\n\r\n"
    assert render.header_fields(raw, ["zzz"]) == b"\r\n"


def test_garbage_never_crashes() -> None:
    rng = random.Random(99)
    alphabet = [
        b"\r\n",
        b"\n",
        b"--",
        b"-- b",
        b":",
        b"Content-Type: multipart/mixed; boundary=b\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"(",
        b")",
        b"<",
        b">",
        b'"',
        b"\\",
        b"@",
        b",",
        b";",
        b"\xff",
        b"\x00",
        b" ",
        b"From: ",
        b"x",
    ]
    for _ in range(800):
        raw = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        render.envelope(raw)
        render.bodystructure(raw)
        render.bodystructure(raw, extensible=False)
        for path in ((), (1,), (1, 1), (2, 1, 1)):
            for text in (None, "HEADER", "TEXT", "MIME", "HEADER.FIELDS"):
                render.section(raw, path, text, ["from"])


def test_deep_nesting_is_bounded() -> None:
    raw = b"Content-Type: message/rfc822\r\n\r\n" * 500 + b"Subject: deep\r\n\r\nx"
    assert render.bodystructure(raw).startswith(b'("message" "rfc822"')


# -- differential test against a real Dovecot ----------------------------------------------


def _read_tagged(sock: socket.socket, tag: bytes) -> bytes:
    buf = b""
    done = re.compile(rb"(^|\r\n)" + tag + rb" (OK|NO|BAD)[^\r\n]*\r\n$")
    while not done.search(buf):
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed; got {buf[-200:]!r}")
        buf += chunk
    return buf


def _fetch(sock: socket.socket, seq: int, item: bytes) -> bytes | None:
    """One FETCH item's value as raw bytes: literal contents, quoted contents or the
    whole s-expression (ENVELOPE, BODYSTRUCTURE); None for NIL."""
    sock.sendall(b"f FETCH %d (%s)\r\n" % (seq, item))
    reply = _read_tagged(sock, b"f")
    if item.startswith(b"BODY.PEEK["):  # echoed as BODY[...] with the names upper-cased
        found = re.search(rb"BODY\[[^\]]*\] ", reply)
        assert found is not None, reply[:200]
        rest = reply[found.end() :]
    else:
        rest = reply[reply.index(item + b" ") + len(item) + 1 :]
    if rest.startswith(b"{"):
        size = int(rest[1 : rest.index(b"}")])
        begin = rest.index(b"\r\n") + 2
        return rest[begin : begin + size]
    if rest.startswith(b"NIL"):
        return None
    if rest.startswith(b'"'):
        return rest[1 : rest.index(b'"', 1)]
    return rest[: rest.rindex(b")\r\nf OK")]


SECTIONS = [
    ((), None, ()),
    ((), "HEADER", ()),
    ((), "TEXT", ()),
    ((1,), None, ()),
    ((1,), "MIME", ()),
    ((2,), None, ()),
    ((2,), "MIME", ()),
    ((1, 1), None, ()),
    ((1, 2), None, ()),
    ((2,), "HEADER", ()),
    ((2,), "TEXT", ()),
    ((2, 1), None, ()),
    ((2, 2), None, ()),
    ((1, 1), "MIME", ()),
    ((3,), None, ()),
    ((1,), "HEADER", ()),
    ((), "HEADER.FIELDS", ("FROM", "SUBJECT")),
    ((), "HEADER.FIELDS.NOT", ("FROM", "Content-Type")),
    ((2,), "HEADER.FIELDS", ("SUBJECT",)),
]


def _section_name(path: tuple[int, ...], text: str | None, fields: tuple[str, ...]) -> bytes:
    name = ".".join(map(str, path))
    if text:
        name = f"{name}.{text}" if name else text
    if fields:
        name += " (" + " ".join(fields) + ")"
    return name.encode()


@pytest.mark.dovecot
@pytest.mark.interop
def test_same_answers_as_dovecot(dovecot) -> None:  # type: ignore[no-untyped-def]
    user, password = "render-diff@example.com", "render-pass"
    dovecot.add_user(user, password)
    spec = GenSpec(count=25, seed=7, attachment_ratio=0.3)
    messages = list(CORPUS) + [generate.message(spec, i) for i in range(25)]
    when = datetime(2024, 1, 1, tzinfo=UTC)
    dovecot.load_messages(user, "INBOX", [(m, "", when) for m in messages])
    with socket.create_connection((dovecot.host, dovecot.port), timeout=30) as sock:
        sock.recv(4096)
        sock.sendall(b'a LOGIN "%s" "%s"\r\n' % (user.encode(), password.encode()))
        _read_tagged(sock, b"a")
        sock.sendall(b"s EXAMINE INBOX\r\n")
        _read_tagged(sock, b"s")
        problems = []
        for seq, raw in enumerate(messages, 1):
            mine = {
                b"ENVELOPE": render.envelope(raw),
                b"BODYSTRUCTURE": render.bodystructure(raw),
                b"BODY": render.bodystructure(raw, extensible=False),
            }
            for path, text, fields in SECTIONS:
                name = _section_name(path, text, fields)
                mine[b"BODY.PEEK[" + name + b"]"] = render.section(raw, path, text, fields)
            for item, ours in mine.items():
                theirs = _fetch(sock, seq, item)
                if (
                    b"[HEADER.FIELDS (" in item
                    and b"\n\n" not in raw.replace(b"\r\n", b"\n")
                    and {theirs or b"", ours}
                    == {ours.rstrip(b"\r\n") + b"\r\n", ours.rstrip(b"\r\n") + b"\r\n\r\n"}
                ):
                    # A header with no blank line after it: Dovecot ends HEADER.FIELDS
                    # with one on a first FETCH and without once its cache serves it.
                    continue
                if (theirs or b"") != ours:
                    problems.append(
                        f"message {seq} {item.decode()}: dovecot {theirs!r:.200}"
                        f" != ours {ours!r:.200}"
                    )
    assert not problems, "\n".join(problems[:20])


def _paths(raw: bytes) -> list[tuple[int, ...]]:
    """Every part path of a message, depth first (via BODY's nesting of parentheses)."""
    out: list[tuple[int, ...]] = []

    def walk(prefix: tuple[int, ...]) -> None:
        n = 1
        while render.section(raw, (*prefix, n), "MIME") and n < 20:
            out.append((*prefix, n))
            if render.section(raw, (*prefix, n, 1), "MIME") != render.section(
                raw, (*prefix, n), "MIME"
            ):
                walk((*prefix, n))
            n += 1

    walk(())
    return out


@pytest.mark.parametrize("index", range(0, 40, 3))
def test_sections_are_contiguous_cuts_of_the_message(index: int) -> None:
    spec = GenSpec(count=40, seed=7, attachment_ratio=0.5)
    for raw in (generate.message(spec, index), CORPUS[3], CORPUS[4]):
        assert render.section(raw, (), "HEADER") + render.section(raw, (), "TEXT") == raw
        for path in _paths(raw):
            mime_header = render.section(raw, path, "MIME")
            body = render.section(raw, path)
            assert mime_header + body in raw, path
