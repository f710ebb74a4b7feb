"""Hostile MIME, built from parts: a hypothesis strategy and a named corpus of worst cases.

The strategy draws a tree of parts with real and bogus charsets and transfer encodings,
evil filenames, broken boundaries and random bytes, then (sometimes) mutates the bytes:
flips, cuts, splices. The named corpus holds the cases the issue lists by name.
"""

from __future__ import annotations

from hypothesis import strategies as st

CHARSETS = ("utf-8", "us-ascii", "iso-8859-1", "windows-1252", "utf-7", "utf-16", "gb2312",
            "x-unknown", "", "utf-8'; x", "ünï", "iso-2022-jp", "big5")
ENCODINGS = ("7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "bogus", "")
EVIL_NAMES = ("../../etc/passwd", "C:\\Windows\\x.exe", "CON", "nul.txt", "a\x00b",
              "\u202efdp.exe", "=?utf-8?b?Li4vLi4vZXZpbA==?=", "", "..", "/abs",
              "x" * 300, "COM¹", "\\\\srv\\share\\y")
HEADER = (b"From: Bob <bob@client.test>\r\nTo: sam@crm.test\r\n"
          b"Message-ID: <evil@client.test>\r\nIn-Reply-To: <q1@crm.test>\r\nSubject: Re: q\r\n")

_junk = st.binary(max_size=300)
_text = st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass"))


@st.composite
def leaf(draw: st.DrawFn) -> bytes:
    ctype = draw(st.sampled_from(("text/plain", "text/html", "application/pdf",
                                  "message/rfc822", "image/png", "text/x-bogus", "")))
    charset = draw(st.sampled_from(CHARSETS))
    cte = draw(st.sampled_from(ENCODINGS))
    lines = [f"Content-Type: {ctype}; charset=\"{charset}\"".encode("utf-8", "replace")]
    if cte:
        lines.append(b"Content-Transfer-Encoding: " + cte.encode())
    if draw(st.booleans()):
        name = draw(st.sampled_from(EVIL_NAMES) | st.text(max_size=40))
        style = draw(st.sampled_from(("plain", "2231", "2231-bad")))
        encoded = name.encode("utf-8", "surrogatepass")
        if style == "plain":
            lines.append(b'Content-Disposition: attachment; filename="' + encoded + b'"')
        elif style == "2231":
            quoted = "".join(f"%{b:02X}" for b in encoded).encode()
            lines.append(b"Content-Disposition: attachment; filename*=utf-8''" + quoted)
        else:
            lines.append(b"Content-Disposition: attachment; filename*0*=bogus''%ZZ; "
                         b"filename*3=" + encoded[:20])
    body = draw(_junk | _text)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def multipart(children: list[bytes], boundary: bytes, broken: str) -> bytes:
    head = b"Content-Type: multipart/mixed; boundary=\"" + boundary + b"\"\r\n\r\n"
    if broken == "no-boundary-param":
        head = b"Content-Type: multipart/mixed\r\n\r\n"
    parts = b"".join(b"--" + boundary + b"\r\n" + c + b"\r\n" for c in children)
    close = b"" if broken == "no-close" else b"--" + boundary + b"--\r\n"
    return head + b"preamble\r\n" + parts + close


_trees = st.recursive(
    leaf(),
    lambda kids: st.builds(multipart, st.lists(kids, max_size=4),
                           st.sampled_from((b"b1", b"b1", b"", b"x" * 80, b"\"q\"")),
                           st.sampled_from(("ok", "ok", "no-boundary-param", "no-close"))),
    max_leaves=8,
)


@st.composite
def mutated(draw: st.DrawFn, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(draw(st.integers(0, 4))):
        if not data:
            break
        op = draw(st.sampled_from(("flip", "cut", "splice", "dup")))
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i: i + draw(st.integers(1, 64))]
        elif op == "splice":
            data[i:i] = draw(st.sampled_from((b"\r\n", b"\r\n\r\n", b"--b1--", b"=?", b"\x00",
                                              b";", b"\"", b"\xff")))
        else:
            data[i:i] = data[i: i + draw(st.integers(1, 64))]
    return bytes(data)


messages = st.builds(lambda tree: HEADER + tree, _trees).flatmap(
    lambda raw: st.just(raw) | mutated(raw))


def nested(depth: int) -> bytes:
    raw = b"Content-Type: text/plain\r\n\r\ninnermost\r\n"
    for i in range(depth):
        b = b"n%d" % i
        raw = (b"Content-Type: multipart/mixed; boundary=" + b + b"\r\n\r\n--" + b + b"\r\n"
               + raw + b"\r\n--" + b + b"--\r\n")
    return HEADER + raw


def with_attachment(data: bytes, name: bytes = b"big.bin") -> bytes:
    import base64

    b64 = base64.encodebytes(data)
    return (HEADER + b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
            b"Content-Type: text/plain\r\n\r\nsee attached\r\n--x\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=\"" + name + b"\"\r\n\r\n"
            + b64 + b"--x--\r\n")


def corpus() -> dict[str, bytes]:
    """The issue's named worst cases (built on demand: some are megabytes)."""
    return {
        "10mb-header-line": HEADER.replace(b"Subject: Re: q", b"Subject: " + b"x" * 10_000_000)
        + b"\r\nbody\r\n",
        "nested-100": nested(100),
        "nested-1000": nested(1000),
        "missing-boundary-param": HEADER + b"Content-Type: multipart/mixed\r\n\r\n--x\r\nhi\r\n",
        "boundary-never-appears": HEADER + b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
        b"--x\r\nhi\r\n--x--\r\n",
        "unknown-charset": HEADER + b"Content-Type: text/plain; charset=x-nope\r\n\r\nh\xe9\r\n",
        "wrong-charset": HEADER + b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        b"\xc3\xa9\xff\xfe\r\n",
        "utf-16-odd-bytes": HEADER + b"Content-Type: text/plain; charset=utf-16\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n\xff\xfe\x00",
        "broken-base64": HEADER + b"Content-Type: text/plain\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!!====abc\r\n",
        "broken-qp": HEADER + b"Content-Type: text/plain\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n=\r\n",
        "bad-encoded-words": HEADER.replace(b"Subject: Re: q", b"Subject: =?bogus?b?!!!?= "
                                            b"=?utf-8?q?=FF=FE?= =?utf-8?b?////?="),
        "8bit-headers": HEADER.replace(b"Bob", b"\xff\xfe\xc3\x28") + b"\r\nbody\r\n",
        "zero-byte-attachment": with_attachment(b"", b"empty.bin"),
        "huge-attachment": with_attachment(bytes(range(256)) * 20_000),  # 5 MB
        "empty-rfc822": HEADER + b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
        b"Content-Type: message/rfc822\r\n\r\n\r\n--x--\r\n",
        "evil-2231-name": with_attachment(b"A", b"a") .replace(
            b"filename=\"a\"", b"filename*0*=utf-8''..%2F..%2F; filename*1*=%00%FF; "
            b"filename*9=CON"),
        "nul-body": HEADER + b"\r\n\x00\x00\x00",
    }
