"""Bundled fake IMAP and SMTP servers that replay scripted scenarios.

Never imports ``textual`` or ``engine`` (an import-linter contract checks it):
the fake servers meet the engine only over sockets, like any real server.
"""
