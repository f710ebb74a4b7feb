"""The end of every successful login (LOGIN, AUTHENTICATE PLAIN, an OAuth token): the
per-user connection limit, then the authenticated state. Shared by ``basic`` and
``oauth``, which therefore do not import each other's internals."""

from __future__ import annotations

from inboxlab.fakeserver.errors import CommandFailed
from inboxlab.fakeserver.imap.session import Done, ImapSession, State, Steps
from inboxlab.fakeserver.store import Account


def logged_in(s: ImapSession, account: Account) -> Steps:
    """The credentials (password or token) were good: the connection limit, then OK."""
    limit = s.config.max_connections_per_user
    if limit is not None and s.registry.count(account.username) >= limit:
        raise CommandFailed(
            f"Too many simultaneous connections for this user (limit {limit})", code="LIMIT")
    s.account = account
    s.state = State.AUTHENTICATED
    s.registry.add(account.username, s)
    return Done("Logged in", "CAPABILITY " + " ".join(s.capabilities()))
    yield b""  # a generator, like every handler
