"""RFC 3501 5.1.3 modified UTF-7 for mailbox names on the wire.

The store keeps names exactly as a client would send them; configured names with
non-ASCII characters (``Elementy wysłane``) are encoded once when the store is built.
"""

from __future__ import annotations

import base64


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
    """The inverse of :func:`encode`; raises ValueError on malformed input."""
    out: list[str] = []
    pos = 0
    while pos < len(name):
        amp = name.find("&", pos)
        if amp < 0:
            out.append(name[pos:])
            break
        out.append(name[pos:amp])
        end = name.find("-", amp)
        if end < 0:
            raise ValueError(f"unterminated modified UTF-7 in {name!r}")
        chunk = name[amp + 1 : end]
        if not chunk:
            out.append("&")
        else:
            padded = chunk.replace(",", "/") + "=" * (-len(chunk) % 4)
            out.append(base64.b64decode(padded).decode("utf-16-be"))
        pos = end + 1
    return "".join(out)
