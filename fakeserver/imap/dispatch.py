"""Command name -> handler, gated by the server's capability toggles.

A command whose extension is switched off is answered exactly like an unknown command
(``BAD``), as a server without that extension would: turning MOVE off must exercise
the client's COPY+EXPUNGE fallback, not a polite refusal.
"""

from __future__ import annotations

from collections.abc import Callable

from inboxlab.fakeserver.config import Capabilities
from inboxlab.fakeserver.imap import cmd_basic, cmd_mailbox, cmd_selected, cmd_sort
from inboxlab.fakeserver.imap.commands import Command
from inboxlab.fakeserver.imap.fetch import fetch
from inboxlab.fakeserver.imap.search import search
from inboxlab.fakeserver.imap.session import Handler, ImapSession

HANDLERS: dict[str, Handler] = {
    "CAPABILITY": cmd_basic.capability,
    "NOOP": cmd_basic.noop,
    "LOGOUT": cmd_basic.logout,
    "ID": cmd_basic.id_,
    "STARTTLS": cmd_basic.starttls,
    "LOGIN": cmd_basic.login,
    "AUTHENTICATE": cmd_basic.authenticate,
    "ENABLE": cmd_basic.enable,
    "NAMESPACE": cmd_basic.namespace,
    "IDLE": cmd_basic.idle,
    "CHECK": cmd_basic.check,
    "SELECT": cmd_mailbox.select,
    "EXAMINE": cmd_mailbox.select,
    "CREATE": cmd_mailbox.create,
    "DELETE": cmd_mailbox.delete,
    "RENAME": cmd_mailbox.rename,
    "SUBSCRIBE": cmd_mailbox.subscribe,
    "UNSUBSCRIBE": cmd_mailbox.subscribe,
    "LIST": cmd_mailbox.list_,
    "LSUB": cmd_mailbox.list_,
    "XLIST": cmd_mailbox.list_,
    "STATUS": cmd_mailbox.status,
    "APPEND": cmd_mailbox.append,
    "CLOSE": cmd_selected.close,
    "UNSELECT": cmd_selected.unselect,
    "EXPUNGE": cmd_selected.expunge,
    "STORE": cmd_selected.store,
    "COPY": cmd_selected.copy,
    "MOVE": cmd_selected.copy,
    "FETCH": fetch,
    "SEARCH": search,
    "SORT": cmd_sort.sort,
    "THREAD": cmd_sort.thread,
}

# Which toggle a command needs; absent means always available.
_GATES: dict[str, Callable[[Capabilities], bool]] = {
    "MOVE": lambda c: c.move,
    "IDLE": lambda c: c.idle,
    "XLIST": lambda c: c.xlist,
    "ENABLE": lambda c: c.enable,
    "ID": lambda c: c.id,
    "NAMESPACE": lambda c: c.namespace,
    "UNSELECT": lambda c: c.unselect,
    "STARTTLS": lambda c: c.starttls,
    "SORT": lambda c: c.sort,
    "THREAD": lambda c: c.thread,
}


def handler_for(session: ImapSession, command: Command) -> Handler | None:
    """The handler, or None when the command is unknown on this server."""
    gate = _GATES.get(command.name)
    if gate is not None and not gate(session.caps):
        return None
    if command.name == "EXPUNGE" and command.uid and not session.caps.uidplus:
        return None
    return HANDLERS.get(command.name)
