"""What FETCH needs from a message's bytes: sections, ENVELOPE, BODYSTRUCTURE, strings.

Everything works on bytes and returns bytes ready for the wire (IMAP quoted strings,
literals and NIL already applied), because sections must be the message's very
octets and header text may be 8-bit. :mod:`fakeserver.mime` cuts the part tree.
Outputs aim at what Dovecot returns for the same message (RFC 3501 7.4.2): RFC 2047
words and RFC 2231 parameters are passed through undecoded.
"""

from __future__ import annotations

from collections.abc import Iterable

from fakeserver import mime
from fakeserver.mime import Part

__all__ = [
    "astring",
    "bodystructure",
    "envelope",
    "header_fields",
    "header_pairs",
    "nstring",
    "quote",
    "section",
]

_NIL = b"NIL"


# -- IMAP strings ---------------------------------------------------------------------


def quote(value: str | bytes) -> bytes:
    """An IMAP string: quoted when plain, else a literal ``{n}\\r\\n...``.

    Like Dovecot, anything that would need escaping (``"``, ``\\``), 8-bit bytes,
    CR, LF or NUL goes as a literal, so quoted strings never contain escapes.
    """
    data = value.encode("utf-8") if isinstance(value, str) else value
    if not data.isascii() or any(c in data for c in b'"\\\r\n\0'):
        return b"{%d}\r\n%s" % (len(data), data)
    return b'"' + data + b'"'


def nstring(value: str | bytes | None) -> bytes:
    return _NIL if value is None else quote(value)


def astring(value: str) -> bytes:
    """An atom when it is one (mailbox names in LIST look nicer), else a string."""
    if value and all(c.isascii() and c.isprintable() and c not in ' (){%*"\\]' for c in value):
        return value.encode("ascii")
    return quote(value)


# -- header cuts ----------------------------------------------------------------------


def header_fields(raw: bytes, fields: Iterable[str], negate: bool = False) -> bytes:
    """``BODY[HEADER.FIELDS (...)]`` / ``.NOT``: matching fields in order, blank line last."""
    wanted = frozenset(f.lower() for f in fields)
    end = mime.header_end(raw)
    picked = [
        text if text.endswith(b"\n") or negate else text + b"\r\n"
        for name, text in mime.split_fields(raw[:end])
        if (name in wanted) != negate
    ]
    if end == len(raw) and not raw.endswith((b"\n\n", b"\n\r\n")) and raw not in (b"\r\n", b"\n"):
        return b"".join(picked)  # no blank line in the message: none made up (as Dovecot)
    return b"".join(picked) + b"\r\n"


def header_pairs(raw: bytes) -> list[tuple[str, str]]:
    """Top-level header fields as (name, raw value) text, folding CRLFs kept."""
    out = []
    for _, text in mime.split_fields(raw[: mime.header_end(raw)]):
        decoded = text.decode("utf-8", "replace")
        name, _, value = decoded.partition(":")
        out.append((name.strip(), value.strip(" \t\r\n")))
    return out


# -- sections ---------------------------------------------------------------------------


def _in_message(message: Part, n: int) -> Part | None:
    """Part ``n`` of a message: its n-th child, or (single part) the message body as 1."""
    if message.multipart:
        return message.children[n - 1] if 1 <= n <= len(message.children) else None
    return message if n == 1 else None


def _resolve(top: Part, path: tuple[int, ...]) -> Part | None:
    """The part a section path names (RFC 3501 6.4.5 part numbering)."""
    node = _in_message(top, path[0])
    for n in path[1:]:
        if node is None:
            return None
        if node.multipart and node is not top:
            node = node.children[n - 1] if 1 <= n <= len(node.children) else None
        elif node.rfc822:
            assert node.message is not None
            node = _in_message(node.message, n)
        elif node is top or n != 1:
            return None
        # else: a leaf's part 1 is the leaf itself (Dovecot answers BODY[1.1] that way)
    return node


def section(
    raw: bytes,
    part: tuple[int, ...] = (),
    text: str | None = None,
    fields: Iterable[str] = (),
) -> bytes:
    """``BODY[part.text (fields)]`` octets (RFC 3501 6.4.5); empty when it does not exist.

    ``text`` is None, "HEADER", "TEXT", "MIME", "HEADER.FIELDS" or "HEADER.FIELDS.NOT".
    Header results end with the blank line.
    """
    kind = text.upper() if text else None
    if not part and kind is None:
        return raw
    if not part and kind in ("HEADER", "TEXT"):
        end = mime.header_end(raw)
        return raw[:end] if kind == "HEADER" else raw[end:]
    if not part and kind in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        return header_fields(raw, fields, negate=kind.endswith(".NOT"))
    if not part:
        return b""  # MIME needs a part number
    node = _resolve(mime.parse(raw), part)
    if node is None:
        return b""
    if kind is None:
        return node.body
    if kind == "MIME":
        return node.header
    target = node.message if node.rfc822 else None
    if target is None:
        return b""
    if kind == "HEADER":
        return target.header
    if kind == "TEXT":
        return target.body
    if kind in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        return header_fields(target.header, fields, negate=kind.endswith(".NOT"))
    raise ValueError(f"unknown section text {text!r}")


# -- ENVELOPE ---------------------------------------------------------------------------


def _tokens(text: str) -> list[tuple[str, str, bool]]:
    """RFC 5322 address tokens: (kind, text, blank before); kinds 'q' quoted string,
    's' special, 'a' atom or domain literal.

    Comments are dropped (they separate like blanks). Text is latin-1 decoded so
    bytes survive the round trip.
    """
    out: list[tuple[str, str, bool]] = []
    i, n = 0, len(text)
    blank = False
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            blank = True
            i += 1
            continue
        elif c == "(":
            depth, begin = 0, i
            while i < n:
                if text[i] == "\\":
                    i += 1
                elif text[i] == "(":
                    depth += 1
                elif text[i] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                i += 1
            i += 1
            out.append(("c", text[begin + 1 : i - 1].strip(), blank))
            blank = True
            continue
        elif c == '"':
            i += 1
            chars = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            i += 1
            out.append(("q", "".join(chars), blank))
        elif c == "[":
            end = text.find("]", i)
            end = n - 1 if end < 0 else end
            out.append(("a", text[i : end + 1], blank))
            i = end + 1
        elif c in "<>@,;:.":
            out.append(("s", c, blank))
            i += 1
        else:  # an atom; a stray ")" is taken as one too, so the scan always advances
            j = i + 1
            while j < n and text[j] not in ' \t\r\n()"[<>@,;:.':
                j += 1
            out.append(("a", text[i:j], blank))
            i = j
        blank = False
    return out


def _phrase(words: list[tuple[str, str, bool]]) -> str:
    words = [w for w in words if w[0] != "c"]
    return "".join((" " if blank and k else "") + v for k, (_, v, blank) in enumerate(words))


def _bare(words: list[tuple[str, str, bool]]) -> bytes:
    """An address without angle brackets; a comment after it stands in for the name."""
    last = max((k for k, w in enumerate(words) if w[0] != "c"), default=-1)
    trailing = [v for kind, v, _ in words[last + 1 :] if kind == "c"]
    return _addr(trailing[0] if trailing else None, None, words)


def _addr(name: str | None, adl: str | None, spec: list[tuple[str, str, bool]]) -> bytes:
    text = "".join(v for kind, v, _ in spec if kind != "c")
    local, at, host = text.rpartition("@")
    if not at:
        local, host = text, ""
    fields = (name, adl, local or "MISSING_MAILBOX", host or "MISSING_DOMAIN")
    return (
        b"(" + b" ".join(nstring(None if f is None else f.encode("latin-1")) for f in fields) + b")"
    )


def _addresses(value: bytes | None) -> bytes:
    """An ENVELOPE address list ``((name adl mailbox host) ...)`` or NIL."""
    if value is None:
        return _NIL
    toks = _tokens(value.decode("latin-1"))
    out: list[bytes] = []
    phrase: list[tuple[str, str, bool]] = []
    i, in_group = 0, False

    def special(j: int, chars: str) -> bool:
        return j < len(toks) and toks[j][0] == "s" and toks[j][1] in chars

    while i < len(toks):
        kind, v, _ = toks[i]
        if kind == "s" and v == "<":
            j = i + 1
            adl: list[str] = []
            while special(j, "@"):  # obsolete source route: <@a,@b:user@host>
                route = []
                while j < len(toks) and not special(j, ",:>"):
                    route.append(toks[j][1])
                    j += 1
                adl.append("".join(route))
                if special(j, ","):
                    j += 1
                elif special(j, ":"):
                    j += 1
                    break
            spec = []
            while j < len(toks) and not special(j, ">"):
                spec.append(toks[j])
                j += 1
            name = _phrase(phrase) or None
            out.append(_addr(name, ",".join(adl) or None, spec))
            phrase.clear()
            i = j + 1
            while i < len(toks) and not special(i, ",;"):
                i += 1
            continue
        if kind == "s" and v == ":" and not in_group:
            out.append(b"(NIL NIL " + quote(_phrase(phrase).encode("latin-1")) + b" NIL)")
            phrase.clear()
            in_group = True
        elif kind == "s" and v == ";" and in_group:
            if phrase:
                out.append(_bare(phrase))
                phrase.clear()
            out.append(b"(NIL NIL NIL NIL)")
            in_group = False
        elif kind == "s" and v == ",":
            if phrase:
                out.append(_bare(phrase))
                phrase.clear()
        else:
            phrase.append(toks[i])
        i += 1
    if phrase:
        out.append(_bare(phrase))
    if in_group:
        out.append(b"(NIL NIL NIL NIL)")
    return b"(" + b"".join(out) + b")" if out else _NIL


def _text(part: Part, name: str) -> bytes:
    """An envelope string field, as Dovecot 2.3 sends it (observed): a folded Subject,
    or one with trailing blanks, goes as a trimmed literal; anything else is quoted
    when it can be."""
    for key, text in part.fields:
        if key == name:
            value = mime.unfold(text)
            if name == "subject" and (
                b"\n" in text.rstrip(b"\r\n") or value.endswith((b" ", b"\t"))
            ):
                value = value.rstrip(b" \t")
                return b"{%d}\r\n%s" % (len(value), value)
            return quote(value)
    return _NIL


def _envelope(part: Part) -> bytes:
    sender = part.get("from")
    fields = [
        _text(part, "date"),
        _text(part, "subject"),
        _addresses(sender),
        _addresses(part.get("sender") or sender),
        _addresses(part.get("reply-to") or sender),
        _addresses(part.get("to")),
        _addresses(part.get("cc")),
        _addresses(part.get("bcc")),
        _text(part, "in-reply-to"),
        _text(part, "message-id"),
    ]
    return b"(" + b" ".join(fields) + b")"


def envelope(raw: bytes) -> bytes:
    """The ENVELOPE of a message (RFC 3501 7.4.2), wire-ready."""
    return _envelope(mime.parse(raw[: mime.header_end(raw)]))


# -- BODYSTRUCTURE ------------------------------------------------------------------------


def _plist(params: Iterable[tuple[str, str]]) -> bytes:
    items = [quote(k.encode("latin-1")) + b" " + quote(v.encode("latin-1")) for k, v in params]
    return b"(" + b" ".join(items) + b")" if items else _NIL


def _disposition(part: Part) -> bytes:
    value = part.get("content-disposition")
    if value is None:
        return _NIL
    text = value.decode("latin-1")
    kind, _, rest = text.partition(";")
    params = mime.params(";" + rest) if rest else ()
    return b"(" + quote(kind.strip().encode("latin-1")) + b" " + _plist(params) + b")"


def _language(part: Part) -> bytes:
    value = part.get("content-language")
    if value is None:
        return _NIL
    tags = [t.strip() for t in value.decode("latin-1").split(",") if t.strip()]
    if not tags:
        return _NIL
    return b"(" + b" ".join(quote(t.encode("latin-1")) for t in tags) + b")"


def _lines(body: bytes) -> int:
    """Line count as Dovecot reports it: the number of LFs (an unterminated last line
    does not count)."""
    return body.count(b"\n")


def _structure(part: Part, extensible: bool) -> bytes:
    if part.multipart:
        out = b"".join(_structure(child, extensible) for child in part.children)
        out += b" " + quote(part.subtype_text.encode("latin-1"))
        if extensible:
            out += b" " + b" ".join(
                [
                    _plist(part.params),
                    _disposition(part),
                    _language(part),
                    nstring(part.get("content-location")),
                ]
            )
        return b"(" + out + b")"
    params = part.params
    if part.maintype == "text" and not any(k.lower() == "charset" for k, _ in params):
        params = (*params, ("charset", "us-ascii"))
    encoding = part.get("content-transfer-encoding")
    fields = [
        quote(part.type_text.encode("latin-1")),
        quote(part.subtype_text.encode("latin-1")),
        _plist(params),
        nstring(part.get("content-id")),
        nstring(part.get("content-description")),
        quote(encoding if encoding else b"7bit"),
        b"%d" % len(part.body),
    ]
    if part.rfc822:
        assert part.message is not None
        fields += [
            _envelope(part.message),
            _structure(part.message, extensible),
            b"%d" % _lines(part.body),
        ]
    elif part.maintype == "text":
        fields.append(b"%d" % _lines(part.body))
    if extensible:
        fields += [
            nstring(part.get("content-md5")),
            _disposition(part),
            _language(part),
            nstring(part.get("content-location")),
        ]
    return b"(" + b" ".join(fields) + b")"


def bodystructure(raw: bytes, extensible: bool = True) -> bytes:
    """BODYSTRUCTURE (or BODY when ``extensible`` is False), wire-ready."""
    return _structure(mime.parse(raw), extensible)
