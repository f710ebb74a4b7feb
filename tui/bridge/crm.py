"""The CRM half of the bridge: records, logger and outbox on the engine loop, views out.

``EngineBridge`` owns the thread; this module owns what the Records and Compose screens
ask of the CRM. It plugs the ``InboxLogger`` into the Account (its ``sink``, tracked
set and ``after_pass`` hook, as ``tests/crm/test_account_after_pass.py`` does): queued
replies are read on the scanner's own connection at the end of each pass, so the CRM
borrows no connection for them (the dashboard stays at 2 of 5). It sends through the crash-safe
``Outbox`` and turns its ``crm.outbox.transition`` trace events into live ``OutboxChanged``
messages. Everything crossing to the UI is a plain view from ``tui.views``; the join
and refusal reasons are the engine's own words (``engine.crm.tracking.thread_view``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from textual.message import Message

from inboxlab.engine.crm.attachments import AttachmentStore
from inboxlab.engine.crm.bcc import BccEndpoint, BccIngest, IngestResult
from inboxlab.engine.crm.contacts_csv import parse_contacts
from inboxlab.engine.crm.errors import CrmError
from inboxlab.engine.crm.inbox import InboxLogger
from inboxlab.engine.crm.ingest import Address, Headers
from inboxlab.engine.crm.outbox import Outbox
from inboxlab.engine.crm.records import Contact, CrmStore
from inboxlab.engine.crm.rules import LoggingRules
from inboxlab.engine.crm.send import SmtpSubmitter
from inboxlab.engine.crm.sentcopy import SentCopier
from inboxlab.engine.crm.templates import Template, Templates, preview
from inboxlab.engine.crm.tracking import match, thread_view
from inboxlab.engine.db import Database
from inboxlab.engine.errors import EngineError
from inboxlab.engine.imap import ImapClient
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import SmtpServer
from inboxlab.engine.sync import ScannedMessage
from inboxlab.engine.tokens import TokenProvider
from inboxlab.tui import crm_messages as cm
from inboxlab.tui import views as v
from inboxlab.tui.bridge.translate import email_view, thread_lines

log = logging.getLogger(__name__)
T = TypeVar("T")

CONTACT_PAGE = 2000  # contacts per page: a DataTable page, never the whole table

# The templates the demo offers (validated by engine.crm.templates on import).
TEMPLATES = (
    Template("renewal", "Renewal quote for {{company|your team}}",
             "Hi {{first_name|there}},\n\nthe renewal quote for {{company|your team}} is "
             "attached. Shall we talk this week?\n\nBest regards\n"),
    Template("check-in", "Checking in, {{first_name|there}}",
             "Hi {{first_name|there}},\n\njust checking in: anything I can help with?\n"),
)

OpenClient = Callable[[str], Awaitable[ImapClient]]
CloseClient = Callable[[ImapClient, str], Awaitable[None]]


@dataclass(frozen=True)
class BccConfig:
    """The BCC/forward logging endpoint ``inboxlab connect --bcc ADDRESS`` starts."""

    address: str
    host: str = "127.0.0.1"
    port: int = 0


@dataclass(frozen=True)
class CrmWiring:
    """What the CRM needs from the account: who we are, where to send, where files go."""

    username: str
    db_path: Path
    files: Path
    smtp: SmtpServer | None
    secret: Secret | TokenProvider  # the password, or the OAuth token provider
    tls: ssl.SSLContext | None
    sent_folder: str
    rules: LoggingRules
    bcc: BccConfig | None = None

    def __repr__(self) -> str:
        return f"CrmWiring(username={self.username!r}, smtp={self.smtp!r}, secret=[hidden])"


def _read_text(path: str) -> str:
    return Path(path).expanduser().read_text("utf-8")


class _PooledCopyClient:
    """The Sent copier closes its client when done: give the pool slot back too."""

    def __init__(self, client: ImapClient, close: CloseClient) -> None:
        self._client = client
        self._close_fn = close

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def close(self) -> None:
        await self._close_fn(self._client, "crm-sent")


class CrmBridge:
    """Lives on the engine loop; the public methods are called from the UI thread."""

    def __init__(self, *, submit: Callable[[Coroutine[Any, Any, Any]], Any],
                 post: Callable[[Message], None], spawn: Callable[..., asyncio.Task[Any]],
                 open_client: OpenClient, close_client: CloseClient,
                 trace: Callable[[str, Mapping[str, Any]], None],
                 rng: random.Random) -> None:
        self._submit = submit
        self._post = post
        self._spawn = spawn
        self._open = open_client
        self._close = close_client
        self._trace = trace
        self._rng = rng
        self.templates = Templates()
        for t in TEMPLATES:
            self.templates.add(t)
        self.db: Database | None = None
        self.store: CrmStore | None = None
        self.logger: InboxLogger | None = None
        self.outbox: Outbox | None = None
        self.rules = LoggingRules()
        self.bcc: BccEndpoint | None = None
        self._contact_of: dict[str, str] = {}  # outbox Message-ID -> recipient, for views
        self._subject_of: dict[str, str] = {}
        self._own: tuple[str, ...] = ()  # the account's own addresses (not "participants")

    # -- wiring (engine loop) -------------------------------------------------------------

    async def start(self, wiring: CrmWiring) -> None:
        self.rules = wiring.rules
        self.db = await Database.open(wiring.db_path)
        self.store = CrmStore(self.db, AttachmentStore(wiring.files))
        # The logging address is the user's own, never a participant of anything.
        own = [wiring.username, *([wiring.bcc.address] if wiring.bcc else [])]
        self._own = tuple(own)
        self.logger = InboxLogger(self.store, wiring.rules, own, trace=self._on_trace)
        await self.logger.refresh()
        if wiring.bcc is not None:
            await self._start_bcc(wiring)
        if wiring.smtp is not None:
            copier = SentCopier(self._copy_client, wiring.sent_folder)
            submitter = SmtpSubmitter(wiring.smtp, wiring.username, wiring.secret,
                                      tls_context=wiring.tls, timeout=15)
            self.outbox = Outbox(self.store, submitter, copier, Address(wiring.username),
                                 rng=self._rng, trace=self._on_trace)
        # Replies a crash left queued are read by the first pass's after_pass; sends an
        # earlier run left unfinished are resumed by the bridge once the account settles.
        self._post(cm.RecordsChanged())

    async def _start_bcc(self, wiring: CrmWiring) -> None:
        assert self.store is not None and wiring.bcc is not None
        cfg = wiring.bcc
        ingest = BccIngest(self.store, [wiring.username], rules=wiring.rules,
                           addresses=[cfg.address], on_logged=self._bcc_logged)
        endpoint = BccEndpoint(ingest, cfg.address, host=cfg.host, port=cfg.port)
        try:
            await endpoint.start()
        except OSError as exc:
            self._post(cm.CrmFailed(f"BCC endpoint on {cfg.host}:{cfg.port}", str(exc)))
            return
        self.bcc = endpoint
        self._post(cm.BccListening(cfg.address, cfg.host, endpoint.port))

    async def _bcc_logged(self, result: IngestResult) -> None:
        if self.logger is not None:
            await self.logger.refresh()  # its replies are matched from the next message on
        self._post(cm.RecordsChanged())

    async def stop(self) -> None:
        bcc, self.bcc = self.bcc, None
        if bcc is not None:
            await bcc.stop()
        if self.outbox is not None:
            await self.outbox.submitter.close()
            if self.outbox.copier is not None:
                await self.outbox.copier.close()
        self.outbox, self.logger, self.store = None, None, None
        db, self.db = self.db, None
        if db is not None:
            await db.close()

    async def _copy_client(self) -> Any:
        return _PooledCopyClient(await self._open("crm-sent"), self._close)

    def set_rules(self, rules: LoggingRules) -> None:
        """Settings saved on the UI reach the logger (engine loop)."""
        self.rules = rules
        if self.logger is not None:
            self.logger.rules = rules

    # -- the Account's side ---------------------------------------------------------------

    async def sink(self, message: ScannedMessage) -> None:
        """The Account's scan sink: decide and queue (durably); ``after_pass`` reads them."""
        if self.logger is not None:
            await self.logger.sink(message)

    def tracked_ids(self) -> list[str]:
        return self.logger.tracked_ids() if self.logger is not None else []

    async def after_pass(self, client: ImapClient) -> int:
        """The Account's after-pass hook, on the scanner's connection: read and log the
        queued replies. A CRM-side failure is shown and the rows stay queued for the next
        pass (no reconnect for it); an IMAP failure is the Account's, as for any scan."""
        logger = self.logger
        if logger is None:
            return 0
        try:
            done = await logger.fetch_and_log(client)
        except CrmError as exc:
            self._post(cm.CrmFailed("log replies", str(exc)))
            return 0
        if done:
            self._post(cm.RecordsChanged())
        return done

    def _on_trace(self, name: str, info: Mapping[str, Any]) -> None:
        self._trace(name, info)
        if name == "crm.outbox.transition":
            mid = str(info.get("message_id", ""))
            self._post(cm.OutboxChanged(v.OutboxView(
                mid, self._contact_of.get(mid, ""), self._subject_of.get(mid, ""),
                str(info.get("to", "")), info.get("last_error"))))
            if info.get("to") == "logged":
                self._post(cm.RecordsChanged())
        elif name.startswith("crm.inbox."):
            self._post(cm.RecordsChanged())

    # -- UI -> CRM (each returns a future; results come back as messages) -----------------

    def template_names(self) -> list[str]:
        return self.templates.names()

    def load_contacts(self, offset: int = 0) -> concurrent.futures.Future[int]:
        return self._submit(self._contacts(offset))

    async def _contacts(self, offset: int) -> int:
        if self.store is None:
            return 0
        page = await self.store.contacts(offset, CONTACT_PAGE)
        views = tuple(v.ContactView(c.id, c.email, c.name, c.company, c.emails)
                      for c in page.contacts)
        self._post(cm.ContactsLoaded(offset, views))
        return len(views)

    def load_timeline(self, contact_id: int) -> concurrent.futures.Future[int]:
        return self._submit(self._timeline(contact_id))

    async def _timeline(self, contact_id: int) -> int:
        if self.store is None:
            return 0
        rows = await self.store.emails(contact_id=contact_id)
        self._post(cm.TimelineLoaded(contact_id, tuple(email_view(r) for r in rows)))
        return len(rows)

    def load_thread(self, thread_id: int) -> concurrent.futures.Future[int]:
        return self._submit(self._thread(thread_id))

    async def _thread(self, thread_id: int) -> int:
        if self.store is None:
            return 0
        view = thread_lines(await thread_view(self.store, thread_id))
        self._post(cm.ThreadLoaded(view))
        return len(view.entries)

    def preview(self, template: str, contact_ids: Sequence[int]) -> concurrent.futures.Future[int]:
        return self._submit(self._preview(template, contact_ids))

    async def _people(self, contact_ids: Sequence[int]) -> list[Contact]:
        assert self.store is not None
        found = [await self.store.contact(cid) for cid in contact_ids]
        return [c for c in found if c is not None]

    async def _preview(self, name: str, contact_ids: Sequence[int]) -> int:
        if self.store is None:
            return 0
        try:
            template = self.templates.get(name)
        except CrmError as exc:
            self._post(cm.CrmFailed(f"template {name}", str(exc)))
            return 0
        out = []
        for p in preview(template, await self._people(contact_ids)):
            draft = p.draft
            out.append(v.PreviewView(
                p.contact.id, p.contact.email, draft.subject if draft else "",
                draft.text if draft else "", str(p.error) if p.error else None))
        self._post(cm.PreviewsReady(name, tuple(out)))
        return len(out)

    def send(self, template: str, contact_ids: Sequence[int]) -> concurrent.futures.Future[int]:
        """Compose from a record (one id) or bulk send (many): the outbox takes it from here."""
        return self._submit(self._send(template, contact_ids))

    async def _send(self, name: str, contact_ids: Sequence[int]) -> int:
        if self.outbox is None or self.store is None:
            self._post(cm.CrmFailed("send", "this account has no SMTP server configured"))
            return 0
        try:
            template = self.templates.get(name)
        except CrmError as exc:
            self._post(cm.CrmFailed(f"template {name}", str(exc)))
            return 0
        outbox = self.outbox
        try:
            return await self._send_each(outbox, template, await self._people(contact_ids))
        finally:
            if outbox.copier is not None:
                await outbox.copier.close()  # its Sent connection goes back to the budget

    async def _send_each(self, outbox: Outbox, template: Template,
                         people: Sequence[Contact]) -> int:
        sent = 0
        for contact in people:
            try:
                draft = template.render(contact)
                mid = await outbox.enqueue(draft, contact_id=contact.id)
            except CrmError as exc:
                self._post(cm.CrmFailed(f"send to {contact.email}", str(exc)))
                continue
            self._contact_of[mid], self._subject_of[mid] = contact.email, draft.subject
            self._post(cm.OutboxChanged(v.OutboxView(mid, contact.email, draft.subject,
                                                     "queued")))
            if self.logger is not None:
                await self.logger.refresh()  # the reply search knows the new Message-ID
            try:
                await outbox.run(mid)
                sent += 1
            except (CrmError, EngineError) as exc:
                self._post(cm.CrmFailed(f"send to {contact.email}", str(exc)))
        return sent

    async def resume(self) -> int:
        """Finish what earlier runs left unfinished (queued after a 421, submitted before
        a crash); returns how many records reached 'logged'. Called at every start and
        then now and again by the bridge (``EngineBridge._resume_outbox``)."""
        outbox = self.outbox
        if outbox is None or not await outbox.unfinished():
            return 0
        try:
            done = await outbox.run_pending()
        finally:
            if outbox.copier is not None:
                await outbox.copier.close()  # its Sent connection goes back to the budget
        for rec in done:
            if rec.last_error and rec.state.value != "logged":
                self._post(cm.CrmFailed(f"resume {rec.message_id}", rec.last_error))
        return sum(rec.state.value == "logged" for rec in done)

    async def decision(self, headers: Headers) -> tuple[str, str]:
        """What tracking decided (or would decide) for a message, with the reason, in the
        engine's words: logged (with its join reason), refused or flagged (stored), else
        the matcher's verdict against the tracked threads now."""
        store = self.store
        if store is None:
            return "unknown", "the CRM is not running"
        mid = headers.message_id
        if mid is not None:
            for row in await store.emails():
                if row.message_id == mid:
                    return "logged", row.join_reason
            for refused_id, kind, reason in await store.refusals():
                if refused_id == mid:
                    return kind, reason
        verdict = match(headers, await store.tracked_index(), self._own)
        words = {"none": "not tracked", "join": "would join", "flag": "would be flagged",
                 "known": "tracked"}
        return words.get(verdict.verdict, verdict.verdict), verdict.reason

    # -- records by hand --------------------------------------------------------------------

    def add_contact(self, email: str, name: str = "", company: str = ""
                    ) -> concurrent.futures.Future[int]:
        """Add (or complete) a contact; its id. Bad input is a CrmFailed message."""
        return self._submit(self._add_contact(email, name, company))

    async def _add_contact(self, email: str, name: str, company: str) -> int:
        if self.store is None:
            return 0
        try:
            cid = await self.store.upsert_contact(email, name)
            if name or company:
                await self.store.edit_contact(cid, name=name or None, company=company or None)
        except CrmError as exc:
            self._post(cm.CrmFailed(f"add contact {email}", str(exc)))
            return 0
        self._post(cm.RecordsChanged())
        return cid

    def edit_contact(self, contact_id: int, name: str, company: str
                     ) -> concurrent.futures.Future[int]:
        return self._submit(self._edit_contact(contact_id, name, company))

    async def _edit_contact(self, contact_id: int, name: str, company: str) -> int:
        if self.store is None:
            return 0
        try:
            await self.store.edit_contact(contact_id, name=name, company=company)
        except CrmError as exc:
            self._post(cm.CrmFailed(f"edit contact {contact_id}", str(exc)))
            return 0
        self._post(cm.RecordsChanged())
        return contact_id

    def import_csv(self, path: str) -> concurrent.futures.Future[int]:
        """Contacts from a CSV file (email,name,company); problems come back as CrmFailed."""
        return self._submit(self._import_csv(path))

    async def _import_csv(self, path: str) -> int:
        if self.store is None:
            return 0
        try:
            text = await asyncio.to_thread(_read_text, path)
            parsed = parse_contacts(text)
            for row in parsed.rows:
                await self._add_contact(row.email, row.name, row.company)
        except (OSError, UnicodeDecodeError) as exc:
            self._post(cm.CrmFailed(f"import {path}", str(exc)))
            return 0
        except CrmError as exc:
            self._post(cm.CrmFailed(f"import {path}", str(exc)))
            return 0
        for problem in parsed.problems[:20]:
            self._post(cm.CrmFailed(f"import {path}", problem))
        self._post(cm.ContactsImported(path, len(parsed.rows), len(parsed.problems)))
        return len(parsed.rows)

    def send_to(self, template: str, contact_ids: Sequence[int], addresses: Sequence[str]
                ) -> concurrent.futures.Future[int]:
        """Compose to records and to any typed address (each becomes a tracked contact)."""
        return self._submit(self._send_to(template, contact_ids, addresses))

    async def _send_to(self, name: str, contact_ids: Sequence[int],
                       addresses: Sequence[str]) -> int:
        ids = list(contact_ids)
        for address in addresses:
            cid = await self._add_contact(address, "", "")
            if cid and cid not in ids:
                ids.append(cid)
        return await self._send(name, ids) if ids else 0

    async def scenario_send(self, name: str, subject: str, body: str,
                            to: Sequence[tuple[str, str]]) -> int:
        """A scenario's ``[[send]]``: its template to each (address, name), as written."""
        if self.store is None:
            return 0
        try:
            self.templates.add(Template(name, subject, body))
        except CrmError as exc:
            self._post(cm.CrmFailed(f"send {name}", str(exc)))
            return 0
        ids = [await self.store.upsert_contact(email, who) for email, who in to]
        self._post(cm.RecordsChanged())
        return await self._send(name, ids)


__all__ = ["TEMPLATES", "BccConfig", "CrmBridge", "CrmWiring"]
