"""IMAP string encoding as Dovecot does it: quoted when plain, literal otherwise."""

from __future__ import annotations

__all__ = ["NIL", "astring", "nstring", "quote"]

NIL = b"NIL"


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
    return NIL if value is None else quote(value)


def astring(value: str) -> bytes:
    """An atom when it is one (mailbox names in LIST look nicer), else a string."""
    if value and all(c.isascii() and c.isprintable() and c not in ' (){%*"\\]' for c in value):
        return value.encode("ascii")
    return quote(value)
