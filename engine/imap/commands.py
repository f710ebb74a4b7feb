"""Command builder: arguments -> wire bytes, with quoting, literals, LITERAL+ and tags.

Sans-I/O like the parser. A built ``Command`` is a list of wire chunks: every chunk
but the last ends with a synchronizing literal announcement ``{n}\\r\\n`` and must
wait for the server's ``+`` before the next is sent. With LITERAL+ (or LITERAL- for
small literals, RFC 7888) literals are ``{n+}`` and the command is one chunk.

Argument types decide the encoding, so a caller cannot inject syntax by accident:
``Atom`` goes out verbatim (validated), ``str`` is always a quoted string (or a
literal if it cannot be quoted), ``bytes`` is always a literal, ``int`` a number,
``Mailbox`` a modified-UTF-7 name, tuples/lists parenthesised lists.
``trace_text`` is the same command with secret arguments replaced at the source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from inboxlab.engine.errors import ConfigError
from inboxlab.engine.imap import utf7

REDACTED = b"[redacted]"
LITERAL_MINUS_MAX = 4096
_ATOM_OK = re.compile(rb"[!#$&'*+,\-./0-9:;<=>?@A-Z\[\\\]^_`a-z|}~]+")
_SEQ_SET = re.compile(r"(\d+|\*)(:(\d+|\*))?(,(\d+|\*)(:(\d+|\*))?)*|\$")


class Atom(str):
    """Sent verbatim: keywords, flags, sequence sets, fetch items (``BODY.PEEK[HEADER]``)."""


class Mailbox(str):
    """A mailbox name; encoded to modified UTF-7 and quoted."""


Arg = Atom | Mailbox | str | bytes | int | Sequence["Arg"]


@dataclass(frozen=True)
class Command:
    tag: str
    name: str
    chunks: tuple[bytes, ...]
    trace_text: str

    @property
    def wire(self) -> bytes:
        return b"".join(self.chunks)


class TagCounter:
    """Tags ``A0001``, ``A0002``...; the prefix tells our connections apart in traces."""

    def __init__(self, prefix: str = "A") -> None:
        if not _ATOM_OK.fullmatch(prefix.encode()) or "+" in prefix:
            raise ConfigError(f"tag prefix {prefix!r} is not a valid IMAP tag", code="bad_tag")
        self._prefix = prefix
        self._n = 0

    def next(self) -> str:
        self._n += 1
        return f"{self._prefix}{self._n:04d}"


def build(
    tag: str,
    name: str,
    *args: Arg,
    literal_plus: bool = False,
    literal_minus: bool = False,
    secret: Iterable[int] = (),
) -> Command:
    """Encode ``tag NAME args...``; arguments whose index is in ``secret`` are redacted in
    ``trace_text`` (LOGIN's password, AUTHENTICATE's response)."""
    hidden = set(secret)
    chunks: list[bytes] = []
    cur = bytearray(f"{tag} {name}".encode("ascii"))
    shown = bytearray(cur)
    for k, arg in enumerate(args):
        cur += b" "
        shown += b" "
        pieces = _encode(arg, literal_plus, literal_minus)
        for piece in pieces:
            if isinstance(piece, _Sync):
                cur += piece.head
                chunks.append(bytes(cur))
                cur = bytearray(piece.body)
            else:
                cur += piece
        if k in hidden:
            shown += REDACTED
        else:
            shown += _shown(pieces)
    cur += b"\r\n"
    chunks.append(bytes(cur))
    return Command(tag, name, tuple(chunks), shown.decode("utf-8", "replace"))


@dataclass(frozen=True)
class _Sync:
    """A synchronizing literal: send ``head`` ({n}\\r\\n), wait for '+', then ``body``."""

    head: bytes
    body: bytes


def _shown(pieces: list[bytes | _Sync]) -> bytes:
    out = bytearray()
    for p in pieces:
        if isinstance(p, _Sync):
            out += p.head.rstrip(b"\r\n") + b"<" + str(len(p.body)).encode() + b" bytes>"
        elif p.startswith(b"{") and b"}\r\n" in p:
            head, _, body = p.partition(b"\r\n")
            out += head + b"<" + str(len(body)).encode() + b" bytes>"
        elif len(p) > 200:
            out += p[:80] + b"...<" + str(len(p)).encode() + b" bytes>"
        else:
            out += p
    return bytes(out)


def _literal(data: bytes, plus: bool, minus: bool) -> list[bytes | _Sync]:
    if plus or (minus and len(data) <= LITERAL_MINUS_MAX):
        return [b"{%d+}\r\n" % len(data) + data]
    return [_Sync(b"{%d}\r\n" % len(data), data)]


def _encode(arg: Arg, plus: bool, minus: bool) -> list[bytes | _Sync]:
    if isinstance(arg, Atom):
        raw = arg.encode("ascii", "strict") if arg.isascii() else b""
        if not raw or b"\r" in raw or b"\n" in raw or b"\0" in raw:
            raise ConfigError(f"not a valid IMAP atom: {arg!r}", code="bad_argument")
        return [raw]
    if isinstance(arg, Mailbox):
        return _string(utf7.encode(arg), plus, minus)
    if isinstance(arg, str):
        return _string(arg.encode("utf-8"), plus, minus)
    if isinstance(arg, bytes | bytearray):
        return _literal(bytes(arg), plus, minus)
    if isinstance(arg, bool):
        raise ConfigError("booleans are not IMAP arguments", code="bad_argument")
    if isinstance(arg, int):
        if arg < 0:
            raise ConfigError(f"IMAP numbers are unsigned, got {arg}", code="bad_argument")
        return [str(arg).encode()]
    if isinstance(arg, list | tuple):
        out: list[bytes | _Sync] = [b"("]
        for k, item in enumerate(arg):
            if k:
                out.append(b" ")
            out.extend(_encode(item, plus, minus))
        out.append(b")")
        return out
    raise ConfigError(
        f"cannot encode {type(arg).__name__} as an IMAP argument", code="bad_argument"
    )


def _string(raw: bytes, plus: bool, minus: bool) -> list[bytes | _Sync]:
    """Quoted if 7-bit and free of CR/LF/NUL, else a literal."""
    if raw.isascii() and not any(c in raw for c in b"\r\n\0"):
        return [b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"']
    return _literal(raw, plus, minus)


# -- sequence sets and dates ------------------------------------------------------------


def uid_set(uids: str | Iterable[int]) -> Atom:
    """``"1:*"`` (validated) or integers compressed into ranges: [1,2,3,7] -> ``1:3,7``."""
    if isinstance(uids, str):
        if not _SEQ_SET.fullmatch(uids):
            raise ConfigError(f"not a sequence set: {uids!r}", code="bad_argument")
        return Atom(uids)
    nums = sorted(set(uids))
    if not nums or nums[0] < 1:
        raise ConfigError("a UID set needs at least one UID >= 1", code="bad_argument")
    parts: list[str] = []
    lo = prev = nums[0]
    for n in [*nums[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(lo) if lo == prev else f"{lo}:{prev}")
        if n is not None:
            lo = prev = n
    return Atom(",".join(parts))


def uid_chunks(uids: str | Iterable[int], chunk: int | None) -> list[Atom]:
    """UID sets of at most ``chunk`` UIDs each (one set if ``chunk`` is falsy)."""
    if isinstance(uids, str):
        return [uid_set(uids)]
    nums = sorted(set(uids))
    if not nums:
        return []
    if not chunk:
        return [uid_set(nums)]
    return [uid_set(nums[k : k + chunk]) for k in range(0, len(nums), chunk)]


def expand_uid_set(text: str, star: int | None = None) -> list[int]:
    """``"1:3,7"`` -> [1, 2, 3, 7]; ``*`` needs ``star`` (the largest UID)."""
    out: list[int] = []
    for part in text.split(","):
        lo_s, _, hi_s = part.partition(":")
        lo = _seq_num(lo_s, star)
        hi = _seq_num(hi_s, star) if hi_s else lo
        if lo > hi:
            lo, hi = hi, lo
        out.extend(range(lo, hi + 1))
    return out


def _seq_num(text: str, star: int | None) -> int:
    if text == "*":
        if star is None:
            raise ValueError("'*' in a sequence set needs the largest UID")
        return star
    if not text.isdigit():
        raise ValueError(f"not a sequence number: {text!r}")
    return int(text)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_internaldate(when: datetime) -> str:
    """``datetime`` -> ``"17-Jul-1996 02:44:25 -0700"`` (naive means UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    off = when.utcoffset() or timedelta(0)
    minutes = int(off.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    zone = f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    return (
        f"{when.day:02d}-{_MONTHS[when.month - 1]}-{when.year:04d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} {zone}"
    )


def parse_internaldate(text: str) -> datetime:
    """``"17-Jul-1996 02:44:25 -0700"`` (or `` 7-Jul-...``) -> aware ``datetime``."""
    try:
        date, clock, zone = text.strip().split(" ")
        day, mon, year = date.split("-")
        hh, mm, ss = clock.split(":")
        sign = -1 if zone[0] == "-" else 1
        if zone[0] not in "+-" or len(zone) != 5:
            raise ValueError(zone)
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])))
        return datetime(
            int(year), _MONTHS.index(mon.title()) + 1, int(day), int(hh), int(mm), int(ss),
            tzinfo=tz,
        )
    except (ValueError, IndexError) as exc:
        raise ValueError(f"not an IMAP INTERNALDATE: {text!r}") from exc
