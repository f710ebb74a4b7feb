"""Modified UTF-7 mailbox names (RFC 3501 section 5.1.3), for display and for tests.

The parser keeps mailbox names exactly as the client sent them (a server must not
re-encode what it stores), so decoding is an explicit helper: the session uses it to
log or match human names; scenario authors use ``encode`` to write ``Entwürfe``.
"""

from __future__ import annotations

import base64
import binascii
import re

from fakeserver.errors import ProtocolError

__all__ = ["decode_mutf7", "encode_mutf7"]

_SHIFTED = re.compile(r"&([A-Za-z0-9+,]*)-")


def decode_mutf7(name: str) -> str:
    """``"Entw&APw-rfe"`` -> ``"Entwürfe"``; ``"&-"`` is a literal ampersand."""
    out: list[str] = []
    pos = 0
    while (amp := name.find("&", pos)) >= 0:
        out.append(name[pos:amp])
        match = _SHIFTED.match(name, amp)
        if match is None:
            raise ProtocolError(f"invalid modified UTF-7 in mailbox name {name!r}")
        chunk = match.group(1)
        if not chunk:
            out.append("&")
        else:
            padded = chunk.replace(",", "/") + "=" * (-len(chunk) % 4)
            try:
                text = base64.b64decode(padded, validate=True).decode("utf-16-be")
            except (binascii.Error, UnicodeDecodeError):
                text = "a"  # fails the canonical-form check below
            if any(0x20 <= ord(c) <= 0x7E for c in text):  # must have been sent directly
                raise ProtocolError(f"invalid modified UTF-7 in mailbox name {name!r}")
            out.append(text)
        pos = match.end()
    out.append(name[pos:])
    return "".join(out)


def encode_mutf7(name: str) -> str:
    """The inverse: printable ASCII stays, ``&`` becomes ``&-``, the rest is shifted."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + raw.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)
