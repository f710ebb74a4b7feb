"""The fake servers' exception tree: every error knows the IMAP line that answers it.

::

    FakeServerError                 base; ``response(tag)`` renders the reply line
     ├── ProtocolError              tagged BAD: malformed command, wrong state, limits
     │    └── LimitExceeded         a line or literal larger than the server accepts
     ├── CommandFailed              tagged NO, with an optional RFC 5530 response code
     └── ScenarioError              a scenario file is invalid (file, location, what)

Why the errors render themselves (as pymap's exceptions do): the session raises
from deep inside a command handler and the shell answers with ``err.response(tag)``
without re-deciding BAD vs NO from strings.  Texts are single-line by construction:
a CR or LF smuggled in through client input could otherwise inject response lines.
"""

from __future__ import annotations

import re

__all__ = [
    "CommandFailed",
    "FakeServerError",
    "LimitExceeded",
    "ProtocolError",
    "ScenarioError",
]

# RFC 5530 codes whose condition may clear by itself; retrying later is sensible.
_TRANSIENT_CODES = frozenset({"UNAVAILABLE", "INUSE", "LIMIT", "SERVERBUG", "EXPUNGEISSUED"})


def _one_line(text: str) -> str:
    """Collapse CR/LF so server words can never become extra protocol lines."""
    return re.sub(r"[\r\n]+", " ", text).strip() or "-"


def _render(tag: str, status: str, code: str | None, text: str) -> bytes:
    coded = f"[{code}] " if code else ""
    return f"{tag or '*'} {status} {coded}{_one_line(text)}\r\n".encode("utf-8", "replace")


class FakeServerError(Exception):
    """Root of the tree.  ``text`` is what the server says; ``code`` an optional resp-code."""

    status = "BAD"
    transient = False

    def __init__(self, text: str, *, code: str | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.code = code

    def response(self, tag: str) -> bytes:
        """The reply line, e.g. ``b"A1 NO [TRYCREATE] Mailbox does not exist\\r\\n"``.

        ``tag`` may be ``"*"`` (or empty) for an untagged reply.
        """
        return _render(tag, self.status, self.code, self.text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r}, code={self.code!r})"


class ProtocolError(FakeServerError):
    """The client broke the protocol: answered with a tagged (or untagged) BAD.

    ``tag`` is the command's tag when it could be read; ``None`` means answer ``* BAD``.
    """

    status = "BAD"

    def __init__(self, text: str, *, tag: str | None = None, code: str | None = None) -> None:
        super().__init__(text, code=code)
        self.tag = tag

    def with_tag(self, tag: str | None) -> ProtocolError:
        """Attach the tag once the caller learns it (parsers raise before they know it)."""
        if self.tag is None:
            self.tag = tag
        return self


class LimitExceeded(ProtocolError):
    """A line or literal beyond the server's limits (RFC 7888 suggests ``[TOOBIG]``)."""

    def __init__(self, text: str, *, tag: str | None = None, code: str | None = "TOOBIG") -> None:
        super().__init__(text, tag=tag, code=code)


class CommandFailed(FakeServerError):
    """A well-formed command the server refuses: ``tag NO [CODE] text``.

    ``transient`` is derived from the code: ``[UNAVAILABLE]`` or ``[INUSE]`` may clear by
    themselves, ``[TRYCREATE]`` or ``[NONEXISTENT]`` will not.
    """

    status = "NO"

    def __init__(self, text: str, *, code: str | None = None) -> None:
        super().__init__(text, code=code.upper() if code else None)
        self.transient = (self.code or "").split(" ")[0] in _TRANSIENT_CODES


class ScenarioError(FakeServerError):
    """A scenario file is invalid: names the file, where in it, and what is wrong.

    Normally raised at load time, before any client connects; if it surfaces during a
    session the server answers ``NO [SERVERBUG]`` rather than pretending the client erred.
    """

    status = "NO"

    def __init__(self, what: str, *, file: str | None = None, location: str | None = None) -> None:
        where = ":".join(part for part in (file, location) if part)
        super().__init__(f"{where}: {what}" if where else what, code="SERVERBUG")
        self.what = what
        self.file = file
        self.location = location
