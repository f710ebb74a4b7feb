"""Per-connection transcript with credentials redacted at the source (sans-I/O).

The server hands every inbound and outbound chunk to a ``Redactor`` before any
transcript hook sees it, so a LOGIN password or a SASL response never reaches a
trace, a log or a scenario transcript. The redactor tracks IMAP framing only as far
as it must: line ends, literal announcements ``{n}``/``{n+}``, and the SASL
continuation ("+ ") that makes the client's next line a secret.
"""

from __future__ import annotations

import re

REDACTED = b"[redacted]"
_LITERAL_AT_END = re.compile(rb"\{(\d{1,12})\+?\}\r?\n\Z")
_SECRET_COMMANDS = (b"LOGIN", b"AUTHENTICATE")
_MAX_PENDING = 64 * 1024


class Redactor:
    """Rewrites inbound bytes so credentials are replaced by ``[redacted]``."""

    def __init__(self) -> None:
        self._line = bytearray()
        self._literal_left = 0
        self._in_secret_command = False  # inside a LOGIN/AUTHENTICATE spanning literals
        self._sasl_tag: bytes | None = None  # AUTHENTICATE awaiting its tagged completion
        self._next_line_secret = False  # the server sent "+ " to a SASL exchange

    def outbound(self, data: bytes) -> bytes:
        """Watch server output for SASL continuations; returned unchanged."""
        if self._sasl_tag is not None:
            if data.startswith(b"+"):
                self._next_line_secret = True
            elif data.startswith(self._sasl_tag + b" "):
                self._sasl_tag = None
                self._next_line_secret = False
        return data

    def inbound(self, data: bytes) -> bytes:
        out: list[bytes] = []
        pos = 0
        size = len(data)
        while pos < size:
            if self._literal_left:
                take = min(self._literal_left, size - pos)
                if not self._in_secret_command:
                    out.append(data[pos : pos + take])
                self._literal_left -= take
                pos += take
                if not self._literal_left and self._in_secret_command:
                    out.append(REDACTED)
                continue
            end = data.find(b"\n", pos)
            if end < 0:
                self._line += data[pos:]
                if len(self._line) > _MAX_PENDING and not self._secret_pending():
                    out.append(bytes(self._line))
                    self._line.clear()
                break
            self._line += data[pos : end + 1]
            pos = end + 1
            out.append(self._complete_line(bytes(self._line)))
            self._line.clear()
        return b"".join(out)

    def _secret_pending(self) -> bool:
        return self._in_secret_command or self._next_line_secret

    def _complete_line(self, line: bytes) -> bytes:
        if self._next_line_secret:
            self._next_line_secret = False
            return REDACTED + b"\r\n"
        continuing = self._in_secret_command
        shown = line
        if not continuing:
            words = line.split(None, 3)
            if len(words) >= 2 and words[1].upper() in _SECRET_COMMANDS:
                self._in_secret_command = True
                keep = words[:2]
                if words[1].upper() == b"AUTHENTICATE":
                    self._sasl_tag = words[0]
                    if len(words) >= 3:
                        keep.append(words[2])  # the mechanism name is not a secret
                shown = b" ".join(keep) + b" " + REDACTED + b"\r\n"
        else:
            shown = b""
        match = _LITERAL_AT_END.search(line)
        if match:
            self._literal_left = int(match.group(1))
        else:
            self._in_secret_command = False
        return shown
