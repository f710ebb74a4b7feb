"""RFC 3501 5.1.3 modified UTF-7 for mailbox names on the wire.

The store keeps names exactly as a client would send them; configured names with
non-ASCII characters (``Elementy wysłane``) are encoded once when the store is built.
"""

from __future__ import annotations

import base64
import binascii


def _b64(chunk: str) -> str:
    data = chunk.encode("utf-16-be")
    return "&" + base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",") + "-"


def encode(name: str) -> str:
    """``"Entwürfe"`` -> ``"Entw&APw-rfe"``; ``&`` becomes ``&-``."""
    out: list[str] = []
    pending: list[str] = []
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            if pending:
                out.append(_b64("".join(pending)))
                pending.clear()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    if pending:
        out.append(_b64("".join(pending)))
    return "".join(out)


def decode(name: str) -> str:
    """The inverse of :func:`encode`; ValueError unless ``name`` is valid modified UTF-7:
    printable ASCII outside shifts, every ``&`` closed by ``-``, base64 of UTF-16 inside,
    and nothing shifted that could have been sent directly (RFC 3501 5.1.3; Dovecot
    refuses such names with "Mailbox name is not valid mUTF-7")."""
    out: list[str] = []
    pos = 0
    while pos < len(name):
        amp = name.find("&", pos)
        direct = name[pos:] if amp < 0 else name[pos:amp]
        if any(not 0x20 <= ord(c) <= 0x7E for c in direct):
            raise ValueError(f"invalid modified UTF-7 in {name!r}: raw non-ASCII")
        out.append(direct)
        if amp < 0:
            break
        end = name.find("-", amp)
        if end < 0:
            raise ValueError(f"invalid modified UTF-7 in {name!r}: unterminated '&'")
        chunk = name[amp + 1 : end]
        if not chunk:
            out.append("&")
        else:
            padded = chunk.replace(",", "/") + "=" * (-len(chunk) % 4)
            try:
                text = base64.b64decode(padded, validate=True).decode("utf-16-be")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise ValueError(f"invalid modified UTF-7 in {name!r}") from None
            if not text or any(0x20 <= ord(c) <= 0x7E for c in text):
                raise ValueError(f"invalid modified UTF-7 in {name!r}: shifted ASCII")
            out.append(text)
        pos = end + 1
    return "".join(out)


def valid(name: str) -> bool:
    try:
        decode(name)
    except ValueError:
        return False
    return True
