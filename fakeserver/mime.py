"""Split a message's bytes into its MIME part tree, keeping every part's exact octets.

stdlib ``email`` re-serialises what it parses, but ``BODY[1.2]`` must return the very
bytes of the message, so the tree is cut from the raw bytes here; only the small job
of reading header values is done by hand too (type, subtype, parameters), which also
keeps RFC 2231 and RFC 2047 text undecoded, as Dovecot reports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Part", "header_end", "params", "parse", "quoted_string", "split_fields", "unfold"]

_MAX_DEPTH = 32  # a crafted message nests deeper than any real one


_HEADER_WINDOW = 16 * 1024  # how much of a part is read to find its Content-Type


def header_end(raw: bytes) -> int:
    """Offset just past the blank line ending the header (``len(raw)`` when none)."""
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

    Continuation lines before the first field, and lines without a colon, are not
    fields and are skipped.
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


def unfold(field_text: bytes) -> bytes:
    """A field's value: after the colon and its blanks, with CR/LF removed (unfolded)."""
    value = field_text[field_text.find(b":") + 1 :].lstrip(b" \t")
    return value.replace(b"\r", b"").replace(b"\n", b"")


def quoted_string(text: str, i: int) -> tuple[str, int]:
    """The RFC 5322 quoted-string opening at ``text[i]``: (its content unescaped, the
    index after the closing quote). An unclosed string runs to the end of the text."""
    n = len(text)
    i += 1
    chars = []
    while i < n and text[i] != '"':
        if text[i] == "\\" and i + 1 < n:
            i += 1
        chars.append(text[i])
        i += 1
    return "".join(chars), i + 1


def params(text: str) -> tuple[tuple[str, str], ...]:
    """``; name=value`` pairs after a type or disposition (quoted values unquoted)."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        semi = text.find(";", i)
        if semi < 0:
            break
        i = semi + 1
        eq = text.find("=", i)
        if eq < 0:
            break
        name = text[i:eq].strip()
        i = eq + 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            value, i = quoted_string(text, i)
        else:
            end = text.find(";", i)
            end = n if end < 0 else end
            value = text[i:end].strip()
            i = end
        if name and not any(c in name for c in ' \t"()<>@,;:\\/[]?='):
            out.append((name, value))
    return _rfc2231(out)


def _rfc2231(pairs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Order (and join continuations of) RFC 2231 parameters as Dovecot reports them.

    Plain parameters come first in header order; extended ones (``name*``,
    ``name*0``, ``name*1*``...) follow, continuations joined under ``name`` or,
    when any piece is charset-encoded, ``name*``. Values stay undecoded.
    """
    plain = [(k, v) for k, v in pairs if "*" not in k]
    pieces: dict[str, list[tuple[int, bool, str]]] = {}
    for key, value in pairs:
        if "*" not in key:
            continue
        base, _, tail = key.partition("*")
        encoded = tail.endswith("*") or tail == ""
        number = tail.rstrip("*")
        index = int(number) if number.isdigit() else -1
        pieces.setdefault(base, []).append((index, encoded, value))
    extended = []
    for base, parts in pieces.items():
        parts.sort(key=lambda p: p[0])
        joined = "".join(v for _, _, v in parts)
        extended.append((base + "*" if any(e for _, e, _ in parts) else base, joined))
    return tuple(plain + extended)


@dataclass
class Part:
    """One MIME entity: its header and body octets, type, and sub-entities."""

    header: bytes
    body: bytes
    maintype: str
    subtype: str
    params: tuple[tuple[str, str], ...]
    fields: list[tuple[str, bytes]]
    children: list[Part] = field(default_factory=list)
    message: Part | None = None  # the encapsulated message of message/rfc822
    has_type: bool = True  # False when Content-Type was absent or unusable
    type_text: str = ""  # type and subtype as written (BODYSTRUCTURE keeps the case)
    subtype_text: str = ""

    def get(self, name: str) -> bytes | None:
        """Unfolded value of the first ``name`` field, or None."""
        for key, text in self.fields:
            if key == name:
                return unfold(text)
        return None

    @property
    def multipart(self) -> bool:
        return self.maintype == "multipart"

    @property
    def rfc822(self) -> bool:
        return self.maintype == "message" and self.subtype == "rfc822" and self.message is not None


def parse(
    raw: bytes,
    default: tuple[str, str] = ("text", "plain"),
    depth: int = 0,
    is_message: bool = True,
) -> Part:
    """The part tree of ``raw`` (a message, or a body part when not ``is_message``).

    Never raises on bad input: whatever the bytes, some tree comes out.
    """
    end = header_end(raw)
    header, body = raw[:end], raw[end:]
    fields = split_fields(header)
    part = Part(header, body, default[0], default[1], (), fields, has_type=False)
    part.type_text, part.subtype_text = default
    ctype = part.get("content-type")
    if ctype is not None:
        text = ctype.decode("latin-1")
        main, _, rest = text.partition(";")
        kind, _, sub = main.partition("/")
        kind, sub = kind.strip(), sub.strip()
        if kind and " " not in kind + sub:
            # Dovecot reports the type as written, even without a subtype ("garbage" "").
            part.type_text, part.subtype_text, part.has_type = kind, sub, True
            part.maintype, part.subtype = kind.lower(), sub.lower()
            part.params = params(";" + rest) if rest else ()
    if not part.has_type and is_message and not any(k == "mime-version" for k, _ in fields):
        # A message with neither MIME-Version nor Content-Type is not MIME at all:
        # Dovecot ignores its other Content-* fields, and so do we.
        part.fields = [(k, v) for k, v in fields if not k.startswith("content-")]
    if depth >= _MAX_DEPTH:
        if part.maintype in ("multipart", "message"):
            part.maintype, part.subtype, part.params = "text", "plain", ()
            part.type_text, part.subtype_text = "text", "plain"
        return part
    if part.multipart:
        boundary = next((v for k, v in part.params if k.lower() == "boundary"), "")
        child_default = ("message", "rfc822") if part.subtype == "digest" else ("text", "plain")
        spans = _split(body, boundary.encode("latin-1")) if boundary else []
        part.children = [_child(body, s, e, child_default, depth) for s, e in spans]
        if not part.children:  # as Dovecot: one empty text/plain part
            part.children = [parse(b"", ("text", "plain"), depth + 1, is_message=False)]
    elif part.maintype == "message" and part.subtype == "rfc822":
        part.message = parse(body, ("text", "plain"), depth + 1)
    return part


def _child(body: bytes, start: int, end: int, default: tuple[str, str], depth: int) -> Part:
    child = parse(body[start:end], default, depth + 1, is_message=False)
    if child.multipart and not child.body.endswith(b"\n"):
        # Dovecot ends a nested multipart with its close delimiter's whole line: the line
        # break after it counts as the multipart's (BODY[1] of mixed-with-alternative
        # shows it) unless an epilogue line already ended the span with one
        # (tests/interop/test_differential.py, message "nested multipart").
        tail = body[end : end + 2]
        extra = 2 if tail == b"\r\n" else 1 if tail[:1] == b"\n" else 0
        if extra:
            child.body += body[end : end + extra]
    return child


def _past_nested_reuse(body: bytes, start: int, boundary: bytes) -> int:
    """Where the parent's next delimiter may be, for the part at ``start``.

    A nested multipart that reuses its parent's boundary (malformed, but real mail:
    CPython's corpus msg_15, msg_39) owns the delimiters up to its own close delimiter,
    as in Dovecot 2.3 (a delimiter line belongs to the innermost multipart with that
    boundary); the parent's next part starts after it. Otherwise: ``start``.
    """
    window = body[start : start + _HEADER_WINDOW]
    if boundary.lower() not in window.lower() or b"multipart" not in window.lower():
        return start
    end = header_end(window)
    ctype = next((unfold(v) for k, v in split_fields(window[:end]) if k == "content-type"),
                 None)
    if ctype is None or not ctype.lower().lstrip().startswith(b"multipart/"):
        return start
    rest = ctype.decode("latin-1").partition(";")[2]
    own = next((v for k, v in params(";" + rest) if k.lower() == "boundary"), "")
    if own.encode("latin-1") != boundary:
        return start
    close = b"--" + boundary + b"--"
    at = start + end
    while (at := body.find(close, at)) >= 0:
        tail = body[at + len(close) : at + len(close) + 256].split(b"\n", 1)[0]
        if body[at - 1 : at] == b"\n" and not tail.strip():
            eol = body.find(b"\n", at)
            return len(body) if eol < 0 else eol + 1
        at += 1
    return start


def _split(body: bytes, boundary: bytes) -> list[tuple[int, int]]:
    """Spans of the body parts between ``--boundary`` lines (RFC 2046 5.1.1).

    The line break before a delimiter belongs to the delimiter. A missing close
    delimiter ends the last part at the end of the body.
    """
    delim = b"--" + boundary
    spans: list[tuple[int, int]] = []
    start = -1
    search = 0
    closed = False
    while True:
        p = body.find(delim, search)
        if p < 0:
            break
        if p > 0 and body[p - 1 : p] != b"\n":
            search = p + 1
            continue
        after = p + len(delim)
        eol = body.find(b"\n", after)
        line_end = len(body) if eol < 0 else eol + 1
        close = body[after : after + 2] == b"--"
        rest = body[after + (2 if close else 0) : line_end]
        if rest.strip(b" \t\r\n"):
            search = p + 1  # a longer boundary that merely starts with ours
            continue
        if start >= 0:
            end = p
            if end > start and body[end - 1 : end] == b"\n":
                end -= 1
                if end > start and body[end - 1 : end] == b"\r":
                    end -= 1
            spans.append((start, end))
        if close:
            closed = True
            break
        start = search = line_end
        search = _past_nested_reuse(body, start, boundary)
    if start >= 0 and not closed:
        spans.append((start, len(body)))
    return spans
