"""The fault-hook interface: where a scenario reaches into a running IMAP server.

A scenario (or a test) subclasses ``ServerHooks`` and overrides what it needs. Every
method runs on the server's event loop, synchronously, and must be quick. A hook that
returns a ``Reply`` replaces what the server would have done: its bytes are sent
verbatim and, with ``close=True``, the connection is closed after them. Returning
``None`` lets the server proceed normally.

Transcripts are delivered already redacted (see ``transcript.Redactor``), so a hook
can write them anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from inboxlab.fakeserver.imap.session import ImapSession
    from inboxlab.fakeserver.imap.syntax.commands import Command

Direction = Literal["in", "out"]


@dataclass(frozen=True)
class ConnectionInfo:
    """Who connected, where: ``conn_id`` counts connections from 1 per server."""

    conn_id: int
    peer: str
    tls: bool  # implicit TLS port (STARTTLS upgrades are visible on the session)


@dataclass(frozen=True)
class Reply:
    """Bytes to send instead of the normal behaviour; then close when ``close``."""

    data: bytes
    close: bool = False


class ServerHooks:
    """No-op base: override the methods a scenario needs."""

    def on_connect(self, conn: ConnectionInfo) -> Reply | None:
        """Before the greeting. A Reply replaces the greeting (e.g. ``* BYE`` + close)."""
        return None

    def on_command(self, session: ImapSession, command: Command) -> Reply | None:
        """Before a parsed command runs (state checks included)."""
        return None

    def on_login(self, session: ImapSession, username: str, success: bool) -> Reply | None:
        """After credentials were checked (LOGIN or AUTHENTICATE), before the answer.

        A Reply replaces the tagged answer; the session stays unauthenticated then.
        """
        return None

    def on_transcript(self, conn: ConnectionInfo, direction: Direction, data: bytes) -> None:
        """Every chunk in or out, credentials already redacted."""

    def on_disconnect(self, conn: ConnectionInfo) -> None:
        """After the connection closed, whatever the reason."""

    @property
    def wants_transcript(self) -> bool:
        """False skips redaction work entirely when nobody listens."""
        return type(self).on_transcript is not ServerHooks.on_transcript
