"""Change events a folder emits to its subscribers (other IMAP sessions).

Frozen, so one event object can be handed to every session; the session turns them
into untagged EXISTS / EXPUNGE / FETCH (FLAGS) responses, now or at its next command.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "AppendedMessage",
    "Exists",
    "Expunged",
    "FlagsChanged",
    "FolderEvent",
    "UidValidityChanged",
]


@dataclass(frozen=True)
class Exists:
    """The folder now holds ``count`` messages (sent after appends)."""

    count: int


@dataclass(frozen=True)
class Expunged:
    """``uid`` was removed; ``seq`` is its position at that moment (events arrive in order).

    ``flags`` and ``last_modseq`` are the message's last flags and MODSEQ: a session not
    yet told of the expunge still answers for the message with them (RFC 2180 4.1).
    """

    seq: int
    uid: int
    modseq: int
    flags: frozenset[str] = frozenset()
    last_modseq: int = 0


@dataclass(frozen=True)
class FlagsChanged:
    uid: int
    flags: frozenset[str]
    modseq: int


@dataclass(frozen=True)
class UidValidityChanged:
    """UIDs were renumbered: clients must drop their cache (sessions should send BYE)."""

    uidvalidity: int


FolderEvent = Exists | Expunged | FlagsChanged | UidValidityChanged


@dataclass(frozen=True)
class AppendedMessage:
    raw: bytes
    internaldate: datetime
