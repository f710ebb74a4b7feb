"""Deterministic, realistic messages made on demand from ``(GenSpec, index)``.

A generated folder may hold a million messages, so nothing here is stored per
message: every choice (sender, subject, thread parent, size, flags, dates) is read
from a splitmix64 hash of ``(seed, index)`` and picks from pools precomputed once per
spec. The same ``(spec, index)`` gives the same bytes in every process, forever.

Threads: messages are laid out in windows of 32 indices holding 4 interleaved
conversations of 8 slots; a reply's parent is an earlier slot of the same
conversation. That keeps thread chains short (at most 7 ancestors) so References
is computed by a bounded walk, never by recursion over the whole folder, while
conversations still interleave like a real inbox.

Two fast paths serve FETCH without building a whole message: ``header_fields``
renders only header lines (byte-identical to cutting them out of ``message``) and
``size`` is arithmetic (``message`` pads the text body to exactly that length).
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from fakeserver import names
from fakeserver.errors import ScenarioError

__all__ = [
    "FLAG_SETS",
    "GenSpec",
    "default_flags",
    "flag_codes",
    "header_fields",
    "headers",
    "internaldate",
    "message",
    "size",
]

_M64 = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15
_SALT2 = 0x5851F42D4C957F2D
_SALT3 = 0x14057B7EF767814F

_CONV = 4  # interleaved conversations per window
_SLOTS = 8  # messages per conversation per window
_WINDOW = _CONV * _SLOTS
_PERSONS = 1024  # power of two: picked with a 10-bit mask

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_SEEN, _FLAGGED, _ANSWERED = "\\Seen", "\\Flagged", "\\Answered"
FLAG_SETS: tuple[frozenset[str], ...] = tuple(
    frozenset(f for bit, f in ((1, _SEEN), (2, _FLAGGED), (4, _ANSWERED)) if code & bit)
    for code in range(8)
)


@dataclass(frozen=True)
class GenSpec:
    """What a generated folder looks like; hashable so per-spec tables are cached."""

    count: int
    seed: int
    thread_ratio: float = 0.3
    attachment_ratio: float = 0.05
    size_range: tuple[int, int] = (800, 6000)
    domain: str = "example.com"
    owner: str = "user@example.com"
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    seen_ratio: float = 0.7
    interval_s: int = 600  # mean spacing of Date headers; dates strictly increase

    def __post_init__(self) -> None:
        problems = []
        if not 0 <= self.count < 2**31:
            problems.append(f"count must be in [0, 2**31), got {self.count!r}")
        for name in ("thread_ratio", "attachment_ratio", "seen_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                problems.append(f"{name} must be in [0, 1], got {value!r}")
        lo, hi = self.size_range
        if not 0 < lo <= hi < 2**31:
            problems.append(
                f"size_range must satisfy 0 < lo <= hi < 2**31, got {self.size_range!r}"
            )
        if self.start.tzinfo is None:
            problems.append("start must be timezone-aware")
        if self.interval_s < 1:
            problems.append(f"interval_s must be >= 1, got {self.interval_s!r}")
        for name in ("domain", "owner"):
            value = getattr(self, name)
            if not value or not value.isascii() or any(c in value for c in ' <>\r\n"\\'):
                problems.append(f"{name} must be a plain ASCII address part, got {value!r}")
        if problems:
            raise ScenarioError("invalid generated folder: " + "; ".join(problems))


def _mix(z: int) -> int:
    """splitmix64's finaliser: a fast, well-spread 64-bit hash in pure Python ints."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _q_word(text: str) -> str:
    """RFC 2047 Q-encoded word for a non-ASCII phrase (done once per pool entry)."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch == " ":
            out.append("_")
        elif ch.isascii() and ch.isalnum():
            out.append(ch)
        else:
            out.append(f"={byte:02X}")
    return "=?utf-8?q?" + "".join(out) + "?="


def _phrase(name: str) -> str:
    """A display name as it travels in a header: atom, quoted string or encoded word."""
    if not name.isascii():
        return _q_word(name)
    if any(c in name for c in ',.;:@<>()[]"\\'):
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return name


def _ascii_local(name: str) -> str:
    table = str.maketrans("ëüéúñłśçèøåöäá", "euaunlsceoaoaa")
    flat = name.lower().translate(table).replace(",", "")
    parts = [p for p in flat.split() if p]
    if "," in name:  # "Smith, Anna" -> anna.smith
        parts.reverse()
    return ".".join("".join(c for c in p if c.isascii() and c.isalnum()) for p in parts)


class _Tables:
    """Everything precomputed for one spec: rendered addresses, subjects, filler."""

    def __init__(self, spec: GenSpec) -> None:
        self.spec = spec
        self.state0 = _mix((spec.seed * _GAMMA) & _M64)
        self.reply_cut = int(min(1.0, spec.thread_ratio * _SLOTS / (_SLOTS - 1)) * 65536)
        self.attach_cut = int(spec.attachment_ratio * 16384)
        self.seen_cut = int(spec.seen_ratio * 65536)
        self.start_ts = int(spec.start.timestamp())
        self.size_lo, self.size_hi = spec.size_range
        persons = []
        firsts = []
        for i in range(_PERSONS):
            if i % 97 == 13:
                full = names.AWKWARD_NAMES[(i // 97) % len(names.AWKWARD_NAMES)]
                first = full.split(", ")[-1].split()[0]
            else:
                first = names.FIRST_NAMES[i % len(names.FIRST_NAMES)]
                last = names.LAST_NAMES[(i // len(names.FIRST_NAMES) + i) % len(names.LAST_NAMES)]
                full = f"{first} {last}"
            domain = (
                spec.domain
                if i % 4 == 0
                else names.EXTERNAL_DOMAINS[(i * 7 + i // 4) % len(names.EXTERNAL_DOMAINS)]
            )
            persons.append(f"{_phrase(full)} <{_ascii_local(full)}@{domain}>")
            firsts.append(first if first.isascii() else "there")
        self.persons = tuple(persons)
        self.firsts = tuple(firsts)
        self.subjects = tuple(_phrase(s) if not s.isascii() else s for s in names.SUBJECTS)
        self.attachments = tuple(self._attachment(i, *a) for i, a in enumerate(names.ATTACHMENTS))
        self.filler = self._filler(self.size_hi + 200)
        self.attachment_len = tuple(len(a) for a in self.attachments)
        ns = len(names.SENTENCES)
        self.sentence_len = tuple(
            tuple(
                2 * sum(len(names.SENTENCES[(first + k * 5) % ns]) for k in range(count))
                + 3 * (count - 1)
                if count >= 2
                else 0
                for count in range(6)
            )
            for first in range(16)
        )
        # Calibrate _body_len against _body_parts once: the constant skeleton length and
        # how many times the index's hex digits appear, for alternative and mixed bodies.
        self.body_const = [0, 0]
        self.body_hex = [0, 0]
        probe = (0, 2, "Hi", "Thanks", "Ann", 0, 0)
        variable = 2 * (2 + 6 + 3) + self.sentence_len[0][2]
        for mixed in (False, True):
            one = sum(map(len, _body_parts(self, 1, mixed, probe)))
            two = sum(map(len, _body_parts(self, 16, mixed, probe)))
            self.body_hex[mixed] = two - one
            self.body_const[mixed] = (
                one - self.body_hex[mixed] - variable - (self.attachment_len[0] if mixed else 0)
            )
        self.last_index = -1
        self.last_lines: list[tuple[str, str]] = []

    @staticmethod
    def _attachment(i: int, filename: str, ctype: str, nbytes: int) -> str:
        rng = random.Random(1000 + i)  # table build only, never per message
        data = bytes(rng.getrandbits(8) for _ in range(nbytes))
        b64 = base64.b64encode(data).decode("ascii")
        lines = "\r\n".join(b64[j : j + 76] for j in range(0, len(b64), 76))
        return (
            f'Content-Type: {ctype}; name="{filename}"\r\n'
            f'Content-Disposition: attachment; filename="{filename}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n"
            f"{lines}\r\n"
        )

    @staticmethod
    def _filler(length: int) -> str:
        words = " ".join(names.SENTENCES).split()
        lines: list[str] = []
        line: list[str] = []
        total = k = 0
        while total < length:
            word = words[k % len(words)]
            k += 1
            if sum(map(len, line)) + len(line) + len(word) > 72:
                text = " ".join(line) + "\r\n"
                lines.append(text)
                total += len(text)
                line = []
            line.append(word)
        return "".join(lines)


@lru_cache(maxsize=32)
def _tables(spec: GenSpec) -> _Tables:
    return _Tables(spec)


@lru_cache(maxsize=8192)
def _day_prefix(day: int) -> str:
    d = datetime.fromtimestamp(day * 86400, UTC)
    return f"{_WEEKDAYS[d.weekday()]}, {d.day:02d} {_MONTHS[d.month - 1]} {d.year}"


def _h1(t: _Tables, index: int) -> int:
    return _mix((t.state0 + (index + 1) * _GAMMA) & _M64)


def _parent(index: int, h1: int, reply_cut: int) -> int:
    """Index of the message this one replies to, or -1 for a thread root."""
    slot = (index % _WINDOW) // _CONV
    if slot == 0 or (h1 & 0xFFFF) >= reply_cut:
        return -1
    return index - (slot - ((h1 >> 16) & 0xFF) % slot) * _CONV


def _msgid(t: _Tables, index: int, h1: int) -> str:
    return f"<{index:x}.{h1 >> 16:012x}@{t.spec.domain}>"


def _date_ts(t: _Tables, index: int, h1: int) -> int:
    interval = t.spec.interval_s
    return t.start_ts + index * interval + ((((h1 >> 42) & 0x3FF) * interval) >> 10)


def _lines(t: _Tables, index: int) -> list[tuple[str, str]]:
    """Header lines in message order as (lowercase name, 'Name: value\\r\\n').

    The last result is kept: FETCH asks for size and header fields of the same
    message back to back, so a one-entry cache halves the work. Callers never mutate it.
    """
    if index == t.last_index:
        return t.last_lines
    lines = _make_lines(t, index)
    t.last_index, t.last_lines = index, lines
    return lines


def _make_lines(t: _Tables, index: int) -> list[tuple[str, str]]:
    if not 0 <= index < t.spec.count:
        raise IndexError(f"generated message index {index} out of range 0..{t.spec.count - 1}")
    h1 = _h1(t, index)
    h2 = _mix(h1 ^ _SALT2)
    ts = _date_ts(t, index, h1)
    sec = ts % 86400
    date = f"{_day_prefix(ts // 86400)} {sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d} +0000"
    persons = t.persons
    to = t.spec.owner
    if (h2 >> 22) & 7 == 0:
        to = f"{to}, {persons[(h1 >> 52) & 0x3FF]}"
    lines = [
        ("date", f"Date: {date}\r\n"),
        ("from", f"From: {persons[(h1 >> 32) & 0x3FF]}\r\n"),
        ("to", f"To: {to}\r\n"),
    ]
    ncc = h2 & 3
    if ncc >= 2:
        cc = persons[(h2 >> 2) & 0x3FF]
        if ncc == 3:
            cc = f"{cc}, {persons[(h2 >> 12) & 0x3FF]}"
        lines.append(("cc", f"Cc: {cc}\r\n"))
    parent = _parent(index, h1, t.reply_cut)
    if parent < 0:
        lines.append(
            ("subject", f"Subject: {t.subjects[((h1 >> 24) & 0xFF) % len(t.subjects)]}\r\n")
        )
        lines.append(("message-id", f"Message-ID: {_msgid(t, index, h1)}\r\n"))
    else:
        chain = []
        node = parent
        while node >= 0:
            hn = _h1(t, node)
            chain.append(_msgid(t, node, hn))
            root_h = hn
            node = _parent(node, hn, t.reply_cut)
        subject = t.subjects[((root_h >> 24) & 0xFF) % len(t.subjects)]
        lines.append(("subject", f"Subject: Re: {subject}\r\n"))
        lines.append(("message-id", f"Message-ID: {_msgid(t, index, h1)}\r\n"))
        lines.append(("in-reply-to", f"In-Reply-To: {chain[0]}\r\n"))
        chain.reverse()
        lines.append(("references", "References: " + "\r\n ".join(chain) + "\r\n"))
    lines.append(("mime-version", "MIME-Version: 1.0\r\n"))
    if ((h2 >> 50) & 0x3FFF) < t.attach_cut:
        lines.append(
            ("content-type", f'Content-Type: multipart/mixed; boundary="=_mix_{index:x}"\r\n')
        )
    else:
        lines.append(
            ("content-type", f'Content-Type: multipart/alternative; boundary="=_alt_{index:x}"\r\n')
        )
    return lines


def headers(spec: GenSpec, index: int) -> list[tuple[str, str]]:
    """The top-level header fields as (name, raw value) pairs in message order.

    Values are as on the wire (RFC 2047 words undecoded, folding CRLFs kept).
    """
    out = []
    for _, line in _lines(_tables(spec), index):
        name, value = line[:-2].split(": ", 1)
        out.append((name, value))
    return out


def header_fields(spec: GenSpec, index: int, fields: frozenset[str], negate: bool = False) -> bytes:
    """``BODY[HEADER.FIELDS (...)]`` (or ``.NOT`` when ``negate``) of a generated message.

    ``fields`` are lowercase names. Byte-identical to extracting them from ``message``:
    matching lines in message order, then the blank line.
    """
    lines = _lines(_tables(spec), index)
    if negate:
        text = "".join([line for name, line in lines if name not in fields])
    else:
        text = "".join([line for name, line in lines if name in fields])
    return (text + "\r\n").encode("ascii")


def _choices(t: _Tables, index: int) -> tuple[int, int, str, str, str, int, int]:
    """Body choices: (first sentence, sentence count, greeting, closing, signer, attachment,
    padded target size), all from one hash."""
    h1 = _h1(t, index)
    h3 = _mix((h1 ^ _SALT3) & _M64)
    return (
        h3 & 0xF,
        2 + ((h3 >> 4) & 3),
        names.GREETINGS[((h3 >> 6) & 0xF) % len(names.GREETINGS)],
        names.CLOSINGS[((h3 >> 10) & 0xF) % len(names.CLOSINGS)],
        t.firsts[(h1 >> 32) & 0x3FF],
        ((h3 >> 14) & 0xFF) % len(t.attachments),
        t.size_lo + ((h3 >> 22) & 0xFFFFFF) % (t.size_hi - t.size_lo + 1),
    )


def _body_parts(t: _Tables, index: int, mixed: bool, choices: tuple) -> list[str]:
    """Body pieces; the padding is inserted at position 2 (end of the text part)."""
    first, count, greeting, closing, signer, attach, _ = choices
    sentences = names.SENTENCES
    chosen = [sentences[(first + k * 5) % len(sentences)] for k in range(count)]
    alt = f"=_alt_{index:x}"
    parts = [
        "This is a multi-part message in MIME format.\r\n",
        f"--{alt}\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: 7bit\r\n\r\n"
        f"{greeting},\r\n\r\n" + "\r\n".join(chosen) + "\r\n\r\n",
        f"{closing},\r\n{signer}\r\n"
        f"--{alt}\r\n"
        'Content-Type: text/html; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: 7bit\r\n\r\n"
        f"<html><body><p>{greeting},</p><p>" + " ".join(chosen) + f"</p><p>{closing},<br>"
        f"{signer}</p></body></html>\r\n"
        f"--{alt}--\r\n",
    ]
    if mixed:
        mix = f"=_mix_{index:x}"
        parts[0] += f'--{mix}\r\nContent-Type: multipart/alternative; boundary="{alt}"\r\n\r\n'
        parts.append(f"--{mix}\r\n{t.attachments[attach]}--{mix}--\r\n")
    return parts


def _body_len(t: _Tables, index: int, mixed: bool, choices: tuple) -> int:
    """``sum(map(len, _body_parts(...)))`` by arithmetic (size() must not build bodies)."""
    first, count, greeting, closing, signer, attach, _ = choices
    hexlen = len(f"{index:x}")
    n = (
        t.body_const[mixed]
        + t.body_hex[mixed] * hexlen
        + 2 * (len(greeting) + len(closing) + len(signer))
        + t.sentence_len[first][count]
    )
    return n + t.attachment_len[attach] if mixed else n


def _is_mixed(lines: list[tuple[str, str]]) -> bool:
    return lines[-1][1].startswith("Content-Type: multipart/m")


def _pad(t: _Tables, n: int) -> str:
    """Exactly ``n`` bytes of text lines (CRLF-terminated, no bare CR/LF)."""
    if n <= 0:
        return ""
    if n == 1:
        return " "
    body = t.filler[: n - 2]
    if body.endswith("\r"):
        body = body[:-1] + "x"
    return body + "\r\n"


def message(spec: GenSpec, index: int) -> bytes:
    """The full RFC 5322 message (CRLF line endings), exactly ``size(spec, index)`` bytes."""
    t = _tables(spec)
    lines = _lines(t, index)
    head = "".join([line for _, line in lines]) + "\r\n"
    choices = _choices(t, index)
    parts = _body_parts(t, index, _is_mixed(lines), choices)
    natural = len(head) + sum(map(len, parts))
    parts.insert(2, _pad(t, choices[6] - natural))
    return (head + "".join(parts)).encode("ascii")


def size(spec: GenSpec, index: int) -> int:
    """RFC822.SIZE without building the body: the padded target, or the natural size."""
    t = _tables(spec)
    lines = _lines(t, index)
    choices = _choices(t, index)
    head = sum([len(line) for _, line in lines]) + 2
    return max(choices[6], head + _body_len(t, index, _is_mixed(lines), choices))


def internaldate(spec: GenSpec, index: int) -> datetime:
    """Arrival time: a few seconds to minutes after the Date header."""
    t = _tables(spec)
    h1 = _h1(t, index)
    h3 = _mix((h1 ^ _SALT3) & _M64)
    return datetime.fromtimestamp(_date_ts(t, index, h1) + 5 + ((h3 >> 40) & 0xFF), UTC)


def flag_codes(spec: GenSpec) -> bytearray:
    """Default flags of every message as one byte each (index into ``FLAG_SETS``).

    One byte per message is what a million-message folder can afford; the store
    computes it once, on first need (STATUS UNSEEN, FETCH FLAGS).
    """
    t = _tables(spec)
    out = bytearray(spec.count)
    state, seen_cut, mix = t.state0, t.seen_cut, _mix
    for index in range(spec.count):
        h2 = mix(mix((state + (index + 1) * _GAMMA) & _M64) ^ _SALT2)
        seen = ((h2 >> 25) & 0xFFFF) < seen_cut
        out[index] = (
            int(seen)
            | (2 if ((h2 >> 41) & 0x3F) == 0 else 0)
            | (4 if seen and ((h2 >> 47) & 7) == 0 else 0)
        )
    return out


def default_flags(spec: GenSpec, index: int) -> frozenset[str]:
    """Flags a generated message starts with (\\Seen per seen_ratio, a few flagged/answered)."""
    t = _tables(spec)
    h2 = _mix(_h1(t, index) ^ _SALT2)
    seen = ((h2 >> 25) & 0xFFFF) < t.seen_cut
    code = (
        int(seen)
        | (2 if ((h2 >> 41) & 0x3F) == 0 else 0)
        | (4 if seen and ((h2 >> 47) & 7) == 0 else 0)
    )
    return FLAG_SETS[code]
