"""The CRM tables: one migration appended to ``engine.db.MIGRATIONS`` (no imports here,
so ``engine.db`` can include it without a cycle).

Only tracked threads reach these tables (``tracking``); an untracked message leaves
no row, not even a refusal. ``outbox`` rows are the crash-safe send state machine
(``outbox.TRANSITIONS``); ``raw`` is our own outgoing message.
"""

CRM_SCHEMA = """
CREATE TABLE companies (
    id      INTEGER PRIMARY KEY,
    domain  TEXT NOT NULL UNIQUE,
    name    TEXT NOT NULL
) STRICT;
CREATE TABLE contacts (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL DEFAULT '',
    first_name  TEXT NOT NULL DEFAULT '',
    last_name   TEXT NOT NULL DEFAULT '',
    company_id  INTEGER REFERENCES companies(id),
    created_at  TEXT NOT NULL
) STRICT;
CREATE TABLE threads (
    id          INTEGER PRIMARY KEY,
    subject     TEXT NOT NULL,
    contact_id  INTEGER REFERENCES contacts(id),
    origin      TEXT NOT NULL CHECK (origin IN ('sent', 'bcc', 'forward', 'contact')),
    created_at  TEXT NOT NULL
) STRICT;
CREATE TABLE thread_participants (
    thread_id  INTEGER NOT NULL REFERENCES threads(id),
    email      TEXT NOT NULL,
    PRIMARY KEY (thread_id, email)
) STRICT;
CREATE TABLE tracked_ids (
    message_id  TEXT PRIMARY KEY,
    thread_id   INTEGER NOT NULL REFERENCES threads(id)
) STRICT;
CREATE TABLE emails (
    id            INTEGER PRIMARY KEY,
    message_id    TEXT UNIQUE,
    thread_id     INTEGER NOT NULL REFERENCES threads(id),
    contact_id    INTEGER REFERENCES contacts(id),
    direction     TEXT NOT NULL CHECK (direction IN ('outgoing', 'incoming')),
    from_json     TEXT NOT NULL,
    to_json       TEXT NOT NULL,
    cc_json       TEXT NOT NULL,
    subject       TEXT NOT NULL,
    date          TEXT,
    text_body     TEXT NOT NULL,
    html_body     TEXT NOT NULL,
    join_reason   TEXT NOT NULL,
    notes         TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL,
    logged_at     TEXT NOT NULL
) STRICT;
CREATE TABLE attachments (
    id            INTEGER PRIMARY KEY,
    email_id      INTEGER NOT NULL REFERENCES emails(id),
    sha256        TEXT NOT NULL,
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL
) STRICT;
CREATE TABLE refusals (
    id          INTEGER PRIMARY KEY,
    thread_id   INTEGER REFERENCES threads(id),
    message_id  TEXT,
    folder      TEXT NOT NULL,
    uid         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    at          TEXT NOT NULL,
    UNIQUE (folder, uid, kind)
) STRICT;
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    message_id      TEXT NOT NULL UNIQUE,
    state           TEXT NOT NULL,
    contact_id      INTEGER REFERENCES contacts(id),
    thread_id       INTEGER REFERENCES threads(id),
    mail_from       TEXT NOT NULL,
    rcpt_json       TEXT NOT NULL,
    raw             BLOB NOT NULL,
    submit_started  INTEGER NOT NULL DEFAULT 0,
    sent_folder     TEXT,
    uidvalidity     INTEGER,
    uidnext_before  INTEGER,
    copy_how        TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
CREATE INDEX outbox_state ON outbox(state);
CREATE TABLE never_log (
    pattern  TEXT PRIMARY KEY
) STRICT;
"""

# Messages of tracked threads the scan delivered whose bodies are still to be read.
# Written by the scan sink *before* the scan commits its checkpoint past them, deleted
# once logged: a kill between the two no longer loses a reply (the next run reads them).
CRM_PENDING_SCHEMA = """
CREATE TABLE crm_pending (
    folder       TEXT    NOT NULL,
    uidvalidity  INTEGER NOT NULL,
    uid          INTEGER NOT NULL,
    size         INTEGER,
    headers      BLOB    NOT NULL,
    queued_at    TEXT    NOT NULL,
    PRIMARY KEY (folder, uidvalidity, uid)
) STRICT;
"""

# Logged emails' identity for dedup: the Message-ID, or for mail without one a digest
# (``ingest.identity_of``). UNIQUE on message_id alone let any number of NULLs in, so a
# reply without a Message-ID was logged again after every UIDVALIDITY reset.
CRM_IDENTITY_SCHEMA = """
ALTER TABLE emails ADD COLUMN identity TEXT;
UPDATE emails SET identity = message_id;
CREATE UNIQUE INDEX emails_identity ON emails(identity);
"""

# Which contacts' records show a logged email: a BCC to two contacts (or a reply with a
# contact in Cc) is one email on several records. ``emails.contact_id`` stays the
# thread's contact; this table holds every record, backfilled from it.
CRM_LINKS_SCHEMA = """
CREATE TABLE email_contacts (
    email_id    INTEGER NOT NULL REFERENCES emails(id),
    contact_id  INTEGER NOT NULL REFERENCES contacts(id),
    PRIMARY KEY (email_id, contact_id)
) STRICT;
CREATE INDEX email_contacts_contact ON email_contacts(contact_id);
INSERT INTO email_contacts SELECT id, contact_id FROM emails WHERE contact_id IS NOT NULL;
"""
