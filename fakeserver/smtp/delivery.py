"""Where accepted mail goes: local accounts' folders, or the inspectable "outside world".

A recipient that is an account of the shared Store gets the message appended to its
INBOX (with the ``Return-Path``/``Received`` lines a real MTA adds), where IMAP
clients see it arrive. Every other recipient is "outside": the message is kept in the
``DeliveryLog`` so a test can ask "what did sam@client.test receive?" and wait for it.
The submitter's copy in Sent (provider auto-save) is filed here too.

No sockets and no asyncio in the routing: ``Router.route()`` is a plain call. Only
``DeliveryLog.wait_for()`` is async, because waiting is what tests do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from typing import Literal, Protocol

from inboxlab.fakeserver.errors import FakeServerError
from inboxlab.fakeserver.store import Store

DeliveryKind = Literal["local", "outside", "sent_copy", "failed"]
Source = Literal["submission", "persona"]

_PARSER = BytesParser(policy=policy.default)


class LocalMailboxes(Protocol):
    """What routing needs from the mailbox store (an adapter over ``fakeserver.store``)."""

    def owner_of(self, address: str) -> str | None:
        """The account name receiving mail for ``address``, or None when not local."""
        ...

    def append(
        self, account: str, folder: str, raw: bytes, flags: frozenset[str], when: datetime
    ) -> int:
        """Append to ``folder`` of ``account``; return the UID. KeyError: no such folder."""
        ...


@dataclass(frozen=True)
class Envelope:
    """One accepted message: who sent it (envelope), to whom, the bytes, and by what path.

    ``submitter`` is the authenticated account for mail submitted over SMTP; ``trace``
    is the ``Received`` header line to prepend for local delivery (without CRLF).
    """

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes = field(repr=False)
    source: Source = "submission"
    submitter: str | None = None
    trace: str | None = None


@dataclass(frozen=True)
class Delivery:
    """One recipient's outcome: ``local`` (folder, uid), ``outside``, ``sent_copy``, ``failed``."""

    kind: DeliveryKind
    rcpt: str
    mail_from: str
    raw: bytes = field(repr=False)
    at: datetime
    source: Source = "submission"
    account: str | None = None
    folder: str | None = None
    uid: int | None = None
    error: str | None = None

    def message(self) -> EmailMessage:
        """The delivered bytes parsed (headers and body) for assertions."""
        msg = _PARSER.parsebytes(self.raw)
        assert isinstance(msg, EmailMessage)
        return msg

    def summary(self) -> dict[str, object]:
        """JSON-ready facts for the control endpoint and the TUI (no message body)."""
        headers = _PARSER.parsebytes(self.raw, headersonly=True)
        return {
            "kind": self.kind, "rcpt": self.rcpt, "mail_from": self.mail_from,
            "at": self.at.isoformat(), "source": self.source, "account": self.account,
            "folder": self.folder, "uid": self.uid, "error": self.error,
            "subject": str(headers.get("Subject", "")),
            "message_id": str(headers.get("Message-ID", "")),
            "in_reply_to": str(headers.get("In-Reply-To", "")),
            "size": len(self.raw),
        }


Predicate = Callable[[Delivery], bool]


class DeliveryLog:
    """Every delivery in order, with per-recipient views and async waiting.

    Callbacks and waiters run on the thread that records (the server's loop).
    """

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self._waiters: list[tuple[Predicate, asyncio.Future[Delivery]]] = []
        self._subscribers: list[Callable[[Delivery], None]] = []

    def record(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        for callback in list(self._subscribers):
            callback(delivery)
        still_waiting = []
        for predicate, future in self._waiters:
            if future.done():
                continue
            if predicate(delivery):
                future.set_result(delivery)
            else:
                still_waiting.append((predicate, future))
        self._waiters = still_waiting

    def subscribe(self, callback: Callable[[Delivery], None]) -> Callable[[], None]:
        """Call ``callback`` for each new delivery; returns the unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def outside(self, rcpt: str | None = None) -> list[Delivery]:
        """Messages that left for the outside world (to ``rcpt``, case-insensitive)."""
        return [
            d for d in self.deliveries
            if d.kind == "outside" and (rcpt is None or d.rcpt.lower() == rcpt.lower())
        ]

    def outside_world(self) -> dict[str, list[Delivery]]:
        """The outside world as a mailbox per external recipient (lower-cased)."""
        world: dict[str, list[Delivery]] = {}
        for d in self.outside():
            world.setdefault(d.rcpt.lower(), []).append(d)
        return world

    def find(self, predicate: Predicate) -> Delivery | None:
        return next((d for d in self.deliveries if predicate(d)), None)

    async def wait_for(
        self,
        predicate: Predicate | None = None,
        *,
        rcpt: str | None = None,
        kind: DeliveryKind | None = None,
        within: float = 10.0,
    ) -> Delivery:
        """The first delivery (already recorded or future) matching all the given filters.

        Raises ``TimeoutError`` naming what it waited for when ``within`` seconds pass.
        """

        def matches(d: Delivery) -> bool:
            return (
                (rcpt is None or d.rcpt.lower() == rcpt.lower())
                and (kind is None or d.kind == kind)
                and (predicate is None or predicate(d))
            )

        found = self.find(matches)
        if found is not None:
            return found
        future: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
        self._waiters.append((matches, future))
        try:
            return await asyncio.wait_for(future, within)
        except TimeoutError:
            raise TimeoutError(
                f"no delivery (rcpt={rcpt!r}, kind={kind!r}) within {within:g}s; "
                f"seen: {[(d.kind, d.rcpt) for d in self.deliveries]}"
            ) from None
        finally:
            future.cancel()


def received_line(*, helo: str, peer: str, by: str, with_: str, when: datetime) -> str:
    """A ``Received`` trace header (RFC 5321 4.4) as an MTA prepends it."""
    return f"Received: from {helo} ({peer}) by {by} with {with_}; {format_datetime(when)}"


class Router:
    """Routes an accepted envelope: local recipients' INBOX, or the outside world.

    ``autosave_sent_folder``: file the submitter's copy there with ``\\Seen`` (as sent,
    without trace headers), as providers that auto-save submitted mail do.
    """

    def __init__(
        self,
        mailboxes: LocalMailboxes,
        log: DeliveryLog,
        *,
        now: Callable[[], datetime],
        autosave_sent_folder: str | None = None,
    ) -> None:
        self.mailboxes = mailboxes
        self.log = log
        self.autosave_sent_folder = autosave_sent_folder
        self._now = now

    def route(self, env: Envelope) -> list[Delivery]:
        """Deliver to every recipient; return one ``Delivery`` per outcome, in order."""
        when = self._now()
        out: list[Delivery] = []
        local_raw = self._with_trace(env)
        for rcpt in env.rcpt_tos:
            account = self.mailboxes.owner_of(rcpt)
            if account is None:
                out.append(Delivery("outside", rcpt, env.mail_from, env.raw, when, env.source))
                continue
            out.append(self._append(env, rcpt, account, "INBOX", local_raw, frozenset(), when))
        if env.submitter is not None and self.autosave_sent_folder is not None:
            out.append(
                self._append(
                    env, env.mail_from, env.submitter, self.autosave_sent_folder, env.raw,
                    frozenset({"\\Seen"}), when, kind="sent_copy",
                )
            )
        for delivery in out:
            self.log.record(delivery)
        return out

    def _with_trace(self, env: Envelope) -> bytes:
        lines = [f"Return-Path: <{env.mail_from}>"]
        if env.trace:
            lines.append(env.trace)
        return "\r\n".join(lines).encode("utf-8", "replace") + b"\r\n" + env.raw

    def _append(
        self,
        env: Envelope,
        rcpt: str,
        account: str,
        folder: str,
        raw: bytes,
        flags: frozenset[str],
        when: datetime,
        kind: DeliveryKind = "local",
    ) -> Delivery:
        try:
            uid = self.mailboxes.append(account, folder, raw, flags, when)
        except KeyError:
            # A profile naming a folder the account lacks is a scenario bug: keep the
            # mail flowing and leave a visible trace instead of failing the SMTP reply.
            return Delivery(
                "failed", rcpt, env.mail_from, raw, when, env.source, account, folder,
                error=f"account {account!r} has no folder {folder!r}",
            )
        except FakeServerError as exc:  # the folder refused it (UID space, size)
            return Delivery(
                "failed", rcpt, env.mail_from, raw, when, env.source, account, folder,
                error=exc.text,
            )
        return Delivery(kind, rcpt, env.mail_from, raw, when, env.source, account, folder, uid)


class StoreMailboxes:
    """``LocalMailboxes`` over the shared ``fakeserver.store.Store`` (the IMAP server's).

    A recipient is local when it equals an account's username (case-insensitive), which
    is how the fake servers name accounts (``user@example.com``). A folder given as a
    special-use attribute (``\\Sent``) means "that account's folder with that role".
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"StoreMailboxes({self.store!r})"

    def owner_of(self, address: str) -> str | None:
        wanted = address.lower()
        return next((name for name in self.store.accounts if name.lower() == wanted), None)

    def append(
        self, account: str, folder: str, raw: bytes, flags: frozenset[str], when: datetime
    ) -> int:
        acc = self.store.accounts[account]
        target = acc.special(folder) if folder.startswith("\\") else acc.folder(folder)
        if target is None:
            raise KeyError(folder)
        return target.append(raw, flags, when)

    def check_login(self, login: str, password: str) -> str | None:
        """The account name for good credentials (the same check IMAP LOGIN makes)."""
        account = self.store.authenticate(login, password)
        return account.username if account is not None else None
