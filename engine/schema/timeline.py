"""The timeline's table, appended to ``engine.db.MIGRATIONS`` (no imports: db.py loads it)."""

TIMELINE_SCHEMA = """
CREATE TABLE timeline (
    id        INTEGER PRIMARY KEY,
    account   TEXT    NOT NULL,
    at        TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    summary   TEXT    NOT NULL,
    cause     TEXT,
    permanent INTEGER CHECK (permanent IS NULL OR permanent IN (0, 1)),
    data      TEXT    NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX timeline_by_time ON timeline (account, at);
"""
