"""The recorded-session file: JSON lines, one protocol line or transport event each.

    {"t": 0.012, "conn": 1, "kind": "open", "peer": "127.0.0.1:51334", "upstream": "..."}
    {"t": 0.015, "conn": 1, "kind": "line", "dir": "<", "text": "* OK Dovecot ready."}
    {"t": 0.020, "conn": 1, "kind": "line", "dir": ">", "text": "a1 LOGIN me [redacted]"}
    {"t": 9.870, "conn": 1, "kind": "reset", "partial": 812}      # the server's RST
    {"t": 9.870, "conn": 1, "kind": "eof", "partial": 0}          # the server's FIN
    {"t": 30.00, "conn": 1, "kind": "client_closed", "waiting": true}  # gave up waiting

``LineAssembler`` cuts a byte stream into IMAP lines, keeping ``{N}`` literals inside
the line they belong to (so a FETCH response with a body is one record). Sans-I/O:
bytes in, complete lines out; ``partial`` says how many bytes of an unfinished line
are buffered (what a reset cut off).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_LITERAL_END = re.compile(rb"\{(\d+)\+?\}\r\n$")
MAX_LINE = 64 * 1024 * 1024  # a bigger "literal" is not IMAP; cut it rather than hoard memory


class LineAssembler:
    """Complete lines (with their literals) from a byte stream."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._line = bytearray()  # the current line so far (across literals)
        self._need = 0  # literal bytes still expected

    @property
    def partial(self) -> int:
        return len(self._line) + len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while True:
            if self._need:
                take = min(self._need, len(self._buf))
                self._line += self._buf[:take]
                del self._buf[:take]
                self._need -= take
                if self._need:
                    return out
            end = self._buf.find(b"\r\n")
            if end < 0:
                if len(self._buf) + len(self._line) > MAX_LINE:
                    out.append(bytes(self._line + self._buf))
                    self._line.clear()
                    self._buf.clear()
                return out
            self._line += self._buf[:end + 2]
            del self._buf[:end + 2]
            m = _LITERAL_END.search(self._line)
            if m and int(m.group(1)) <= MAX_LINE:
                self._need = int(m.group(1))
                continue
            out.append(bytes(self._line[:-2]))
            self._line.clear()


@dataclass(frozen=True)
class Record:
    t: float
    conn: int
    kind: str  # open | line | reset | eof | client_closed | upstream_failed
    dir: str | None = None
    text: str | None = None
    partial: int | None = None
    waiting: bool | None = None
    info: str | None = None

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in vars(self).items() if v is not None},
                          ensure_ascii=False)


def read_trace(path: str | Path) -> list[Record]:
    """Load a trace file; a bad line is a ``ValueError`` naming the file and line."""
    records: list[Record] = []
    with open(path, encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                data: dict[str, Any] = json.loads(raw)
                records.append(Record(**data))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: not a trace record ({exc})") from None
    return records


def lines_of(records: list[Record], conn: int | None = None) -> Iterator[Record]:
    return (r for r in records if r.kind == "line" and (conn is None or r.conn == conn))


__all__ = ["LineAssembler", "Record", "lines_of", "read_trace"]
