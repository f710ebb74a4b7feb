"""CRM records in the engine's SQLite file: contacts, companies, threads, logged emails.

``CrmStore`` is the only writer of the CRM tables. Each public method is one
transaction, so a crash leaves whole records. Logging is idempotent on Message-ID
(``emails.identity`` is UNIQUE: the Message-ID, or a digest for mail without one): the
scan delivers at least once, the outbox may replay its 'log' step, a BCC copy may arrive
after the Sent copy - each lands once.

The company is derived from the contact's email domain, except for free-mail
domains, where the domain says nothing about the employer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from inboxlab.engine.clock import SYSTEM_CLOCK, Clock
from inboxlab.engine.crm.attachments import AttachmentStore
from inboxlab.engine.crm.errors import BadInput
from inboxlab.engine.crm.ingest import Address, LoggedEmail, identity_of
from inboxlab.engine.db import Database

FREE_MAIL = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com",
    "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.de", "gmx.net",
    "web.de", "mail.ru", "yandex.ru",
})


@dataclass(frozen=True)
class Contact:
    id: int
    email: str
    name: str
    first_name: str
    last_name: str
    company: str | None


@dataclass(frozen=True)
class ContactSummary:
    """A contact as a list shows it: no names split, its count of logged emails."""

    id: int
    email: str
    name: str
    company: str | None
    emails: int


@dataclass(frozen=True)
class ContactPage:
    """One page of contacts in id order, and how many there are in all (for the pager)."""

    offset: int
    contacts: tuple[ContactSummary, ...]
    total: int


@dataclass(frozen=True)
class ThreadRef:
    """What the matcher knows about a tracked thread (no bodies)."""

    id: int
    subject: str
    contact_id: int | None
    participants: frozenset[str]


@dataclass(frozen=True)
class EmailRow:
    id: int
    message_id: str | None
    thread_id: int
    contact_id: int | None
    direction: str
    sender: str
    subject: str
    join_reason: str
    notes: str
    attachments: tuple[tuple[str, str, int], ...]  # (filename, sha256, size)


def company_name(domain: str) -> str:
    """``acme-widgets.co.uk`` -> ``Acme Widgets`` (the label before the public suffix)."""
    labels = [lab for lab in domain.lower().split(".") if lab]
    core = labels[-2] if len(labels) >= 2 else (labels[0] if labels else domain)
    if len(labels) >= 3 and labels[-2] in ("co", "com", "org", "ac", "net"):
        core = labels[-3]
    return " ".join(w.capitalize() for w in core.replace("_", "-").split("-") if w)


def _check_email(email: object) -> str:
    if not isinstance(email, str) or "@" not in email or any(
            c.isspace() or ord(c) < 32 for c in email):
        raise BadInput(f"{email!r} is not an email address", code="bad_email",
                       remediation="use an address like name@example.com")
    return email.strip().lower()


def _split_name(name: str) -> tuple[str, str]:
    parts = name.split()
    return (parts[0], " ".join(parts[1:])) if parts else ("", "")


class CrmStore:
    def __init__(self, db: Database, attachments: AttachmentStore,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.db = db
        self.files = attachments
        self.clock = clock
        # Bumped by every write that can change what the matcher knows (threads, tracked
        # ids, participants, contacts, never-log): a logger sharing this store compares
        # it to reload its tracked set before the next scanned message, not "later".
        self.generation = 0

    def _now(self) -> str:
        return self.clock.wall().isoformat()

    # -- contacts ---------------------------------------------------------------------

    async def upsert_contact(self, email: str, name: str = "", *, first_name: str = "",
                             last_name: str = "") -> int:
        """The contact id for ``email``, created (with its company) when new."""
        email = _check_email(email)
        if name and not (first_name or last_name):
            first_name, last_name = _split_name(name)
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT id FROM contacts WHERE email = ?", (email,)) as c:
                row = await c.fetchone()
            if row is not None:
                if name:
                    await conn.execute(
                        "UPDATE contacts SET name = ?, first_name = ?, last_name = ? "
                        "WHERE id = ? AND name = ''", (name, first_name, last_name, row[0]))
                return int(row[0])
            domain = email.rpartition("@")[2]
            company_id = None
            if domain not in FREE_MAIL:
                await conn.execute("INSERT OR IGNORE INTO companies (domain, name) VALUES (?, ?)",
                                   (domain, company_name(domain)))
                async with conn.execute("SELECT id FROM companies WHERE domain = ?",
                                        (domain,)) as c:
                    company_id = (await c.fetchone())[0]  # type: ignore[index]
            cur = await conn.execute(
                "INSERT INTO contacts (email, name, first_name, last_name, company_id, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (email, name, first_name, last_name, company_id, self._now()))
            self.generation += 1
            return int(cur.lastrowid or 0)

    async def edit_contact(self, contact_id: int, *, name: str | None = None,
                           company: str | None = None) -> Contact:
        """Change a contact's name and/or company, by hand (Records' edit form, CSV import).

        ``company`` names the company: an existing one with that name is reused; else
        the contact's own company record is renamed when it has one (so colleagues at the
        same domain follow), or a company is created for it. An empty name clears it.
        """
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT email, company_id FROM contacts WHERE id = ?",
                                    (contact_id,)) as c:
                row = await c.fetchone()
            if row is None:
                raise BadInput(f"there is no contact {contact_id}", code="no_contact")
            if name is not None:
                first, last = _split_name(name.strip())
                await conn.execute("UPDATE contacts SET name = ?, first_name = ?, last_name = ? "
                                   "WHERE id = ?", (name.strip(), first, last, contact_id))
            if company is not None:
                await self._set_company(conn, contact_id, str(row[0]), row[1], company.strip())
        self.generation += 1
        found = await self.contact(contact_id)
        assert found is not None
        return found

    async def _set_company(self, conn: aiosqlite.Connection, contact_id: int, email: str,
                           current: int | None, company: str) -> None:
        if not company:
            await conn.execute("UPDATE contacts SET company_id = NULL WHERE id = ?",
                               (contact_id,))
            return
        async with conn.execute("SELECT id FROM companies WHERE name = ? COLLATE NOCASE "
                                "ORDER BY id LIMIT 1", (company,)) as c:
            same = await c.fetchone()
        if same is not None:
            target = int(same[0])
        elif current is not None:
            await conn.execute("UPDATE companies SET name = ? WHERE id = ?", (company, current))
            target = current
        else:
            domain = email.rpartition("@")[2]
            key = domain if domain not in FREE_MAIL else f"{company.casefold()} (no domain)"
            await conn.execute("INSERT OR IGNORE INTO companies (domain, name) VALUES (?, ?)",
                               (key, company))
            await conn.execute("UPDATE companies SET name = ? WHERE domain = ?", (company, key))
            async with conn.execute("SELECT id FROM companies WHERE domain = ?", (key,)) as c:
                target = int((await c.fetchone())[0])  # type: ignore[index]
        await conn.execute("UPDATE contacts SET company_id = ? WHERE id = ?",
                           (target, contact_id))

    async def contact(self, key: int | str) -> Contact | None:
        where = "c.id = ?" if isinstance(key, int) else "c.email = ?"
        value = key if isinstance(key, int) else key.strip().lower()
        async with self.db.transaction(write=False) as conn, conn.execute(
            "SELECT c.id, c.email, c.name, c.first_name, c.last_name, co.name FROM contacts c "
            f"LEFT JOIN companies co ON co.id = c.company_id WHERE {where}", (value,)) as cur:
            row = await cur.fetchone()
        return None if row is None else Contact(*row)

    async def contacts(self, offset: int = 0, limit: int = 2000) -> ContactPage:
        """``limit`` contacts from ``offset`` (id order), one read transaction with the total.

        A list never loads the whole table: the caller pages (a DataTable page of a
        few thousand rows at most).
        """
        for name, value in (("offset", offset), ("limit", limit)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise BadInput(f"contacts {name} {value!r} is not an integer >= 0",
                               code="bad_page", remediation="page with offset >= 0, limit >= 0")
        async with self.db.transaction(write=False) as conn:
            async with conn.execute("SELECT COUNT(*) FROM contacts") as cur:
                total = int((await cur.fetchone())[0])  # type: ignore[index]
            async with conn.execute(
                    "SELECT c.id, c.email, c.name, co.name, "
                    "(SELECT COUNT(*) FROM email_contacts l WHERE l.contact_id = c.id) "
                    "FROM contacts c LEFT JOIN companies co ON co.id = c.company_id "
                    "ORDER BY c.id LIMIT ? OFFSET ?", (limit, offset)) as cur:
                rows = await cur.fetchall()
        return ContactPage(offset, tuple(ContactSummary(r[0], r[1], r[2], r[3], int(r[4]))
                                         for r in rows), total)

    async def contact_emails(self) -> frozenset[str]:
        async with self.db.transaction(write=False) as conn, conn.execute(
                "SELECT email FROM contacts") as cur:
            return frozenset(r[0] for r in await cur.fetchall())

    # -- threads ----------------------------------------------------------------------

    async def new_thread(self, subject: str, contact_id: int | None, origin: str,
                         participants: Iterable[str], message_ids: Iterable[str], *,
                         conn: aiosqlite.Connection | None = None) -> int:
        """A tracked thread; pass ``conn`` to make it part of the caller's transaction."""
        if conn is None:
            async with self.db.transaction() as own:
                return await self.new_thread(subject, contact_id, origin, participants,
                                             message_ids, conn=own)
        cur = await conn.execute(
            "INSERT INTO threads (subject, contact_id, origin, created_at) "
            "VALUES (?, ?, ?, ?)", (subject, contact_id, origin, self._now()))
        thread_id = int(cur.lastrowid or 0)
        self.generation += 1
        people = [(thread_id, p.lower()) for p in participants]
        if people:
            await conn.executemany("INSERT OR IGNORE INTO thread_participants VALUES (?, ?)",
                                   people)
        ids = [(m, thread_id) for m in message_ids]
        if ids:
            await conn.executemany("INSERT OR IGNORE INTO tracked_ids VALUES (?, ?)", ids)
        return thread_id

    async def track(self, thread_id: int, message_ids: Iterable[str],
                    participants: Iterable[str] = ()) -> None:
        async with self.db.transaction() as conn:
            await conn.executemany("INSERT OR IGNORE INTO tracked_ids VALUES (?, ?)",
                                   [(m, thread_id) for m in message_ids])
            await conn.executemany("INSERT OR IGNORE INTO thread_participants VALUES (?, ?)",
                                   [(thread_id, p.lower()) for p in participants])
        self.generation += 1

    async def thread_of(self, message_id: str) -> int | None:
        value = await self.db.scalar("SELECT thread_id FROM tracked_ids WHERE message_id = ?",
                                     (message_id,))
        return None if value is None else int(value)  # type: ignore[call-overload]

    async def tracked_index(self) -> dict[str, ThreadRef]:
        """Every tracked Message-ID -> its thread (subject, contact, participants)."""
        async with self.db.transaction(write=False) as conn:
            async with conn.execute("SELECT id, subject, contact_id FROM threads") as cur:
                threads = {r[0]: (r[1], r[2]) for r in await cur.fetchall()}
            people: dict[int, set[str]] = {t: set() for t in threads}
            async with conn.execute("SELECT thread_id, email FROM thread_participants") as cur:
                for t, e in await cur.fetchall():
                    people[t].add(e)
            refs = {t: ThreadRef(t, s, c, frozenset(people[t])) for t, (s, c) in threads.items()}
            async with conn.execute("SELECT message_id, thread_id FROM tracked_ids") as cur:
                return {m: refs[t] for m, t in await cur.fetchall()}

    # -- logged emails ----------------------------------------------------------------

    async def log_email(self, email: LoggedEmail, *, thread_id: int, contact_id: int | None,
                        direction: str, join_reason: str, source: str,
                        notes: Iterable[str] = (), size: int | None = None,
                        also: Iterable[int] = ()) -> int | None:
        """Store ``email`` (attachments to disk first); None when already logged (same
        Message-ID, or for mail without one the same ``identity_of`` digest; ``size`` is
        the server's RFC822.SIZE when known). It shows on ``contact_id``'s record and
        on the records of the contacts in ``also``."""
        h = email.headers
        # Files first (content-addressed: a duplicate re-put is a no-op), then one
        # transaction; INSERT OR IGNORE on the UNIQUE Message-ID makes a replay a no-op.
        stored = [(a, self.files.put(a.data)) for a in email.attachments]

        def people(items: Iterable[Address]) -> str:
            return json.dumps([[a.name, a.email] for a in items])

        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "INSERT OR IGNORE INTO emails (message_id, thread_id, contact_id, direction, "
                "from_json, to_json, cc_json, subject, date, text_body, html_body, join_reason, "
                "notes, source, logged_at, identity) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (h.message_id, thread_id, contact_id, direction,
                 people([h.from_] if h.from_ else []), people(h.to), people(h.cc), h.subject,
                 h.date, email.text, email.html, join_reason,
                 "; ".join([*email.notes, *notes]), source, self._now(),
                 identity_of(h, size)))
            if not cur.rowcount:
                return None
            email_id = int(cur.lastrowid or 0)
            if stored:
                await conn.executemany(
                    "INSERT INTO attachments (email_id, sha256, filename, content_type, size) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(email_id, sha, a.filename, a.content_type, len(a.data))
                     for a, sha in stored])
            records = dict.fromkeys(c for c in (contact_id, *also) if c is not None)
            await conn.executemany("INSERT OR IGNORE INTO email_contacts VALUES (?, ?)",
                                   [(email_id, c) for c in records])
            if h.message_id is not None:
                await conn.execute("INSERT OR IGNORE INTO tracked_ids VALUES (?, ?)",
                                   (h.message_id, thread_id))
        self.generation += 1
        return email_id

    async def record_refusal(self, *, thread_id: int | None, message_id: str | None,
                             folder: str, uid: int, kind: str, reason: str) -> None:
        """Why a message that named a tracked thread was not logged (ids and reason only)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO refusals (thread_id, message_id, folder, uid, kind, "
                "reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (thread_id, message_id, folder, uid, kind, reason, self._now()))

    async def refusals(self, thread_id: int | None = None) -> list[tuple[str | None, str, str]]:
        sql = "SELECT message_id, kind, reason FROM refusals"
        params: tuple[object, ...] = ()
        if thread_id is not None:
            sql, params = sql + " WHERE thread_id = ?", (thread_id,)
        async with self.db.transaction(write=False) as conn, conn.execute(
                sql + " ORDER BY id", params) as cur:
            return [(r[0], r[1], r[2]) for r in await cur.fetchall()]

    async def emails(self, *, contact_id: int | None = None,
                     thread_id: int | None = None) -> list[EmailRow]:
        where, params = [], []
        if contact_id is not None:
            where.append("id IN (SELECT email_id FROM email_contacts WHERE contact_id = ?)")
            params.append(contact_id)
        if thread_id is not None:
            where.append("thread_id = ?")
            params.append(thread_id)
        sql = ("SELECT id, message_id, thread_id, contact_id, direction, from_json, subject, "
               "join_reason, notes FROM emails")
        if where:
            sql += " WHERE " + " AND ".join(where)
        async with self.db.transaction(write=False) as conn:
            async with conn.execute(sql + " ORDER BY id", params) as cur:
                rows = await cur.fetchall()
            out = []
            for r in rows:
                async with conn.execute("SELECT filename, sha256, size FROM attachments "
                                        "WHERE email_id = ? ORDER BY id", (r[0],)) as cur:
                    files = tuple(tuple(a) for a in await cur.fetchall())
                sender = json.loads(r[5])
                out.append(EmailRow(r[0], r[1], r[2], r[3], r[4],
                                    sender[0][1] if sender else "", r[6], r[7], r[8],
                                    files))
        return out

    # -- the durable scan queue ----------------------------------------------------------

    async def queue_pending(self, folder: str, uidvalidity: int, uid: int, size: int | None,
                            headers: bytes) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("INSERT OR IGNORE INTO crm_pending VALUES (?, ?, ?, ?, ?, ?)",
                               (folder, uidvalidity, uid, size, headers, self._now()))

    async def pending(self) -> list[tuple[str, int, int, int | None, bytes]]:
        async with self.db.transaction(write=False) as conn, conn.execute(
                "SELECT folder, uidvalidity, uid, size, headers FROM crm_pending "
                "ORDER BY folder, uidvalidity, uid") as cur:
            return [(r[0], r[1], r[2], r[3], bytes(r[4])) for r in await cur.fetchall()]

    async def queued_at(self, folder: str, uidvalidity: int, uid: int) -> datetime | None:
        """When a queue row was written (None: no such row)."""
        async with self.db.transaction(write=False) as conn, conn.execute(
                "SELECT queued_at FROM crm_pending WHERE folder = ? AND uidvalidity = ? "
                "AND uid = ?", (folder, uidvalidity, uid)) as cur:
            row = await cur.fetchone()
        return None if row is None else datetime.fromisoformat(str(row[0]))

    async def is_logged(self, identity: str) -> bool:
        """An email with this ``identity_of`` is logged already."""
        async with self.db.transaction(write=False) as conn, conn.execute(
                "SELECT 1 FROM emails WHERE identity = ?", (identity,)) as cur:
            return await cur.fetchone() is not None

    async def drop_pending(self, folder: str, uidvalidity: int, uid: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM crm_pending WHERE folder = ? AND uidvalidity = ? "
                               "AND uid = ?", (folder, uidvalidity, uid))

    # -- never-log ----------------------------------------------------------------------

    async def add_never_log(self, pattern: str) -> None:
        text = pattern.strip().lower()
        if not text or any(c.isspace() for c in text):
            raise BadInput(f"{pattern!r} is not an address or domain", code="bad_never_log")
        async with self.db.transaction() as conn:
            await conn.execute("INSERT OR IGNORE INTO never_log VALUES (?)", (text,))
        self.generation += 1

    async def never_log(self) -> frozenset[str]:
        async with self.db.transaction(write=False) as conn, conn.execute(
                "SELECT pattern FROM never_log") as cur:
            return frozenset(r[0] for r in await cur.fetchall())


__all__ = ["FREE_MAIL", "Contact", "ContactPage", "ContactSummary", "CrmStore", "EmailRow",
           "ThreadRef", "company_name"]
