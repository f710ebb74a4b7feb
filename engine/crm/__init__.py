"""The CRM side of the connected inbox: records, sending, tracking, logging.

Modules: ``records`` (SQLite rows), ``ingest`` (MIME -> LoggedEmail), ``sanitize``
(filenames, HTML), ``attachments`` (content-addressed files), ``tracking`` (which
thread a message joins, and why), ``rules`` (what gets logged), ``outbox`` (the
crash-safe send state machine), ``send`` (SMTP), ``sentcopy`` (the Sent folder copy),
``bcc`` (the BCC/forward ingest endpoint), ``templates``.
"""
