"""MIME limits enforced while parsing, so a MIME bomb is refused in bounded time and memory.

The stdlib ``email`` package stays the parser; it just never gets to hold a bomb:

- Before parsing (C-speed byte counts, nothing decoded): the message's size
  (``MAX_MESSAGE``, the IMAP body limit, so decoded content is bounded by it too: MIME
  has no compression), its line count (``MAX_LINES``: the feed parser keeps a Python
  string per line, ~60 bytes each, so 16M short lines cost ~1.9 GB), and the top-level
  header block (``MAX_HEADER_LINES`` lines, ``MAX_HEADER_BYTES`` bytes; a 64 MB header
  folded into 16M lines took 30 s and 1.9 GB even when only the headers were wanted).
- While parsing (a ``FeedParser`` fed in chunks, checking as each part is created):
  parts (``MAX_PARTS``; 100k empty parts took 32 s to refuse after a full parse),
  nesting depth (``MAX_DEPTH``) and each part's header lines. The parse stops at the
  first break, so refusal time grows with the limit, not with the message.

Every refusal is a ``MalformedMessage`` whose code and message name the limit.
"""

from __future__ import annotations

from email.feedparser import BytesFeedParser
from email.message import EmailMessage
from email.policy import Policy
from typing import Any

from inboxlab.engine.crm.errors import MalformedMessage
from inboxlab.engine.imap.limits import BODY

MAX_MESSAGE = BODY.literal  # bytes: the largest body the IMAP client accepts
MAX_LINES = 2_000_000  # a 66 MB message of base64 has ~900k lines
MAX_HEADER_LINES = 10_000  # per part
MAX_HEADER_BYTES = 16 * 1024 * 1024  # the top-level header block (a 10 MB Subject is kept)
MAX_PARTS = 1000
MAX_DEPTH = 256  # multiparts inside multiparts
FEED_CHUNK = 256 * 1024


def _refuse(what: str, code: str) -> MalformedMessage:
    return MalformedMessage(f"{what}: refused before reading further", code=code)


def precheck(raw: bytes) -> None:
    """The checks that need no parsing; raises ``MalformedMessage`` naming the limit."""
    if len(raw) > MAX_MESSAGE:
        raise _refuse(f"message of {len(raw)} bytes (limit {MAX_MESSAGE})", "message_too_big")
    lines = raw.count(b"\n")
    if lines > MAX_LINES:
        raise _refuse(f"message of {lines} lines (limit {MAX_LINES})", "too_many_lines")
    end = raw.find(b"\n\r\n")
    end2 = raw.find(b"\n\n")
    ends = [e for e in (end, end2) if e >= 0]
    stop = min(ends) if ends else len(raw)
    if stop > MAX_HEADER_BYTES:
        raise _refuse(f"header of more than {MAX_HEADER_BYTES} bytes", "header_too_big")
    head_lines = raw.count(b"\n", 0, stop)
    if head_lines > MAX_HEADER_LINES:
        raise _refuse(f"header of {head_lines} lines (limit {MAX_HEADER_LINES})",
                      "too_many_header_lines")


class _BoundedFeedParser(BytesFeedParser):
    """``BytesFeedParser`` that counts parts, depth and header lines as it goes.

    ``_new_message`` and ``_parse_headers`` are the feed parser's own steps (unchanged
    since Python 3.3); wrapping them is the one way to see a part being created.
    """

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy=policy)
        self.parts = 0

    def _new_message(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise _refuse(f"more than {MAX_PARTS} MIME parts", "too_many_parts")
        if len(self._msgstack) >= MAX_DEPTH:  # type: ignore[attr-defined]
            raise _refuse(f"MIME parts nested more than {MAX_DEPTH} deep", "too_deep")
        super()._new_message()  # type: ignore[misc]

    def _parse_headers(self, lines: list[str]) -> None:
        if len(lines) > MAX_HEADER_LINES:
            raise _refuse(f"a part's header of {len(lines)} lines (limit "
                          f"{MAX_HEADER_LINES})", "too_many_header_lines")
        super()._parse_headers(lines)  # type: ignore[misc]


def parse_bounded(raw: bytes, policy: Policy, *, headersonly: bool = False) -> EmailMessage:
    """``BytesParser(policy).parsebytes(raw, headersonly)`` within the limits above."""
    precheck(raw)
    parser: Any = _BoundedFeedParser(policy)
    if headersonly:
        parser._set_headersonly()
    view = memoryview(raw)
    for i in range(0, len(raw), FEED_CHUNK):
        parser.feed(bytes(view[i : i + FEED_CHUNK]))
    msg = parser.close()
    assert isinstance(msg, EmailMessage)
    return msg


__all__ = ["MAX_DEPTH", "MAX_HEADER_BYTES", "MAX_HEADER_LINES", "MAX_LINES", "MAX_MESSAGE",
           "MAX_PARTS", "parse_bounded", "precheck"]
