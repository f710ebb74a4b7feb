"""Per-spec pools for the message generator, built once so each message is only picks.

Everything a generated message is assembled from is rendered here in advance:
address lines, subject lines, attachment parts, the padding text. The generator's
hot path then does table look-ups and a couple of f-strings per message.
"""

from __future__ import annotations

import base64
import random
from typing import TYPE_CHECKING

from inboxlab.fakeserver import names

if TYPE_CHECKING:
    from inboxlab.fakeserver.genspec import GenSpec

M64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
PERSONS = 1024  # power of two: picked with a 10-bit mask


def mix(z: int) -> int:
    """splitmix64's finaliser: a fast, well-spread 64-bit hash in pure Python ints."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def q_word(text: str) -> str:
    """RFC 2047 Q-encoded word for a non-ASCII phrase."""
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


def phrase(name: str) -> str:
    """A display name as it travels in a header: atom, quoted string or encoded word."""
    if not name.isascii():
        return q_word(name)
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


class Pools:
    """Rendered pieces for one spec (about 300 KB plus the padding text)."""

    def __init__(self, spec: GenSpec) -> None:
        persons = []
        firsts = []
        for i in range(PERSONS):
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
            persons.append(f"{phrase(full)} <{_ascii_local(full)}@{domain}>")
            firsts.append(first if first.isascii() else "there")
        self.persons = tuple(persons)
        self.firsts = tuple(firsts)
        self.from_lines = tuple(f"From: {p}\r\n" for p in persons)
        self.to_lines = tuple(f"To: {spec.owner}, {p}\r\n" for p in persons)
        self.to_owner = f"To: {spec.owner}\r\n"
        self.cc_lines = tuple(f"Cc: {p}\r\n" for p in persons)
        subjects = tuple(phrase(s) if not s.isascii() else s for s in names.SUBJECTS)
        self.subject_lines = tuple(f"Subject: {s}\r\n" for s in subjects)
        self.reply_lines = tuple(f"Subject: Re: {s}\r\n" for s in subjects)
        self.attachments = tuple(_attachment(i, *a) for i, a in enumerate(names.ATTACHMENTS))
        self.attachment_len = tuple(len(a) for a in self.attachments)
        self.filler = _filler(spec.size_range[1] + 200)
        ns = len(names.SENTENCES)
        # (first sentence, count) -> length of the sentences in the text and HTML parts
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

    def pad(self, n: int) -> str:
        """Exactly ``n`` bytes of text lines (CRLF-terminated, no bare CR or LF)."""
        if n <= 0:
            return ""
        if n == 1:
            return " "
        body = self.filler[: n - 2]
        if body.endswith("\r"):
            body = body[:-1] + "x"
        return body + "\r\n"


def _attachment(i: int, filename: str, ctype: str, nbytes: int) -> str:
    rng = random.Random(1000 + i)  # pool build only, never per message
    data = bytes(rng.getrandbits(8) for _ in range(nbytes))
    b64 = base64.b64encode(data).decode("ascii")
    lines = "\r\n".join(b64[j : j + 76] for j in range(0, len(b64), 76))
    return (
        f'Content-Type: {ctype}; name="{filename}"\r\n'
        f'Content-Disposition: attachment; filename="{filename}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{lines}\r\n"
    )


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
