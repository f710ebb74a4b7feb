"""What the CRM did, as plain numbers: the figures ``inboxlab scenario run`` checks.

``crm_summary`` reads the CRM tables (logged emails per contact, attachments stored or
skipped, threads, flags, outbox states); ``sent_copies`` asks the server how many copies
of each sent Message-ID a folder holds, so "duplicates must be 0" is checked against
the mailbox itself, not against what the engine believes it did.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from inboxlab.engine.crm.records import CrmStore
from inboxlab.engine.imap.commands import Atom


@dataclass(frozen=True)
class CrmSummary:
    logged_per_contact: dict[str, int]
    emails: int
    threads: int
    attachments_stored: int
    attachments_skipped: int  # emails logged with a note saying why attachments were not
    flagged: int  # forward reuse
    refused: int
    malformed: int
    outbox: dict[str, int]  # state -> records


@dataclass(frozen=True)
class SentCopies:
    folder: str
    copies: dict[str, int]  # Message-ID -> copies found in the folder

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.copies.values() if n > 1)

    @property
    def missing(self) -> int:
        return sum(1 for n in self.copies.values() if n == 0)


async def _rows(store: CrmStore, sql: str) -> list[Any]:
    async with store.db.transaction(write=False) as conn, conn.execute(sql) as cur:
        return list(await cur.fetchall())


async def crm_summary(store: CrmStore) -> CrmSummary:
    per_contact = {r[0]: r[1] for r in await _rows(
        store, "SELECT c.email, count(l.email_id) FROM contacts c JOIN email_contacts l "
        "ON l.contact_id = c.id GROUP BY c.email ORDER BY c.email")}
    kinds = {r[0]: r[1] for r in await _rows(
        store, "SELECT kind, count(*) FROM refusals GROUP BY kind")}
    outbox = {r[0]: r[1] for r in await _rows(
        store, "SELECT state, count(*) FROM outbox GROUP BY state")}
    [(emails, threads, stored, skipped)] = await _rows(
        store, "SELECT (SELECT count(*) FROM emails), (SELECT count(*) FROM threads), "
        "(SELECT count(*) FROM attachments), (SELECT count(*) FROM emails WHERE notes LIKE "
        "'%attachment%')")
    return CrmSummary(per_contact, emails, threads, stored, skipped, kinds.get("flag", 0),
                      kinds.get("refuse", 0), kinds.get("malformed", 0), outbox)


class SearchClient(Protocol):
    async def select(self, mailbox: str, *, readonly: bool = False,
                     condstore: bool = False) -> Any: ...
    async def uid_search(self, *criteria: Any, charset: str | None = None) -> list[int]: ...


async def sent_copies(client: SearchClient, folder: str,
                      message_ids: Iterable[str]) -> SentCopies:
    """Copies of each Message-ID in ``folder`` (one HEADER search per id: a check, not a
    hot path)."""
    await client.select(folder, readonly=True)
    copies = {}
    for mid in message_ids:
        copies[mid] = len(await client.uid_search(Atom("HEADER"), "Message-ID", mid))
    return SentCopies(folder, copies)


async def sent_message_ids(store: CrmStore) -> list[str]:
    return [r[0] for r in await _rows(store, "SELECT message_id FROM outbox ORDER BY id")]


__all__ = ["CrmSummary", "SentCopies", "crm_summary", "sent_copies", "sent_message_ids"]
