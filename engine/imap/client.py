"""``ImapClient``: the IMAP commands the connector needs, each an explicit method.

    async with ImapClient("imap.example.com", security="tls") as client:
        await client.login(Credentials("me@example.com", secret))
        box = await client.select("INBOX", condstore=True)
        async for msg in client.uid_fetch("1:*", HEADER_ITEMS):
            ...

Connecting, TLS and authentication policy are in ``session``; this module is about
mailboxes and messages. Every server refusal arrives as the engine's error tree
(``engine.errors``).
"""
from __future__ import annotations

import builtins
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import TypedDict, Unpack

from inboxlab.engine.errors import ConfigError, EngineError, ServerRefused
from inboxlab.engine.imap.commands import (
    Arg,
    Atom,
    Mailbox,
    expand_uid_set,
    format_internaldate,
    uid_chunks,
    uid_set,
)
from inboxlab.engine.imap.idle import IdleSession
from inboxlab.engine.imap.model import (
    Enabled,
    ESearch,
    Event,
    Fetch,
    ListItem,
    Search,
    Status,
    Vanished,
)
from inboxlab.engine.imap.results import (
    AppendResult,
    Credentials,
    RangeBatch,
    SelectResult,
    select_result,
)
from inboxlab.engine.imap.router import Pending
from inboxlab.engine.imap.session import DEFAULT_PORTS, ImapSession, Security, is_loopback

# The header fields the product reads of every message (threading, then display): the
# one definition, used by the scan (``engine.sync.FETCH_ITEMS``) and the default below.
HEADER_FIELDS = ("MESSAGE-ID", "IN-REPLY-TO", "REFERENCES", "FROM", "TO", "CC", "DATE", "SUBJECT")
HEADER_ITEMS = (
    "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS ("
    + " ".join(HEADER_FIELDS) + ")])"
)
# ``status()`` without items (a person's look at a folder); the scan asks for its own
# (``engine.sync.SCAN_STATUS_ITEMS``).
DEFAULT_STATUS_ITEMS = ("MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN")

# Aliases: the ``list`` method shadows the builtin inside the class body.
_Events = list[Event]
_ListItems = list[ListItem]
_Uids = list[int]
_Fetches = list[Fetch]



class FetchOptions(TypedDict, total=False):
    """UID FETCH's keyword options, one list for ``uid_fetch`` and ``uid_fetch_batches``.

    ``changedsince``: only messages whose MODSEQ is higher (CONDSTORE); ``vanished``:
    with it, also the UIDs expunged since (QRESYNC); ``chunk``: split a list of UIDs into
    commands of at most that many; ``silence``: longest wait between batches (default:
    the client timeout).
    """

    changedsince: int | None
    vanished: bool
    chunk: int | None
    silence: float | None

class ImapClient(ImapSession):
    """One IMAP session with the commands the connector uses."""

    enabled: frozenset[str] = frozenset()  # what ENABLE switched on in this session

    async def enable(self, *extensions: str) -> frozenset[str]:
        """ENABLE (RFC 5161), e.g. ``enable("QRESYNC")``; returns what the server enabled.
        Only before the first SELECT/EXAMINE of the session (RFC 5161 3.1)."""
        _, events = await self._run("ENABLE", *(Atom(e) for e in extensions),
                                    stage="imap_command")
        enabled: set[str] = set()
        for e in events:
            if isinstance(e, Enabled):
                enabled.update(c.upper() for c in e.caps)
        self.enabled = self.enabled | enabled
        return frozenset(enabled)

    # -- mailboxes --------------------------------------------------------------------

    async def list(
        self, reference: str = "", pattern: str = "*", *, special_use: bool | None = None
    ) -> _ListItems:
        """LIST; asks for RETURN (SPECIAL-USE) when the server supports it (or if forced)."""
        if special_use is None:
            special_use = "SPECIAL-USE" in await self._ensure_caps()
        args: builtins.list[Arg] = [Mailbox(reference), Mailbox(pattern)]
        if special_use:
            args += [Atom("RETURN"), (Atom("SPECIAL-USE"),)]
        _, events = await self._run("LIST", *args, stage="imap_list")
        return [e for e in events if isinstance(e, ListItem)]

    async def create(self, mailbox: str) -> None:
        """CREATE a mailbox (the name is sent in modified UTF-7)."""
        await self._run("CREATE", Mailbox(mailbox), stage="imap_command")

    async def status(self, mailbox: str, items: Sequence[str] | None = None) -> Status:
        if items is None:
            items = DEFAULT_STATUS_ITEMS
            if "CONDSTORE" in await self._ensure_caps():
                items = (*items, "HIGHESTMODSEQ")
        _, events = await self._run(
            "STATUS", Mailbox(mailbox), tuple(Atom(i) for i in items), stage="imap_status"
        )
        for e in events:
            if isinstance(e, Status):
                return e
        raise ServerRefused(f"STATUS {mailbox!r} answered OK without data",
                            stage="imap_status", code="status_missing")

    async def select(
        self, mailbox: str, *, readonly: bool = False, condstore: bool = False
    ) -> SelectResult:
        """SELECT (or EXAMINE); ``condstore`` asks for HIGHESTMODSEQ (RFC 7162)."""
        args: builtins.list[Arg] = [Mailbox(mailbox)]
        if condstore:
            args.append((Atom("CONDSTORE"),))
        self.selected = None
        try:
            tagged, events = await self._run(
                "EXAMINE" if readonly else "SELECT", *args, stage="imap_select"
            )
        except ServerRefused:
            self.session.advance("select_failed")  # RFC 3501 6.3.1: nothing is selected now
            raise
        self.selected = select_result(mailbox, events, tagged)
        self.session.advance("select_ok")
        return self.selected

    # -- messages ---------------------------------------------------------------------

    async def uid_fetch(
        self,
        uids: str | Iterable[int],
        items: str | Sequence[str] = HEADER_ITEMS,
        **options: Unpack[FetchOptions],
    ) -> AsyncIterator[Fetch]:
        """Stream FETCH responses as they arrive (nothing is held beyond one read).

        ``options`` as ``FetchOptions`` (the same as ``uid_fetch_batches``). Do not send
        other commands on this client while iterating: the stream is bounded
        (backpressure), so their answers would wait behind unread FETCHes. Breaking out
        early is fine: the rest of the answer is read and dropped (if you keep a reference
        to the iterator, ``await it.aclose()`` so that happens at once).
        """
        batches = self.uid_fetch_batches(uids, items, **options)
        async with contextlib.aclosing(batches):
            async for batch in batches:
                for fetch in batch:
                    yield fetch

    async def uid_fetch_batches(
        self,
        uids: str | Iterable[int],
        items: str | Sequence[str] = HEADER_ITEMS,
        *,
        changedsince: int | None = None,
        vanished: bool = False,
        chunk: int | None = None,
        silence: float | None = None,
    ) -> AsyncGenerator[_Fetches, None]:
        """``uid_fetch`` one socket read at a time: lists of ``Fetch`` (for consumers
        that handle a batch at once, e.g. one database transaction per batch). The
        keyword options are ``FetchOptions``."""
        item_arg: Arg = Atom(items) if isinstance(items, str) else tuple(Atom(i) for i in items)
        wait = self.timeout if silence is None else silence
        for uidset in uid_chunks(uids, chunk):
            args: builtins.list[Arg] = [uidset, item_arg]
            if changedsince is not None:
                modifiers: builtins.list[Arg] = [Atom("CHANGEDSINCE"), changedsince]
                if vanished:  # QRESYNC must be enabled; VANISHED arrive as unsolicited events
                    modifiers.append(Atom("VANISHED"))
                args.append(tuple(modifiers))
            p = await self._start("UID FETCH", *args, stage="imap_fetch", stream=True)
            drained = False
            try:
                while (batch := await self._conn.next_batch(p, wait)) is not None:
                    yield batch
                drained = True
            finally:
                if not drained:  # the consumer stopped early (even if the answer is complete)
                    self._conn.abandon(p)
            await self._conn.finish(p, wait)

    async def uid_fetch_ranges(
        self,
        ranges: Sequence[tuple[int, int]],
        items: str | Sequence[str] = HEADER_ITEMS,
        *,
        ahead: int = 1,
        silence: float | None = None,
    ) -> AsyncGenerator[RangeBatch, None]:
        """One ``UID FETCH low:high`` per inclusive range, pipelined: while the caller
        works through one range's answer, the next ``ahead`` ranges are already asked for,
        so there is no round-trip stall between ranges (a 100k scan in 500-UID batches
        would otherwise wait 200 times for the server to start answering).

        Yields ``RangeBatch`` per socket read, then once per range with ``complete=True``
        after its tagged OK: the caller's checkpoint point (every FETCH of the range came
        before it). Stopping early abandons the ranges still in flight (their answers are
        read and dropped). Same backpressure as ``uid_fetch_batches``.
        """
        if ahead < 0:
            raise ConfigError(f"ahead must be >= 0, got {ahead}", code="bad_argument")
        item_arg: Arg = Atom(items) if isinstance(items, str) else tuple(Atom(i) for i in items)
        wait = self.timeout if silence is None else silence
        todo = iter(ranges)
        flight: deque[tuple[int, int, Pending]] = deque()

        async def ask() -> None:
            nxt = next(todo, None)
            if nxt is not None:
                low, high = nxt
                flight.append((low, high, await self._start(
                    "UID FETCH", Atom(f"{low}:{high}"), item_arg, stage="imap_fetch",
                    stream=True)))

        try:
            for _ in range(1 + ahead):
                await ask()
            while flight:
                low, high, p = flight[0]
                while (batch := await self._conn.next_batch(p, wait)) is not None:
                    yield RangeBatch(low, high, batch)
                await self._conn.finish(p, wait)
                flight.popleft()
                failed: EngineError | None = None
                try:
                    await ask()  # before the caller's checkpoint: the server keeps sending
                except EngineError as exc:  # the connection went: this range is still done
                    failed = exc
                yield RangeBatch(low, high, [], complete=True)
                if failed is not None:
                    raise failed
        finally:
            for _low, _high, p in flight:
                self._conn.abandon(p)

    async def uid_fetch_changes(self, uids: str, since: int, *, vanished: bool = False
                                ) -> tuple[_Fetches, _Uids]:
        """``UID FETCH uids (UID FLAGS) (CHANGEDSINCE since [VANISHED])`` (RFC 7162): the
        messages whose flags changed after MODSEQ ``since``, and (``vanished``, which
        needs QRESYNC enabled) the UIDs expunged since. A small answer: it is collected,
        not streamed."""
        modifiers: builtins.list[Arg] = [Atom("CHANGEDSINCE"), since]
        if vanished:
            modifiers.append(Atom("VANISHED"))
        _, events = await self._run("UID FETCH", Atom(uids), (Atom("UID"), Atom("FLAGS")),
                                    tuple(modifiers), stage="imap_fetch")
        fetches = [e for e in events if isinstance(e, Fetch)]
        gone = sorted({u for e in events if isinstance(e, Vanished) for u in e.uid_list()})
        return fetches, gone

    async def uid_search(self, *criteria: Arg, charset: str | None = None) -> _Uids:
        """UID SEARCH; pass keywords as ``Atom`` ("ALL", "UID 5:*") and values as ``str``:
        ``uid_search(Atom("HEADER"), "Message-ID", "<a@b>")``."""
        if not criteria:
            criteria = (Atom("ALL"),)
        args: builtins.list[Arg] = [Atom("CHARSET"), Atom(charset)] if charset else []
        _, events = await self._run("UID SEARCH", *args, *criteria, stage="imap_search")
        found: _Uids = []
        for e in events:
            if isinstance(e, Search):
                found.extend(e.ids)
            elif isinstance(e, ESearch) and isinstance(e.items.get("ALL"), str):
                found.extend(expand_uid_set(str(e.items["ALL"])))
        return found

    async def append(
        self,
        mailbox: str,
        message: bytes,
        *,
        flags: Sequence[str] = (),
        date: datetime | None = None,
    ) -> AppendResult:
        args: builtins.list[Arg] = [Mailbox(mailbox)]
        if flags:
            args.append(tuple(Atom(f) for f in flags))
        if date is not None:
            args.append(format_internaldate(date))
        args.append(message)
        tagged, _ = await self._run("APPEND", *args, stage="imap_append")
        if tagged.code == "APPENDUID" and len(tagged.code_args) == 2:
            v, u = tagged.code_args
            if str(v).isdigit() and str(u).isdigit():
                return AppendResult(int(str(v)), int(str(u)))
        return AppendResult(None, None)

    async def uid_store(
        self, uids: str | Iterable[int], action: str, flags: Sequence[str], *,
        silent: bool = True,
    ) -> _Events:
        """UID STORE; ``action`` is "+FLAGS", "-FLAGS" or "FLAGS" (".SILENT" added if asked)."""
        if action.upper() not in ("+FLAGS", "-FLAGS", "FLAGS"):
            raise ConfigError(f"STORE action must be +FLAGS, -FLAGS or FLAGS, not {action!r}",
                              code="bad_argument")
        name = action.upper() + (".SILENT" if silent else "")
        _, events = await self._run("UID STORE", uid_set(uids) if isinstance(uids, str)
                                    else uid_set(builtins.list(uids)), Atom(name),
                                    tuple(Atom(f) for f in flags), stage="imap_command")
        return events

    async def expunge(self) -> _Events:
        """EXPUNGE the selected mailbox; the EXPUNGE/VANISHED events come back."""
        _, events = await self._run("EXPUNGE", stage="imap_command")
        return events

    async def noop(self) -> _Events:
        _, events = await self._run("NOOP", stage="imap_noop")
        return events

    async def idle(self) -> IdleSession:
        """Enter IDLE; use ``wait()`` for events and ``done()`` to leave (RFC 2177)."""
        if "IDLE" not in await self._ensure_caps():
            raise ServerRefused("the server does not support IDLE", code="idle_unsupported",
                                stage="imap_idle", permanent=True)
        self.session.check("IDLE")
        session = IdleSession(self._conn, self.timeout)
        await session.start()
        return session

__all__ = [
    "DEFAULT_PORTS",
    "HEADER_FIELDS",
    "HEADER_ITEMS",
    "AppendResult",
    "Credentials",
    "FetchOptions",
    "IdleSession",
    "ImapClient",
    "RangeBatch",
    "Security",
    "SelectResult",
    "is_loopback",
]
