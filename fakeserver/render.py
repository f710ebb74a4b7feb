"""What FETCH needs from a message's bytes: header cuts, sections, ENVELOPE, BODYSTRUCTURE.

Byte-exact work (sections must be the very octets of the message) is done on bytes
here; :mod:`fakeserver.mime` splits a message into parts with their offsets and
:mod:`fakeserver.imapstr` encodes IMAP strings. Outputs aim at what Dovecot returns
for the same message (RFC 3501 7.4.2): RFC 2047 words are passed through undecoded.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "header_fields",
    "header_pairs",
    "split_fields",
]


def _header_end(raw: bytes) -> int:
    """Offset just past the blank line ending the header (len(raw) when there is none)."""
    if raw.startswith(b"\r\n"):
        return 2
    if raw.startswith(b"\n"):
        return 1
    i = raw.find(b"\r\n\r\n")
    j = raw.find(b"\n\n")
    if i < 0 and j < 0:
        return len(raw)
    if i >= 0 and (j < 0 or i + 2 <= j + 1):
        return i + 4
    return j + 2


def split_fields(header: bytes) -> list[tuple[str, bytes]]:
    """Header fields as (lowercase name, raw field bytes with folding and line end).

    Lines before the first field that start with whitespace, and lines without a
    colon, are not fields; they are skipped (as Dovecot does).
    """
    fields: list[tuple[str, bytes]] = []
    for line in header.splitlines(keepends=True):
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t"):
            if fields:
                name, text = fields[-1]
                fields[-1] = (name, text + line)
            continue
        colon = line.find(b":")
        if colon <= 0:
            continue
        name = line[:colon].rstrip(b" \t").decode("ascii", "replace").lower()
        fields.append((name, line))
    return fields


def header_fields(raw: bytes, fields: Iterable[str], negate: bool = False) -> bytes:
    """``BODY[HEADER.FIELDS (...)]`` / ``.NOT``: matching fields in order, blank line last."""
    wanted = frozenset(f.lower() for f in fields)
    picked = [
        text if text.endswith(b"\n") else text + b"\r\n"
        for name, text in split_fields(raw[: _header_end(raw)])
        if (name in wanted) != negate
    ]
    return b"".join(picked) + b"\r\n"


def header_pairs(raw: bytes) -> list[tuple[str, str]]:
    """Top-level header fields as (name, raw value) text, folding CRLFs kept."""
    out = []
    for _, text in split_fields(raw[: _header_end(raw)]):
        decoded = text.decode("utf-8", "replace")
        name, _, value = decoded.partition(":")
        out.append((name.strip(), value.strip(" \t\r\n")))
    return out
