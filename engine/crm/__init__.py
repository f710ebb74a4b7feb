"""The CRM side of the connected inbox: records, sending, tracking, logging.

Modules: ``records`` (the one writer of the SQLite tables in ``engine.schema.crm``), ``ingest``
(MIME -> LoggedEmail), ``sanitize`` (filenames, HTML), ``attachments``
(content-addressed files), ``forwards`` (is this a forward, and of whom, from its
structure), ``tracking`` (which thread a message joins, and why; the
thread view), ``rules`` (what gets logged), ``inbox`` (the scan sink and body fetches),
``outbox`` (the crash-safe send state machine), ``send`` (SMTP), ``sentcopy`` (the Sent
folder copy), ``bcc`` (the BCC/forward ingest endpoint), ``templates`` (and bulk send),
``summary`` (the figures scenario runs check), ``errors`` (this package's branch of the
engine's exception tree).
"""
