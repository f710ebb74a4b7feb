"""What the lab API hands out: frozen values, read at one instant (``inboxlab.lab.api``)."""

from __future__ import annotations

import email.policy
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesParser

__all__ = ["Endpoint", "FolderState", "Login", "MessageState", "SentMessage", "ServerSession"]

_PARSER = BytesParser(policy=email.policy.default)


@dataclass(frozen=True)
class Endpoint:
    """Where a server listens: ``host``, ``port``; ``tls`` says implicit TLS (IMAPS/SMTPS).
    Plain endpoints offer STARTTLS when the scenario's profile does."""

    host: str
    port: int
    tls: bool

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Login:
    """One account of the scenario. The password never shows in ``repr``."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class SentMessage:
    """One recipient's copy of a message the fake SMTP server accepted.

    ``kind``: ``outside`` (left for the outside world: the outbox proper), ``local`` (to
    an account of the scenario: ``folder``/``uid`` say where), ``sent_copy`` (the
    provider's own copy in Sent), ``failed`` (``error`` says why).
    """

    kind: str
    mail_from: str
    rcpt: str
    raw: bytes = field(repr=False)
    at: datetime
    folder: str | None = None
    uid: int | None = None
    error: str | None = None

    @property
    def subject(self) -> str:
        return str(self.message().get("Subject", ""))

    def message(self) -> EmailMessage:
        """The bytes parsed (``email.policy.default``), for assertions on headers/body."""
        parsed = _PARSER.parsebytes(self.raw)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass(frozen=True)
class MessageState:
    """One message of a folder as the server holds it now."""

    uid: int
    flags: frozenset[str]
    size: int


@dataclass(frozen=True)
class FolderState:
    """A folder of one account, read at one instant (``lab.folder("INBOX")``)."""

    name: str
    uidvalidity: int
    uidnext: int
    messages: tuple[MessageState, ...]
    special_use: frozenset[str] = frozenset()

    @property
    def exists(self) -> int:
        return len(self.messages)

    @property
    def uids(self) -> tuple[int, ...]:
        return tuple(m.uid for m in self.messages)

    def unseen(self) -> tuple[int, ...]:
        """UIDs without ``\\Seen``."""
        return tuple(m.uid for m in self.messages if "\\Seen" not in m.flags)


@dataclass(frozen=True)
class ServerSession:
    """A live IMAP connection through the lab's fault proxy (``conn`` targets it in
    ``fire``); ``user`` and ``state`` once the server knows them."""

    conn: int
    peer: str
    tls: bool
    user: str | None
    state: str | None
