"""Modified UTF-7 (RFC 3501 section 5.1.3): how IMAP4rev1 spells non-ASCII mailbox names.

"Elementy wys&AUI-ane" is "Elementy wysłane". Decoding is lenient about nothing: a
malformed name raises ``ValueError`` so the caller can keep the raw bytes instead of
showing a guessed name.
"""

from __future__ import annotations

import base64


def decode(raw: bytes) -> str:
    """Modified UTF-7 bytes -> str; ``ValueError`` if the bytes are not valid."""
    if b"&" not in raw:
        if any(b > 0x7E for b in raw):
            # IMAP4rev2 / UTF8=ACCEPT servers send UTF-8 directly.
            return raw.decode("utf-8")
        return raw.decode("ascii")
    out: list[str] = []
    i = 0
    n = len(raw)
    while i < n:
        amp = raw.find(b"&", i)
        if amp < 0:
            out.append(raw[i:].decode("ascii"))
            break
        out.append(raw[i:amp].decode("ascii"))
        end = raw.find(b"-", amp + 1)
        if end < 0:
            raise ValueError(f"unterminated &...- shift in mailbox name {raw!r}")
        chunk = raw[amp + 1 : end]
        if not chunk:
            out.append("&")
        else:
            b64 = chunk.replace(b",", b"/")
            b64 += b"=" * (-len(b64) % 4)
            try:
                out.append(base64.b64decode(b64, validate=True).decode("utf-16-be"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise ValueError(f"bad modified UTF-7 in mailbox name {raw!r}: {exc}") from exc
        i = end + 1
    return "".join(out)


def encode(name: str) -> bytes:
    """str -> modified UTF-7 bytes, for mailbox names in commands."""
    out = bytearray()
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = "".join(pending).encode("utf-16-be")
            out.extend(b"&" + base64.b64encode(data).rstrip(b"=").replace(b"/", b",") + b"-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.extend(b"&-" if ch == "&" else ch.encode("ascii"))
        else:
            pending.append(ch)
    flush()
    return bytes(out)
