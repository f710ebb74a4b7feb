"""What a session does on its scan connection: find the folders, then scan them in passes.

``Scanner`` lives as long as the ``Account`` (its folder counts and progress survive
reconnects, for the TUI) and is handed the live client for each call:

- ``discover``: LIST (with SPECIAL-USE when offered), pick roles, choose the watched
  folders (INBOX + Sent, every selectable folder, or INBOX + Sent + the names the
  options give; an unlisted name is a ``FolderGone`` warning), read their sizes once, and warn
  about folders of ``large_folder`` messages or more;
- ``scan``: one folder. The first sync is ``initial_scan`` "new" (start at UIDNEXT)
  or "full" (every header, batched, with progress) - or a server-side reply SEARCH
  (``engine.replies``) when ``estimate_first_sync`` says it takes at most half the scan
  (a few tracked threads in a big folder); the choice is traced as ``scan.first_sync``.
  A folder that vanished
  (renamed/deleted elsewhere) drops its checkpoint and asks for a re-LIST instead of
  failing the session. A message the engine refuses (the parser, or the CRM's ingest)
  fails the session as before; ``SKIP_AFTER`` refusals at one position narrow the scan
  to one UID per batch, and ``SKIP_AFTER`` more skip that UID with a ``MessageSkipped``
  event, so the rest of the folder syncs.

Message counts come from the STATUS/EXAMINE answers the scan asks for anyway
(``_Counting``), so a no-change pass costs one STATUS per folder and nothing more.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inboxlab.engine.account_options import AccountOptions, FolderStats
from inboxlab.engine.changes import FolderChanges, enable_qresync, expunged_by_count
from inboxlab.engine.checkpoints import Checkpoint, CheckpointStore
from inboxlab.engine.clock import Clock
from inboxlab.engine.errors import EngineError, ProtocolViolation, ServerRefused, Throttled
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.model import Fetch, ListItem, Status
from inboxlab.engine.imap.results import RangeBatch, SelectResult
from inboxlab.engine.replies import deliver_replies, estimate_first_sync
from inboxlab.engine.roles import (
    Folder,
    ListMethod,
    Role,
    RoleChoice,
    detect_roles,
    folders_from_list,
)
from inboxlab.engine.supervise import (
    AccountEvent,
    FolderGone,
    LargeFolderWarning,
    MessageSkipped,
    UidValidityChanged,
)
from inboxlab.engine.sync import Action, MessageSink, ScanResult, scan_folder
from inboxlab.engine.trace import TraceHub
from inboxlab.engine.watch import ProgressSink

FULL_BACKFILL = 2**32  # "start at UID 1": a backfill larger than any UID range
TrackedProvider = Callable[[], Any]


def _unchanged() -> None:
    """``Scanner.changed`` until the account hooks it."""


class Scanner:
    def __init__(self, account: str, options: AccountOptions, clock: Clock, hub: TraceHub,
                 publish: Callable[[AccountEvent], None], sink: MessageSink,
                 tracked: TrackedProvider | None = None) -> None:
        self.account = account
        self.options = options
        self.clock = clock
        self.hub = hub
        self.publish = publish
        self.sink = sink
        self.tracked = tracked
        self.roles: dict[Role, RoleChoice] = {}
        self.folders: dict[str, FolderStats] = {}
        # Called after every change of ``folders`` (the account announces its stats).
        self.changed: Callable[[], None] = _unchanged
        self.watched: list[str] = []
        self.relist = False
        self._stuck: dict[str, _Stuck] = {}
        # folder -> (UIDNEXT, MESSAGES) as the last pass planned from: the count that
        # goes with the checkpoint, for noticing expunges by count (engine.changes).
        self._counted: dict[str, tuple[int | None, int | None]] = {}

    @property
    def inbox(self) -> str:
        choice = self.roles.get(Role.INBOX)
        return choice.folder if choice is not None and choice.folder else "INBOX"

    async def discover(self, client: ImapClient, store: CheckpointStore,
                       overrides: Mapping[Role, str]) -> None:
        """LIST, pick roles, choose what to watch, read sizes (and warn about huge folders)."""
        await enable_qresync(client)  # before any SELECT: expunged UIDs come named
        items = await client.list()
        method = ListMethod.SPECIAL_USE if "SPECIAL-USE" in client.caps else ListMethod.LIST
        listed = folders_from_list(items)
        roles = detect_roles(listed, method, overrides)
        # Published whole, after the last await: a reader never sees a half-made choice.
        self.roles = await self._prefer_used_sent(client, listed, method, roles)
        self.hub.emit("account.roles", {"account": self.account, "roles": {
            r.value: (c.folder, c.reason) for r, c in self.roles.items()}})
        role_of = {c.folder: r.value for r, c in self.roles.items() if c.folder}
        wanted = [self.inbox]
        sent = self.roles.get(Role.SENT)
        if sent is not None and sent.folder and sent.folder not in wanted:
            wanted.append(sent.folder)
        if self.options.folders == "all":
            wanted += [f.name for f in listed if f.selectable and f.name not in wanted]
        elif isinstance(self.options.folders, tuple):
            wanted += self._chosen(listed, wanted, self.options.folders)
        self.watched = wanted
        self.folders = {}
        self.relist = False
        for folder in list(wanted):
            try:
                status = (await client.status(folder, ("MESSAGES", "UIDNEXT",
                                                       "UIDVALIDITY"))).items
            except ServerRefused as exc:
                if not _folder_problem(exc):
                    raise
                await self._gone(store, folder, exc)
                continue
            messages = status.get("MESSAGES")
            cp = await store.get(self.account, folder)
            self.folders[folder] = FolderStats(folder, role_of.get(folder), messages,
                                               status.get("UIDNEXT"),
                                               None if cp is None else cp.last_uid)
            self.changed()
            if messages is not None and messages >= self.options.large_folder:
                self.publish(LargeFolderWarning(self.account, folder, messages,
                                                self.options.large_folder, self.clock.wall()))

    def _chosen(self, listed: list[Folder], wanted: list[str],
                names: tuple[str, ...]) -> list[str]:
        """The person's extra folders that the server lists as selectable; any other name
        is a ``FolderGone`` warning (a typo or a folder since renamed), never a failure."""
        selectable = {f.name for f in listed if f.selectable}
        extra: list[str] = []
        for name in names:
            if name in wanted or name in extra or name.upper() == "INBOX":
                continue  # INBOX and Sent are always watched
            if name in selectable:
                extra.append(name)
                continue
            why = "listed but not selectable" if any(f.name == name for f in listed) else \
                "not in the server's folder list (LIST)"
            self.publish(FolderGone(self.account, name, f"chosen folder {name!r}: {why}",
                                    self.clock.wall()))
        return extra

    async def _prefer_used_sent(self, client: ImapClient, listed: list[Folder],
                                method: ListMethod, roles: dict[Role, RoleChoice]
                                ) -> dict[Role, RoleChoice]:
        """Among several folders with known Sent names, the one holding mail wins.

        Without SPECIAL-USE a server may list an empty "Sent" (made by some mail
        program) next to the localized "Gesendet" it really files sent mail in. Only
        strong name matches compete (never the weak "a word of the name" tier), and
        only when no attribute or override decided.
        """
        choice = roles.get(Role.SENT)
        if choice is None or choice.source != "name" or choice.folder is None:
            return roles
        candidates = []
        for folder in listed:
            alone = detect_roles([folder], method)[Role.SENT]
            if folder.selectable and alone.folder == folder.name and "weak" not in alone.reason:
                candidates.append(folder.name)
        if len(candidates) < 2:
            return roles
        counts = {name: (await client.status(name, ("MESSAGES",))).items.get("MESSAGES", 0)
                  for name in candidates}
        best = max(candidates, key=lambda name: (counts[name], name == choice.folder))
        if counts[best] > counts[choice.folder]:
            others = ", ".join(f"{n!r}: {counts[n]}" for n in candidates if n != best)
            roles[Role.SENT] = RoleChoice(
                Role.SENT, best, f"several folders have known sent names; {best!r} holds "
                f"{counts[best]} messages, the others fewer ({others})", method, "name")
        return roles

    async def scan(self, client: ImapClient, store: CheckpointStore, folder: str) -> None:
        """Scan one folder; a vanished folder is noted (``FolderGone``), not raised."""
        progress = ProgressSink(self.sink, store, self.account, folder, self.clock,
                                self.publish)
        try:
            checkpoint = await store.get(self.account, folder)
            how: Mapping[str, Any]
            choice = None
            tracked = None
            if checkpoint is None and self.options.initial_scan == "full" and self.tracked:
                tracked = list(self.tracked())
                stats = self.folders.get(folder)
                choice = estimate_first_sync(len(tracked), stats.messages if stats else None,
                                             batch=self.options.batch,
                                             limit=self.options.small_tracked_set)
                self.hub.emit("scan.first_sync", {"account": self.account, "folder": folder,
                                                  "search": choice.search,
                                                  "reason": choice.reason})
            if choice is not None and choice.search and tracked is not None:
                await deliver_replies(client, store, self.account, folder, tracked, progress)
                how = {"action": "search_replies", "tracked": len(tracked)}
            else:
                backfill = FULL_BACKFILL if self.options.initial_scan == "full" else 0

                async def replies_since_reset() -> int | None:
                    # Every tracked ID, however many: the search is chunked
                    # (``SEARCH_CHUNK`` IDs per UID SEARCH), and a reset that skipped
                    # the replies of a large tracked set would lose them for good.
                    ids = self._tracked_ids()
                    if not ids:
                        return None
                    return await deliver_replies(client, store, self.account, folder, ids,
                                                 progress)

                careful = folder in self._stuck and self._stuck[folder].careful
                try:
                    result = await scan_folder(
                        _Counting(client, self._count), store, self.account, folder,
                        progress, batch=1 if careful else self.options.batch,
                        backfill=backfill, on_reset=replies_since_reset,
                        batches=progress.deliver)
                except EngineError as exc:
                    if _refused(exc):
                        await self._refused(store, folder, exc)
                    raise
                self._stuck.pop(folder, None)
                how = {"action": result.plan.action.value, "reason": result.plan.reason}
                if result.plan.renumbered is not None:
                    stored, now = result.plan.renumbered
                    self.publish(UidValidityChanged(self.account, folder, stored, now,
                                                    self.clock.wall()))
                self._changes(folder, checkpoint, result)
        except ServerRefused as exc:
            if not _folder_problem(exc):
                raise
            await self._gone(store, folder, exc)
            return
        checkpoint = await store.get(self.account, folder)
        old = self.folders.get(folder)
        self.folders[folder] = FolderStats(
            folder, old.role if old else None, old.messages if old else None,
            None if checkpoint is None else checkpoint.uidnext,
            None if checkpoint is None else checkpoint.last_uid)
        self.changed()
        if progress.delivered:
            self.publish(progress.progress(finished=True))
        self.hub.emit("scan.folder", {"account": self.account, "folder": folder,
                                      "delivered": progress.delivered, **how})

    async def _refused(self, store: CheckpointStore, folder: str, exc: EngineError) -> None:
        """Count a refusal at the scan's position; after ``SKIP_AFTER`` in a row, scan that
        folder one UID per batch; after ``SKIP_AFTER`` more at one UID, skip that UID.

        The session still fails (a parser refusal leaves the connection unusable) and is
        retried with backoff; only the position decides, so a refusal that moves on with
        the next reconnect never skips anything.
        """
        cp = await store.get(self.account, folder)
        if cp is None:
            return
        at = (cp.uidvalidity, cp.last_uid)
        old = self._stuck.get(folder)
        careful = old is not None and old.careful
        tries = old.tries + 1 if old is not None and old.at == at else 1
        if tries < SKIP_AFTER:
            self._stuck[folder] = _Stuck(at, tries, careful)
        elif not careful:
            self._stuck[folder] = _Stuck(at, 0, True)  # next: one UID per batch
        else:
            uid = cp.last_uid + 1  # a batch of one: exactly the UID that failed
            await store.put(self.account, folder, uidvalidity=cp.uidvalidity, last_uid=uid,
                            uidnext=cp.uidnext, highestmodseq=cp.highestmodseq)
            self._stuck.pop(folder, None)
            self.publish(MessageSkipped(self.account, folder, cp.uidvalidity, uid, tries,
                                        str(exc), self.clock.wall()))
    def _changes(self, folder: str, before: Checkpoint | None, result: ScanResult) -> None:
        """Trace what changed among already-scanned messages (``scan.changes``): CONDSTORE's
        answer when there is one, else expunges by count against the last pass."""
        prior = self._counted.get(folder)
        self._counted[folder] = (None if result.checkpoint is None
                                 else result.checkpoint.uidnext, result.messages)
        changes = result.changes
        if (changes is None or changes.how == "condstore") and before is not None \
                and prior is not None and prior[0] == before.uidnext \
                and result.plan.action in (Action.NOTHING_NEW, Action.FETCH_NEW):
            gone = expunged_by_count(prior[1], result.delivered, result.messages)
            if gone:
                changes = FolderChanges("count" if changes is None else "condstore",
                                        (), gone, () if changes is None else changes.flags)
        if changes:
            self.hub.emit("scan.changes", {
                "account": self.account, "folder": folder, "how": changes.how,
                "expunged": changes.expunged_count, "expunged_uids": changes.expunged[:100],
                "flags_changed": len(changes.flags)})

    def _count(self, folder: str, messages: int) -> None:
        old = self.folders.get(folder)
        if old is not None and old.messages != messages:
            self.folders[folder] = FolderStats(folder, old.role, messages, old.uidnext,
                                               old.last_uid)
            self.changed()

    def _tracked_ids(self) -> list[str]:
        return [] if self.tracked is None else list(self.tracked())

    def _small_tracked_set(self) -> list[str] | None:
        """The tracked set when a first sync by search beats a full header scan."""
        if self.tracked is None:
            return None
        ids = self._tracked_ids()
        return ids if len(ids) <= self.options.small_tracked_set else None

    async def _gone(self, store: CheckpointStore, folder: str, exc: ServerRefused) -> None:
        await store.delete(self.account, folder)
        self.folders.pop(folder, None)
        self.changed()
        if folder in self.watched and folder != self.inbox:
            self.watched.remove(folder)
        self.relist = True
        self.publish(FolderGone(self.account, folder, exc.server_text, self.clock.wall()))


SKIP_AFTER = 3  # refusals in a row at one position before narrowing, then skipping


@dataclass(frozen=True)
class _Stuck:
    at: tuple[int, int]  # (uidvalidity, last_uid) where the scan keeps failing
    tries: int
    careful: bool  # scanning one UID per batch to find the message that fails


def _refused(exc: EngineError) -> bool:
    """A message the engine itself refuses (parser, CRM ingest), not a network fault."""
    return isinstance(exc, ProtocolViolation) or exc.code == "sink_failed"


_FOLDER_CODES = frozenset({"NONEXISTENT", "NOPERM", "TRYCREATE"})
_FOLDER_WORDS = ("exist", "not found", "unknown mailbox", "no such mailbox")


def _folder_problem(exc: ServerRefused) -> bool:
    """A NO to STATUS/EXAMINE saying the folder is gone or off limits (renamed, deleted,
    no access): that folder's problem, not the session's. Everything else - a locked
    mailbox (INUSE), OVERQUOTA, UNAVAILABLE, throttling - fails the session and is
    retried with backoff."""
    if isinstance(exc, Throttled) or exc.status != "NO" or exc.stage not in (
            "imap_status", "imap_select"):
        return False
    code = (exc.response_code or "").upper()
    if code:
        return code in _FOLDER_CODES
    text = (exc.server_text or "").lower()
    return any(word in text for word in _FOLDER_WORDS)


class _Counting:
    """The client as ``scan_folder`` sees it, noting message counts from its answers."""

    def __init__(self, client: ImapClient, note: Callable[[str, int], None]) -> None:
        self._client = client
        self._note = note

    @property
    def selected(self) -> SelectResult | None:
        return self._client.selected

    @selected.setter
    def selected(self, value: SelectResult | None) -> None:
        self._client.selected = value

    @property
    def caps(self) -> frozenset[str]:
        return self._client.caps

    @property
    def enabled(self) -> frozenset[str]:
        return self._client.enabled

    async def uid_fetch_changes(self, uids: str, since: int, *, vanished: bool = False
                                ) -> tuple[list[Fetch], list[int]]:
        return await self._client.uid_fetch_changes(uids, since, vanished=vanished)

    async def status(self, mailbox: str, items: Sequence[str] | None = None) -> Status:
        answer = await self._client.status(mailbox, items)
        messages = answer.items.get("MESSAGES")
        if messages is not None:
            self._note(mailbox, messages)
        return answer

    async def select(self, mailbox: str, *, readonly: bool = False,
                     condstore: bool = False) -> SelectResult:
        box = await self._client.select(mailbox, readonly=readonly, condstore=condstore)
        self._note(mailbox, box.exists)
        return box

    def uid_fetch(self, uids: str, items: Sequence[str]) -> AsyncIterator[Fetch]:
        return self._client.uid_fetch(uids, items)

    def uid_fetch_ranges(self, ranges: Sequence[tuple[int, int]], items: Sequence[str], *,
                         ahead: int = 1) -> AsyncGenerator[RangeBatch, None]:
        return self._client.uid_fetch_ranges(ranges, items, ahead=ahead)

    async def list(self, reference: str = "", pattern: str = "*") -> list[ListItem]:
        return await self._client.list(reference, pattern)


__all__ = ["FULL_BACKFILL", "Scanner"]
