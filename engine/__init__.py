"""The connector: IMAP client, sync, tracking, sending, records, diagnostics.

Never imports ``textual`` or ``fakeserver`` (an import-linter contract checks it):
the engine meets the fake servers only over sockets, like any real client.
"""
