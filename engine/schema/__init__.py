"""The database's tables, by the room that owns them, as plain SQL (no imports).

They sit on the engine's ground floor beside ``engine.db``, which numbers them into
its migration history (``engine.db.MIGRATIONS``): the CRM (``crm``) and diagnostics
(``timeline``) rooms own their tables' meaning, but the history of one file is one
ordered list, so ``engine.db`` must reach them without importing those rooms.
"""
