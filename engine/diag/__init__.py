"""Diagnostics for support engineers: why an inbox disconnected, and how to reproduce it.

- ``engine.catalogue`` (on the ground floor, read by the engine too): every cause.
- ``classify``: engine error or account fact -> ``Diagnosis`` (a cause plus evidence).
- ``redact`` / ``tracering``: protocol lines redacted when recorded, a ring per connection.
- ``timeline``: the account's persisted event timeline (migration 3), queried by time.
- ``probe`` / ``probe_smtp`` / ``report``: ``inboxlab diagnose``.
- ``bundle``: the one-file support bundle.
- ``record`` / ``tracefile`` / ``fromtrace``: ``inboxlab record`` and ``scenario from-trace``.
- ``session``: ``AccountDiagnostics``, all of the above for one running account (the TUI's).

Its table lives in ``engine.schema.timeline`` (``engine.db`` numbers it as migration 3).
"""
