"""What FETCH needs from a message's bytes: sections, ENVELOPE, BODYSTRUCTURE, strings.

Everything works on bytes and returns bytes ready for the wire (IMAP quoted strings,
literals and NIL already applied), because sections must be the message's very
octets and header text may be 8-bit. :mod:`fakeserver.mime` cuts the part tree.
Outputs aim at what Dovecot returns for the same message (RFC 3501 7.4.2): RFC 2047
words and RFC 2231 parameters are passed through undecoded.
"""

from __future__ import annotations

from collections.abc import Iterable

from inboxlab.fakeserver import mime
from inboxlab.fakeserver.envelope import envelope, envelope_of
from inboxlab.fakeserver.imapstr import NIL, astring, nstring, quote
from inboxlab.fakeserver.mime import Part

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
    # A message without a blank line after its header: Dovecot 2.3 makes none up for
    # HEADER.FIELDS.NOT (a cut of the header as it is) but always ends HEADER.FIELDS with
    # one (a list of the fields it found); tests/interop/test_differential.py checks both.
    no_blank = end == len(raw) and not raw.endswith((b"\n\n", b"\n\r\n"))
    if negate and no_blank and raw not in (b"\r\n", b"\n"):
        return b"".join(picked)
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


# -- BODYSTRUCTURE ------------------------------------------------------------------------


def _plist(params: Iterable[tuple[str, str]]) -> bytes:
    items = [quote(k.encode("latin-1")) + b" " + quote(v.encode("latin-1")) for k, v in params]
    return b"(" + b" ".join(items) + b")" if items else NIL


def _disposition(part: Part) -> bytes:
    value = part.get("content-disposition")
    if value is None:
        return NIL
    text = value.decode("latin-1")
    kind, _, rest = text.partition(";")
    params = mime.params(";" + rest) if rest else ()
    return b"(" + quote(kind.strip().encode("latin-1")) + b" " + _plist(params) + b")"


def _language(part: Part) -> bytes:
    value = part.get("content-language")
    if value is None:
        return NIL
    tags = [t.strip() for t in value.decode("latin-1").split(",") if t.strip()]
    if not tags:
        return NIL
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
            envelope_of(part.message),
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
