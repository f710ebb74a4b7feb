"""FETCH responses: a careful scanner for any shape, and learned fast paths for repeats.

A folder scan answers ``UID FETCH 1:* (...)`` with 100k responses of the same shape:
``* n FETCH (UID u FLAGS (...) RFC822.SIZE s INTERNALDATE "..." BODY[...] {len}``.
Scanning each item by hand costs several ``find`` calls per item; instead, the first
response of a shape is scanned by ``fetch_items`` (which also reports the shape), and
``FetchShapes`` compiles ONE anchored regex for that exact item sequence. Later
responses are matched by that single regex directly in the parser's buffer (no framing
pass, no copy), and anything it does not match exactly falls back to the careful
scanner, so both paths give identical events (the tests check that).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from inboxlab.engine.errors import ProtocolViolation
from inboxlab.engine.imap.lexer import DIGITS, DQ, LC, LP, RP, SP, TILDE, literal, quoted, values
from inboxlab.engine.imap.model import Fetch, Value, new_fetch

_NUMERIC = {"UID", "RFC822.SIZE"}
_KNOWN_NAMES = {
    b"UID": "UID",
    b"FLAGS": "FLAGS",
    b"RFC822.SIZE": "RFC822.SIZE",
    b"INTERNALDATE": "INTERNALDATE",
    b"MODSEQ": "MODSEQ",
    b"ENVELOPE": "ENVELOPE",
    b"BODYSTRUCTURE": "BODYSTRUCTURE",
}

_BIG = 1 << 16


def copy_out(buf: bytearray, start: int, stop: int) -> bytes:
    """``bytes(buf[start:stop])`` without the intermediate bytearray: one copy, not two,
    which matters for a 30 MB message body (and the view is released at once, so the
    buffer can still be compacted)."""
    with memoryview(buf) as view:
        return view[start:stop].tobytes()


# (raw item name as the server spelled it, dict key, value kind)
ShapeItem = tuple[bytes, str, str]


def _flags(raw: bytes) -> tuple[str, ...]:
    return tuple(raw.decode("utf-8", "replace").split())


def fetch_items(data: bytes, i: int) -> tuple[dict[str, Value], tuple[ShapeItem, ...] | None]:
    """The ``(name value ...)`` at ``i`` -> (items, shape or None if not template-able)."""
    if data[i] != LP:
        raise ProtocolViolation("FETCH data must start with '('", data)
    i += 1
    items: dict[str, Value] = {}
    shape: list[ShapeItem] | None = []
    while True:
        c = data[i]
        if c == RP:
            break
        if c == SP:
            i += 1
            shape = None
            continue
        sp = data.find(b" ", i)
        br = data.find(b"[", i, sp)
        if br >= 0:
            close = data.find(b"]", br)
            if close < 0:
                raise ProtocolViolation("unterminated section '['", data)
            sp = close + 1
            if data[sp] == 60:  # '<' partial origin
                sp = data.index(b">", sp) + 1
            if data[sp] != SP:
                raise ProtocolViolation("FETCH item name without a value", data)
        elif sp < 0:
            raise ProtocolViolation("FETCH item name without a value", data)
        raw_name = data[i:sp]
        name = _KNOWN_NAMES.get(raw_name) or raw_name.decode("ascii").upper()
        i = sp + 1
        c = data[i]
        kind = ""
        if name in _NUMERIC:
            j = i
            while data[j] in DIGITS:
                j += 1
            if j == i:
                raise ProtocolViolation(f"{name} must be a number", data)
            items[name] = int(data[i:j])
            i = j
            kind = "num"
        elif name == "FLAGS" and c == LP:
            j = data.index(b")", i)
            items[name] = _flags(data[i + 1 : j])
            i = j + 1
            kind = "flags"
        elif c == DQ:
            s, i = quoted(data, i)
            if name == "INTERNALDATE":
                items[name] = s.decode("ascii")
                kind = "date"
            else:
                items[name] = s
        elif c == LC or (c == TILDE and data[i + 1] == LC):
            kind = "literal" if c == LC else ""
            items[name], i = literal(data, i)
        elif name == "MODSEQ" and c == LP:
            j = data.index(b")", i)
            items[name] = int(data[i + 1 : j])
            i = j + 1
            kind = "modseq"
        else:
            (value,), i = values(data, i, single=True)
            items[name] = value
        if shape is not None:
            if kind:
                shape.append((raw_name, name, kind))
            else:
                shape = None
        c = data[i]
        if c == SP:
            i += 1
        elif c != RP:
            raise ProtocolViolation(f"garbage after FETCH item {name}", data)
    if data[i + 1 :].strip():
        raise ProtocolViolation("trailing bytes after FETCH data", data)
    return items, (tuple(shape) if shape else None)


_PATTERNS = {
    "num": rb"(\d+)",
    "flags": rb'\(([^()"{}\r\n]*)\)',
    "date": rb'"([ !#-\[\]-~]*)"',
    "modseq": rb"\((\d+)\)",
    "literal": rb"\{(\d+)\}\r\n",
}
# How each kind of value is converted, as source snippets over the match groups ``g``:
# one generated function per shape builds the whole items dict in a single expression
# (the dataclasses/namedtuple technique). Only these fixed snippets and generated names
# reach ``exec``; the server's item names are passed in as values, never as source.
_CONVERT = {
    "num": "int(g[{i}])",
    "modseq": "int(g[{i}])",
    "flags": "((FLAGS.get(g[{i}]) or flags(g[{i}])) if g[{i}] else ())",
    "date": "g[{i}].decode('ascii')",
}


# A mailbox has few distinct flag sets ("\Seen", "\Seen \Flagged", ""): parse each once.
_FLAG_CACHE: dict[bytes, tuple[str, ...]] = {}


def _cached_flags(raw: bytes) -> tuple[str, ...]:
    flags = _flags(raw)
    if len(_FLAG_CACHE) < 512:
        _FLAG_CACHE[bytes(raw)] = flags
    return flags


def _builder(keys: tuple[str, ...], kinds: tuple[str, ...],
             first: int = 1) -> Callable[[Any], dict[str, Any]]:
    """items from match groups ``g[first:]`` (group 0 of a response's first segment is
    the sequence number; later segments have none)."""
    entries = ", ".join(
        f"K{k}: " + _CONVERT[kind].format(i=k + first) for k, kind in enumerate(kinds)
    )
    namespace: dict[str, Any] = {f"K{k}": key for k, key in enumerate(keys)}
    namespace.update(FLAGS=_FLAG_CACHE, flags=_cached_flags)
    exec(f"def build(g):\n    return {{{entries}}}\n", namespace)
    build: Callable[[Any], dict[str, Any]] = namespace["build"]
    return build


@dataclass(frozen=True, slots=True)
class _Segment:
    """What follows a literal that is not the last item: `` NAME value ...`` up to the
    next literal's ``{n}\r\n`` (``literal_key`` set) or to the closing ``)\r\n``."""

    rx: re.Pattern[bytes]
    build: Callable[[Any], dict[str, Any]]
    literal_key: str | None


@dataclass(frozen=True, slots=True)
class _Template:
    rx: re.Pattern[bytes]
    build: Callable[[Any], dict[str, Any]]
    literal_key: str | None
    rest: tuple[_Segment, ...] = ()  # after the first literal, when it is not last


def _segments(shape: tuple[ShapeItem, ...]) -> list[tuple[tuple[ShapeItem, ...], bool]]:
    """The shape cut after each literal: (items, ends with a literal)."""
    out: list[tuple[tuple[ShapeItem, ...], bool]] = []
    start = 0
    for k, (_raw, _key, kind) in enumerate(shape):
        if kind == "literal":
            out.append((shape[start : k + 1], True))
            start = k + 1
    if start < len(shape) or not out:
        out.append((shape[start:], False))
    return out


def _segment_rx(items: tuple[ShapeItem, ...], lit: bool, head: bytes) -> re.Pattern[bytes]:
    """``head`` is the response's start (first segment) or the space after a literal."""
    parts = [head]
    for k, (raw, _key, kind) in enumerate(items):
        parts.append((b" " if k else b"") + re.escape(raw) + b" " + _PATTERNS[kind])
    if not lit:
        parts.append(rb"\)\r\n")
    return re.compile(b"".join(parts))


def _read_rest(t: _Template, buf: bytearray, stop: int, items: dict[str, Any],
               max_literal: int) -> int:
    """Match the segments after a literal that is not last; the response's end offset,
    0 if a literal is still arriving, -1 if it does not match (the careful path decides:
    that includes a response whose tail has not arrived yet)."""
    size = len(buf)
    for seg in t.rest:
        m = seg.rx.match(buf, stop)
        if m is None:
            return -1
        g = m.groups()
        items.update(seg.build(g))
        if seg.literal_key is None:
            return m.end()
        end = m.end()
        n = int(g[-1])
        if n > max_literal:
            return -1
        stop = end + n
        if stop > size:
            return 0
        items[seg.literal_key] = bytes(buf[end:stop]) if n < _BIG else copy_out(buf, end, stop)
    return -1  # not reached: the last segment ends with ")\r\n"


def _keys_kinds(items: tuple[ShapeItem, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(key for _raw, key, _kind in items), tuple(kind for _raw, _key, kind in items)


class FetchShapes:
    """Regexes for the FETCH shapes seen so far (a handful per session, capped)."""

    def __init__(self, limit: int = 8) -> None:
        self._limit = limit
        self._known: dict[tuple[ShapeItem, ...], _Template] = {}
        self.active: list[_Template] = []

    def learn(self, shape: tuple[ShapeItem, ...]) -> None:
        if shape in self._known or self._limit <= 0:
            return
        (head, lit), *more = _segments(shape)
        rest = tuple(
            _Segment(_segment_rx(items, ends, b" "),
                     _builder(*_keys_kinds(items[:-1] if ends else items), first=0),
                     items[-1][1] if ends else None)
            for items, ends in more)
        template = _Template(
            _segment_rx(head, lit, rb"\* (\d+) FETCH \("),
            _builder(*_keys_kinds(head[:-1] if lit else head)),
            head[-1][1] if lit else None,
            rest,
        )
        if len(self._known) >= self._limit:
            oldest = next(iter(self._known))
            self.active.remove(self._known.pop(oldest))
        self._known[shape] = template
        self.active.insert(0, template)

    def match(
        self, buf: bytearray, pos: int, max_literal: int
    ) -> tuple[Fetch | None, int] | None:
        """(event, end offset); (None, 0) if its literal is still arriving; None: no match.

        None means "let the careful path decide" (it may still be a valid FETCH).
        """
        for k, t in enumerate(self.active):
            m = t.rx.match(buf, pos)
            if m is None:
                continue
            if k:  # most recently useful first: ``run`` only tries the first
                self.active.insert(0, self.active.pop(k))
            g = m.groups()
            end = m.end()
            if t.literal_key is None:
                return new_fetch(int(g[0]), t.build(g)), end
            n = int(g[-1])
            stop = end + n
            if n > max_literal:
                return None
            if stop + (0 if t.rest else 3) > len(buf):
                return None, 0
            if not t.rest and buf[stop : stop + 3] != b")\r\n":
                return None
            items = t.build(g)
            items[t.literal_key] = bytes(buf[end:stop]) if n < _BIG else copy_out(buf, end, stop)
            if not t.rest:
                return new_fetch(int(g[0]), items), stop + 3
            done = _read_rest(t, buf, stop, items, max_literal)
            if done < 0:
                return None
            return (None, 0) if done == 0 else (new_fetch(int(g[0]), items), done)
        return None

    def run(self, buf: bytearray, pos: int, max_literal: int, out: list[Fetch]) -> int:
        """Append every consecutive complete FETCH of the newest shape to ``out``.

        The hot loop of a folder scan: no per-response method calls or framing. Returns
        the offset after the last one taken; stops at anything else (even an incomplete
        response), which the careful path then handles.
        """
        if not self.active:
            return pos
        t = self.active[0]
        rx_match = t.rx.match
        build = t.build
        key = t.literal_key
        append = out.append
        fetch = new_fetch
        size = len(buf)
        rest = t.rest
        while (m := rx_match(buf, pos)) is not None:
            g = m.groups()
            end = m.end()
            if key is None:
                append(fetch(int(g[0]), build(g)))
                pos = end
                continue
            n = int(g[-1])
            stop = end + n
            if rest:  # a literal that is not last: the segments after it
                if n > max_literal or stop > size:
                    break
                items = build(g)
                items[key] = bytes(buf[end:stop]) if n < _BIG else copy_out(buf, end, stop)
                done = _read_rest(t, buf, stop, items, max_literal)
                if done <= 0:
                    break
                append(fetch(int(g[0]), items))
                pos = done
                continue
            if n > max_literal or stop + 3 > size or buf[stop : stop + 3] != b")\r\n":
                break
            items = build(g)
            items[key] = bytes(buf[end:stop]) if n < _BIG else copy_out(buf, end, stop)
            append(fetch(int(g[0]), items))
            pos = stop + 3
        return pos
