"""The folder scan: notice new mail cheaply, read only what the CRM needs, never lose our place.

Sans-I/O planning: ``plan_scan(folder, checkpoint, status)`` looks at the stored
checkpoint and a fresh ``STATUS (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)`` and
decides, without touching the network:

- nothing new: UIDNEXT says no message arrived after the last scanned UID. A
  100k-message folder costs one STATUS line; it is never SELECTed. (The folder we
  are already in gets a fresh EXAMINE instead: STATUS is not meant for the
  selected mailbox, RFC 3501 6.3.10.)
- fetch new: the UID range ``last_uid+1 .. UIDNEXT-1``, split into batches, each
  batch followed by a checkpoint, so a disconnect mid-scan resumes at the batch
  boundary. Ranges end at UIDNEXT-1 rather than ``*``: ``N:*`` returns the last
  message even when nothing is newer than N (RFC 3501 6.4.8), and mail arriving
  during the scan is the next scan's business.
- first sight / UIDVALIDITY changed / UIDNEXT went backwards: the folder starts
  fresh at UIDNEXT (optionally with a small backfill window). History that
  predates the connection is not the connector's business, and re-reading 100k
  headers after every UIDVALIDITY reset is exactly what this avoids.

What a fetch reads: ``FETCH_ITEMS`` - UID, size, internal date and a handful of
header fields, with ``BODY.PEEK`` so the user's \\Seen flags never change. Never a body.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, Protocol

from inboxlab.engine.changes import FolderChanges, changed_since
from inboxlab.engine.checkpoints import Checkpoint, CheckpointStore
from inboxlab.engine.errors import ProtocolViolation
from inboxlab.engine.imap.client import HEADER_FIELDS
from inboxlab.engine.imap.model import Fetch, ListItem, Status
from inboxlab.engine.imap.results import RangeBatch, SelectResult
from inboxlab.engine.roles import ListMethod, Role, RoleChoice, detect_roles, folders_from_list

SCAN_STATUS_ITEMS = ("UIDVALIDITY", "UIDNEXT", "MESSAGES")
SCAN_STATUS_ITEMS_CONDSTORE = (*SCAN_STATUS_ITEMS, "HIGHESTMODSEQ")

FETCH_ITEMS = ("UID", "RFC822.SIZE", "INTERNALDATE",
               f"BODY.PEEK[HEADER.FIELDS ({' '.join(HEADER_FIELDS)})]")

DEFAULT_BATCH = 500  # UIDs per UID FETCH: a checkpoint at least every 500 UIDs


class Action(StrEnum):
    NOTHING_NEW = "nothing_new"
    FETCH_NEW = "fetch_new"
    START_FRESH = "start_fresh"


@dataclass(frozen=True)
class FolderStatus:
    """The STATUS numbers a scan needs; ``highestmodseq`` only with CONDSTORE."""

    uidvalidity: int
    uidnext: int
    messages: int | None = None
    highestmodseq: int | None = None

    @classmethod
    def from_items(cls, folder: str, items: dict[str, int]) -> FolderStatus:
        """From a parsed STATUS answer; a server that omits what we asked for is a violation."""
        missing = [k for k in ("UIDVALIDITY", "UIDNEXT") if k not in items]
        if missing:
            raise ProtocolViolation(
                f"STATUS for {folder!r} lacks {', '.join(missing)}",
                code="status_incomplete", stage="imap_status",
            )
        if items["UIDVALIDITY"] < 1 or items["UIDNEXT"] < 1:
            raise ProtocolViolation(
                f"STATUS for {folder!r} has a zero UIDVALIDITY/UIDNEXT ({items})",
                code="status_invalid", stage="imap_status",
            )
        return cls(items["UIDVALIDITY"], items["UIDNEXT"], items.get("MESSAGES"),
                   items.get("HIGHESTMODSEQ"))


@dataclass(frozen=True)
class ScanPlan:
    """What to do for one folder, and why (the reason is shown in diagnostics)."""

    folder: str
    action: Action
    reason: str
    ranges: tuple[tuple[int, int], ...] = ()  # inclusive UID ranges, one UID FETCH each
    drop_checkpoint: bool = False  # UIDVALIDITY changed or UIDs went backwards
    start_uid: int = 0  # last_uid to record before fetching (fresh starts)
    renumbered: tuple[int, int] | None = None  # (stored, server's) UIDVALIDITY when they differ

    @property
    def uid_count(self) -> int:
        """An upper bound on messages to read (UIDs can be sparse)."""
        return sum(hi - lo + 1 for lo, hi in self.ranges)


def split_range(low: int, high: int, batch: int) -> tuple[tuple[int, int], ...]:
    """``low..high`` inclusive, in pieces of at most ``batch`` UIDs; empty if low > high."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    return tuple((lo, min(lo + batch - 1, high)) for lo in range(low, high + 1, batch))


def plan_scan(
    folder: str,
    checkpoint: Checkpoint | None,
    status: FolderStatus,
    *,
    batch: int = DEFAULT_BATCH,
    backfill: int = 0,
) -> ScanPlan:
    """Decide the scan; ``backfill`` is how many UIDs below UIDNEXT a fresh start reads."""
    if backfill < 0:
        raise ValueError(f"backfill must be >= 0, got {backfill}")
    newest = status.uidnext - 1

    def fresh(reason: str, drop: bool,
              renumbered: tuple[int, int] | None = None) -> ScanPlan:
        start = max(0, newest - backfill)
        return ScanPlan(folder, Action.START_FRESH, reason,
                        ranges=split_range(start + 1, newest, batch),
                        drop_checkpoint=drop, start_uid=start, renumbered=renumbered)

    if checkpoint is None:
        return fresh(f"first scan: starting at UIDNEXT {status.uidnext}"
                     + (f" with a backfill of {backfill} UIDs" if backfill else "")
                     + "; older mail predates the connection", drop=False)
    if checkpoint.uidvalidity != status.uidvalidity:
        return fresh(f"UIDVALIDITY changed {checkpoint.uidvalidity} -> {status.uidvalidity}:"
                     " stored UIDs are meaningless; starting again at UIDNEXT", drop=True,
                     renumbered=(checkpoint.uidvalidity, status.uidvalidity))
    if checkpoint.last_uid > newest:
        return fresh(f"UIDNEXT {status.uidnext} is below the last scanned UID "
                     f"{checkpoint.last_uid} with the same UIDVALIDITY (a server bug); "
                     "starting again at UIDNEXT", drop=True)
    if checkpoint.last_uid == newest:
        flags = ""
        if (status.highestmodseq is not None
                and status.highestmodseq != checkpoint.highestmodseq):
            flags = "; HIGHESTMODSEQ moved (flags or expunges only)"
        return ScanPlan(folder, Action.NOTHING_NEW,
                        f"UIDNEXT {status.uidnext} unchanged since UID {checkpoint.last_uid}"
                        + flags, start_uid=checkpoint.last_uid)
    ranges = split_range(checkpoint.last_uid + 1, newest, batch)
    return ScanPlan(folder, Action.FETCH_NEW,
                    f"UIDs {checkpoint.last_uid + 1}..{newest} are new "
                    f"(UIDNEXT {status.uidnext}); {len(ranges)} batch(es)",
                    ranges=ranges, start_uid=checkpoint.last_uid)


# -- the asyncio shell: STATUS, plan, EXAMINE, batched UID FETCH, checkpoint per batch --------


class ScannedMessage(NamedTuple):
    """What the CRM gets for one new message: where it is and its few header fields.

    Immutable like the engine's frozen-dataclass events, but a NamedTuple: a scan makes
    one per message (100,000 for a big folder), and a NamedTuple is built in about a
    third of a frozen dataclass's time (no ``object.__setattr__`` per field).
    """

    folder: str
    uidvalidity: int
    uid: int
    size: int | None
    internaldate: str | None
    headers: bytes


@dataclass(frozen=True)
class ScanResult:
    plan: ScanPlan
    delivered: int
    checkpoint: Checkpoint | None
    changes: FolderChanges | None = None  # CONDSTORE's view of already-scanned messages
    messages: int | None = None  # MESSAGES as the STATUS/EXAMINE this pass planned from said


MessageSink = Callable[[ScannedMessage], Awaitable[None] | None]
# A sink that takes a socket read's worth of messages at once (``ProgressSink.deliver``):
# one call, one progress sample, one clock read per batch instead of per message.
BatchSink = Callable[[list[ScannedMessage]], Awaitable[None] | None]
# UID FETCH batches asked for ahead of the one being processed. Three keep the server
# busy through the moments a loaded machine does not schedule the client (paired runs
# under load 3: 1.21-1.28x raw against 1.35-1.53x with one); what arrives early is held
# (at most 3 batches of messages) until its range completes.
PIPELINE_AHEAD = 3


class ScanClient(Protocol):
    """The part of ``engine.imap.client.ImapClient`` a scan uses."""

    selected: SelectResult | None

    @property
    def caps(self) -> frozenset[str]: ...
    @property
    def enabled(self) -> frozenset[str]: ...
    async def status(self, mailbox: str, items: Sequence[str] | None = None) -> Status: ...
    async def uid_fetch_changes(self, uids: str, since: int, *, vanished: bool = False
                                ) -> tuple[list[Fetch], list[int]]: ...
    async def select(self, mailbox: str, *, readonly: bool = False,
                     condstore: bool = False) -> SelectResult: ...
    def uid_fetch(self, uids: str, items: Sequence[str]) -> AsyncIterator[Fetch]: ...
    def uid_fetch_ranges(self, ranges: Sequence[tuple[int, int]], items: Sequence[str], *,
                         ahead: int = 1) -> AsyncGenerator[RangeBatch, None]: ...
    async def list(self, reference: str = "", pattern: str = "*") -> list[ListItem]: ...


async def discover_roles(
    client: ScanClient, overrides: Mapping[Role, str] | None = None
) -> dict[Role, RoleChoice]:
    """LIST the account's folders (with RETURN (SPECIAL-USE) when offered) and pick roles."""
    items = await client.list()
    method = ListMethod.SPECIAL_USE if "SPECIAL-USE" in client.caps else ListMethod.LIST
    return detect_roles(folders_from_list(items), method, overrides)


def _body_key(items: Mapping[str, object]) -> str | None:
    """The BODY[...] key as this server spells the section (it echoes our field list,
    in its own case and order)."""
    return next((k for k in items if k.startswith("BODY[")), None)


def _scanned_batch(folder: str, uidvalidity: int, low: int, high: int, split: int,
                   fetches: list[Fetch], key: list[str | None]
                   ) -> tuple[list[ScannedMessage], list[ScannedMessage]]:
    """The batch's messages in ``low..high``, as (UID <= split, UID > split); anything
    else (an unsolicited FETCH of a flag change, which has no BODY[...], or a UID outside
    what we asked) is dropped. ``key`` caches the BODY[...] key between calls."""
    out: list[ScannedMessage] = []
    later: list[ScannedMessage] = []
    append = out.append
    for fetch in fetches:
        items = fetch.items
        uid = items.get("UID")
        if uid is None or not low <= uid <= high:
            continue
        k = key[0]
        if k is None or k not in items:
            k = _body_key(items)
            if k is None:
                continue
            key[0] = k
        message = ScannedMessage(folder, uidvalidity, uid, items.get("RFC822.SIZE"),
                                 items.get("INTERNALDATE"), items[k] or b"")
        if uid <= split:
            append(message)
        else:
            later.append(message)
    return out, later


async def _folder_status(client: ScanClient, folder: str) -> tuple[FolderStatus, bool]:
    """STATUS for a folder we are not in; a fresh EXAMINE for the one we are in.

    RFC 3501 6.3.10: STATUS must not be used to check the selected mailbox for new
    mail (servers may answer from a stale snapshot). Returns (status, examined now).
    """
    condstore = "CONDSTORE" in client.caps
    selected = client.selected
    if selected is not None and selected.mailbox == folder:
        box = await client.select(folder, readonly=True, condstore=condstore)
        if box.uidvalidity is not None and box.uidnext is not None:
            return FolderStatus(box.uidvalidity, box.uidnext, box.exists,
                                box.highestmodseq), True
    items = SCAN_STATUS_ITEMS_CONDSTORE if condstore else SCAN_STATUS_ITEMS
    return FolderStatus.from_items(folder, (await client.status(folder, items)).items), False


def _as_batches(sink: MessageSink) -> BatchSink:
    async def deliver(messages: list[ScannedMessage]) -> None:
        for message in messages:
            pending = sink(message)
            if pending is not None:
                await pending
    return deliver


async def _fetch_ranges(client: ScanClient, store: CheckpointStore, account: str,
                        status: FolderStatus, plan: ScanPlan, modseq: int | None,
                        batches: BatchSink) -> tuple[int, Checkpoint]:
    """The plan's UID FETCHes, pipelined, with a checkpoint after each range's tagged OK;
    returns (messages delivered, the last checkpoint).

    A server may run pipelined FETCHes concurrently (Dovecot does): the next range's
    FETCHes can arrive before this range's tagged OK, in this range's part of the stream.
    They are held until this range is checkpointed, so a sink failure still resumes
    from the last complete range, exactly as without pipelining.
    """
    folder, uidvalidity = plan.folder, status.uidvalidity
    first, last = plan.ranges[0][0], plan.ranges[-1][1]
    key: list[str | None] = [None]
    held: list[ScannedMessage] = []
    delivered = 0
    checkpoint: Checkpoint | None = None

    async def hand(messages: list[ScannedMessage]) -> None:
        nonlocal delivered
        if messages:
            pending = batches(messages)
            if pending is not None:
                await pending
            delivered += len(messages)

    # Checkpoint writes overlap the next ranges' messages (one write in flight): a write
    # is issued after the sink finished every message of its range, which is all the
    # order at-least-once needs, and the scan never waits on the database thread. A
    # range that completes while a write is still in flight is written when that one
    # is done (only the newest: it covers the ranges before it), so a slow or busy
    # database means fewer, later checkpoints, never a stalled scan.
    writing: asyncio.Task[Checkpoint] | None = None
    unwritten: int | None = None  # the newest completed range's high, not yet written

    def write(high: int) -> asyncio.Task[Checkpoint]:
        return asyncio.ensure_future(store.put(
            account, folder, uidvalidity=uidvalidity, last_uid=high,
            uidnext=status.uidnext, highestmodseq=modseq))

    try:
        async with contextlib.aclosing(client.uid_fetch_ranges(
                plan.ranges, FETCH_ITEMS, ahead=PIPELINE_AHEAD)) as answers:
            async for part in answers:
                if part.complete:
                    if held:
                        ready, held = _split(held, part.high)
                        await hand(ready)
                    if writing is not None and writing.done():
                        checkpoint = writing.result()  # a failed write fails the scan
                        writing = None
                    if writing is None:
                        writing, unwritten = write(part.high), None
                    else:
                        unwritten = part.high
                    continue
                ready, early = _scanned_batch(folder, uidvalidity, first, last, part.high,
                                              part.fetches, key)
                if held:
                    now, held = _split(held, part.high)
                    ready = now + ready
                held += early
                await hand(ready)
    finally:
        # Ranges that completed stay checkpointed, even now. The newest completed range
        # is written in the same task as the write in flight (after it), and that task
        # is awaited to its end even when the scan is cancelled: a reset cancels the
        # scan here (the session fails on the watcher's connection too), and with three
        # ranges asked ahead several of them can have completed behind one write.
        if unwritten is not None:
            writing = asyncio.ensure_future(_write_after(writing, write, unwritten))
        if writing is not None:
            checkpoint = await _finish(writing)
    assert checkpoint is not None  # plan.ranges is not empty
    return delivered, checkpoint


async def _write_after(previous: asyncio.Task[Checkpoint] | None,
                       write: Callable[[int], asyncio.Task[Checkpoint]],
                       high: int) -> Checkpoint:
    if previous is not None:
        await previous  # a failed write fails the scan, as in the loop
    return await write(high)


async def _finish(writing: asyncio.Task[Checkpoint]) -> Checkpoint:
    """The write's checkpoint; a cancellation waits for the write to end (shielded,
    so it is not lost, and awaited, so the next scan reads it), then goes on."""
    try:
        return await asyncio.shield(writing)
    except asyncio.CancelledError:
        await asyncio.wait((writing,))
        if not writing.cancelled():
            writing.exception()  # retrieved: the cancellation is what the caller sees
        raise


def _split(messages: list[ScannedMessage], high: int) -> tuple[list[ScannedMessage],
                                                                list[ScannedMessage]]:
    return [m for m in messages if m.uid <= high], [m for m in messages if m.uid > high]


async def scan_folder(
    client: ScanClient,
    store: CheckpointStore,
    account: str,
    folder: str,
    sink: MessageSink,
    *,
    batch: int = DEFAULT_BATCH,
    backfill: int = 0,
    on_reset: Callable[[], Awaitable[int | None]] | None = None,
    batches: BatchSink | None = None,
) -> ScanResult:
    """One scan of one folder; ``sink`` sees each new message at least once (or, when
    ``batches`` is given, ``batches`` sees them a socket read at a time instead).

    Delivery is at-least-once: the checkpoint advances after each batch, so a failure
    mid-batch (a disconnect, or ``sink`` raising) replays that batch on the next scan.
    The sink must therefore be idempotent (match on Message-ID / UID).

    ``on_reset`` runs instead of the fresh start when UIDVALIDITY changed: mail that
    arrived since the last scan has new UIDs, and "start again at UIDNEXT" would skip it,
    a tracked reply included. The caller finds what matters another way (the scanner
    searches the server for replies to the tracked set) and returns how many messages it
    delivered and checkpointed, or None to fall back to the plain fresh start.
    """
    status, examined = await _folder_status(client, folder)
    checkpoint = await store.get(account, folder)
    plan = plan_scan(folder, checkpoint, status, batch=batch, backfill=backfill)
    if (on_reset is not None and checkpoint is not None
            and checkpoint.uidvalidity != status.uidvalidity):
        recovered = await on_reset()
        if recovered is not None:
            return ScanResult(plan, recovered, await store.get(account, folder))
    changes = None
    if (checkpoint is not None and not plan.drop_checkpoint and checkpoint.last_uid > 0
            and checkpoint.highestmodseq is not None and status.highestmodseq is not None
            and checkpoint.highestmodseq != status.highestmodseq):
        # Flags changed or messages went (engine.changes): ask what, in the folder.
        if not examined:
            box = await client.select(folder, readonly=True, condstore=True)
            examined = True
            if box.uidvalidity is not None and box.uidvalidity != status.uidvalidity:
                return ScanResult(plan, 0, checkpoint)  # the next scan starts over cleanly
        changes = await changed_since(client, checkpoint.last_uid, checkpoint.highestmodseq,
                                      status.highestmodseq)
    if plan.action is Action.NOTHING_NEW:
        if checkpoint is not None and checkpoint.highestmodseq != status.highestmodseq:
            checkpoint = await store.put(
                account, folder, uidvalidity=status.uidvalidity, last_uid=checkpoint.last_uid,
                uidnext=status.uidnext, highestmodseq=status.highestmodseq)
        return ScanResult(plan, 0, checkpoint, changes, status.messages)
    if plan.drop_checkpoint:
        if checkpoint is not None and checkpoint.uidvalidity != status.uidvalidity:
            await store.drop_folder_on_uidvalidity_change(account, folder, status.uidvalidity)
        else:
            await store.delete(account, folder)
    modseq = None if checkpoint is None or plan.drop_checkpoint else checkpoint.highestmodseq
    checkpoint = await store.put(account, folder, uidvalidity=status.uidvalidity,
                                 last_uid=plan.start_uid, uidnext=status.uidnext,
                                 highestmodseq=modseq)
    delivered = 0
    if plan.ranges and not examined:
        # EXAMINE, not SELECT: read-only, so the scan cannot clear \Recent or expunge.
        box = await client.select(folder, readonly=True)
        if box.uidvalidity is not None and box.uidvalidity != status.uidvalidity:
            # Changed between STATUS and EXAMINE: the next scan starts over cleanly.
            return ScanResult(plan, 0, checkpoint)
    if plan.ranges:
        delivered, checkpoint = await _fetch_ranges(
            client, store, account, status, plan, modseq,
            _as_batches(sink) if batches is None else batches)
    if status.highestmodseq is not None:
        checkpoint = await store.put(account, folder, uidvalidity=status.uidvalidity,
                                     last_uid=checkpoint.last_uid, uidnext=status.uidnext,
                                     highestmodseq=status.highestmodseq)
    return ScanResult(plan, delivered, checkpoint, changes, status.messages)
