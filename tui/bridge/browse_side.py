"""The bridge's extra connections: the folder browser's window and the full scan.

Part of ``EngineBridge`` (a mixin, so the bridge stays one object with one thread):
each extra connection takes a slot of the account's budget of five, is logged in with
the account's settings, and goes back when its screen or scan is done. Runs on the
engine loop; results reach the UI as ``tui.messages`` posted to the asking screen.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from textual.message import Message
from textual.message_pump import MessagePump

from inboxlab.engine.account import Account
from inboxlab.engine.connect import ConnectOptions, Link, login, open_link
from inboxlab.engine.crm.ingest import Headers
from inboxlab.engine.errors import EngineError
from inboxlab.engine.imap import ImapClient
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings
from inboxlab.engine.tokens import TokenProvider
from inboxlab.tui import messages as m
from inboxlab.tui.bridge.browse import FolderBrowser, find_message, full_scan
from inboxlab.tui.bridge.translate import message_view, read_headers

if TYPE_CHECKING:
    from inboxlab.tui.bridge.crm import CrmBridge

T = TypeVar("T")


class BrowseSide:
    """Needs the bridge's account, settings, secret, CA file, links and browser."""

    account: Account | None
    settings: AccountSettings | None
    _secret: Secret | TokenProvider | None
    _cafile: str | None
    _links: dict[int, Link]
    _browser: FolderBrowser
    crm: CrmBridge

    if TYPE_CHECKING:
        def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]: ...
        def post(self, message: Message, to: MessagePump | None = None) -> None: ...
        def _client_trace(self, name: str, **info: Any) -> None: ...

    # -- extra connections (browser, full scan), inside the account's budget ------------------

    async def _open_client(self, purpose: str) -> ImapClient:
        account, settings = self.account, self.settings
        if account is None or settings is None:
            raise EngineError("no account is running", code="not_connected")
        link = await open_link(settings, account.pool, purpose,
                               options=ConnectOptions(cafile=self._cafile),
                               trace=self._client_trace)
        await login(link, settings, self._secret or Secret(""))
        self._links[id(link.client)] = link
        return link.client

    async def _close_client(self, client: ImapClient, purpose: str) -> None:
        link = self._links.pop(id(client), None)
        if link is not None:
            await link.close(logout=True)

    def scan(self, folder: str) -> concurrent.futures.Future[int]:
        return self.submit(self._scan(folder))

    async def _scan(self, folder: str) -> int:
        def report(view: m.ProgressView) -> None:
            self.post(m.ScanProgress(view))

        try:
            return await full_scan(self._open_client, self._close_client, folder, report)
        except EngineError as exc:
            self.post(m.EngineFailed(f"scan of {folder}", str(exc)))
            return 0

    # -- the message view -------------------------------------------------------------------

    def open_message(self, folder: str, uid: int,
                     reply_to: MessagePump) -> concurrent.futures.Future[None]:
        """The browser's Enter: one message's threading headers and tracking decision."""
        return self.submit(self._open_message(reply_to, folder=folder, uid=uid))

    def find_message(self, message_id: str,
                     reply_to: MessagePump) -> concurrent.futures.Future[None]:
        """From Records: a logged email's message, looked up in INBOX and Sent."""
        return self.submit(self._open_message(reply_to, message_id=message_id))

    async def _open_message(self, reply_to: MessagePump, *, folder: str = "", uid: int = 0,
                            message_id: str = "") -> None:
        try:
            if message_id:
                raw = await find_message(self._open_client, self._close_client,
                                         self._message_folders(), message_id)
            else:
                raw = await self._browser.message(folder, uid)
        except EngineError as exc:
            self.post(m.EngineFailed("open the message", str(exc)))
            return
        if raw is None:
            where = f"UID {uid} in {folder}" if not message_id else message_id
            self.post(m.MessageOpened(message_view(
                None, Headers(message_id=message_id or None), ("unknown", ""),
                problem=f"{where} is not in the mailbox (expunged, or not scanned)")),
                to=reply_to)
            return
        headers, problem = read_headers(raw)
        decision = await self.crm.decision(headers) if headers is not None \
            else ("malformed", problem)
        self.post(m.MessageOpened(message_view(raw, headers, decision, problem=problem)),
                  to=reply_to)

    def _message_folders(self) -> list[str]:
        account = self.account
        folders = ["INBOX"]
        if account is not None:
            folders += [c.folder for c in account.roles.values()
                        if c.folder and c.folder not in folders]
        return folders

    # -- the folder browser: only the visible window, fetched on demand ----------------------

    def open_folder(self, folder: str, reply_to: MessagePump) -> concurrent.futures.Future[int]:
        return self.submit(self._open_folder(folder, reply_to))

    async def _open_folder(self, folder: str, reply_to: MessagePump) -> int:
        try:
            count = await self._browser.open(folder)
        except EngineError as exc:
            self.post(m.EngineFailed(f"open {folder}", str(exc)))
            return 0
        self.post(m.FolderOpened(folder, count), to=reply_to)
        return count

    def close_folder(self) -> concurrent.futures.Future[None]:
        """The browser screen went away: give its connection back to the budget."""
        return self.submit(self._browser.close())

    def search(self, folder: str, query: str,
               reply_to: MessagePump) -> concurrent.futures.Future[int]:
        return self.submit(self._search_hits(folder, query, reply_to))

    async def _search_hits(self, folder: str, query: str, reply_to: MessagePump) -> int:
        try:
            positions = await self._browser.search(folder, query)
        except EngineError as exc:
            self.post(m.EngineFailed(f"search {folder}", str(exc)))
            return 0
        self.post(m.SearchHits(folder, query, positions), to=reply_to)
        return len(positions)

    def fetch_rows(self, folder: str, start: int, count: int, reply_to: MessagePump,
                   generation: int = 0) -> concurrent.futures.Future[int]:
        return self.submit(self._fetch_rows(folder, start, count, reply_to, generation))

    async def _fetch_rows(self, folder: str, start: int, count: int, reply_to: MessagePump,
                          generation: int) -> int:
        try:
            rows = await self._browser.rows(folder, start, count)
        except EngineError as exc:
            self.post(m.EngineFailed(f"read {folder}", str(exc)))
            self.post(m.RowsFailed(folder, start), to=reply_to)
            return 0
        if rows:
            self.post(m.RowsLoaded(folder, start, rows, generation), to=reply_to)
        return len(rows)
