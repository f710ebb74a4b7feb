"""One entry per IMAP command the fake server speaks: parser, states, gate and handler.

pymap keeps a command's name, allowed states and parser together (one class per
command); here the handler joins them, so adding or changing a command is one
``CommandSpec`` below, never four tables keyed by the same string:

- ``parse``: the argument grammar (``syntax/``), ``(cursor, uid) -> args``;
- ``states``: where RFC 3501 section 3 allows it (the session checks it in one place);
- ``gate``: the capability toggle it needs. A command whose extension is switched off
  is answered exactly like an unknown command (``BAD``), as a server without that
  extension would: turning MOVE off must exercise the client's COPY+EXPUNGE fallback,
  not a polite refusal. ``uid_gate`` does the same for the ``UID`` form alone (UID
  EXPUNGE needs UIDPLUS);
- ``handler``: the generator that answers it (``handlers/``);
- ``uid``: whether it may follow ``UID``;
- ``resume``: for a command that waits for the client (AUTHENTICATE's ``+``), the step
  that takes the client's next line.

The session and the reader are handed this table (``ImapSession(commands=COMMANDS)``):
it imports the handlers, which import the session, so nothing below imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from inboxlab.fakeserver.config import Capabilities
from inboxlab.fakeserver.imap.handlers import basic as cmd_basic
from inboxlab.fakeserver.imap.handlers import mailbox as cmd_mailbox
from inboxlab.fakeserver.imap.handlers import selected as cmd_selected
from inboxlab.fakeserver.imap.handlers import sort as cmd_sort
from inboxlab.fakeserver.imap.handlers.fetch import fetch
from inboxlab.fakeserver.imap.handlers.search import search
from inboxlab.fakeserver.imap.session import Handler, Resume
from inboxlab.fakeserver.imap.syntax import grammar as g
from inboxlab.fakeserver.imap.syntax.commands import ANY, AUTH, NOT_AUTH, SELECTED
from inboxlab.fakeserver.imap.syntax.fetch import parse_fetch, parse_store
from inboxlab.fakeserver.imap.syntax.grammar import Parser
from inboxlab.fakeserver.imap.syntax.mailbox import (
    parse_append,
    parse_list,
    parse_select,
    parse_status,
)
from inboxlab.fakeserver.imap.syntax.search import parse_search
from inboxlab.fakeserver.imap.syntax.sort import parse_sort, parse_thread

Gate = Callable[[Capabilities], bool]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    parse: Parser
    states: frozenset[str]
    handler: Handler
    gate: Gate | None = None
    uid: bool = False
    uid_gate: Gate | None = None
    resume: Resume | None = None  # a held command's next step, given the client's line

    def offered(self, caps: Capabilities, *, uid: bool) -> bool:
        """Whether this server speaks the command (in its ``UID`` form when ``uid``)."""
        if self.gate is not None and not self.gate(caps):
            return False
        return not (uid and self.uid_gate is not None and not self.uid_gate(caps))


_SPECS = (
    # any state
    CommandSpec("CAPABILITY", g.no_args, ANY, cmd_basic.capability),
    CommandSpec("NOOP", g.no_args, ANY, cmd_basic.noop),
    CommandSpec("LOGOUT", g.no_args, ANY, cmd_basic.logout),
    CommandSpec("ID", g.id_, ANY, cmd_basic.id_, gate=lambda c: c.id),
    # not authenticated
    CommandSpec("STARTTLS", g.no_args, NOT_AUTH, cmd_basic.starttls,
                gate=lambda c: c.starttls),
    CommandSpec("LOGIN", g.login, NOT_AUTH, cmd_basic.login),
    CommandSpec("AUTHENTICATE", g.authenticate, NOT_AUTH, cmd_basic.authenticate,
                resume=cmd_basic.sasl_response),
    # authenticated (or selected)
    CommandSpec("ENABLE", g.enable, frozenset({"authenticated"}),  # RFC 5161: before SELECT
                cmd_basic.enable, gate=lambda c: c.enable),
    CommandSpec("NAMESPACE", g.no_args, AUTH, cmd_basic.namespace,
                gate=lambda c: c.namespace),
    CommandSpec("IDLE", g.no_args, AUTH, cmd_basic.idle, gate=lambda c: c.idle),
    CommandSpec("SELECT", parse_select, AUTH, cmd_mailbox.select),
    CommandSpec("EXAMINE", parse_select, AUTH, cmd_mailbox.select),
    CommandSpec("CREATE", g.mailbox, AUTH, cmd_mailbox.create),
    CommandSpec("DELETE", g.mailbox, AUTH, cmd_mailbox.delete),
    CommandSpec("RENAME", g.rename, AUTH, cmd_mailbox.rename),
    CommandSpec("SUBSCRIBE", g.mailbox, AUTH, cmd_mailbox.subscribe),
    CommandSpec("UNSUBSCRIBE", g.mailbox, AUTH, cmd_mailbox.subscribe),
    CommandSpec("LIST", parse_list, AUTH, cmd_mailbox.list_),
    CommandSpec("LSUB", parse_list, AUTH, cmd_mailbox.list_),
    CommandSpec("XLIST", parse_list, AUTH, cmd_mailbox.list_, gate=lambda c: c.xlist),
    CommandSpec("STATUS", parse_status, AUTH, cmd_mailbox.status),
    CommandSpec("APPEND", parse_append, AUTH, cmd_mailbox.append),
    # selected
    CommandSpec("CHECK", g.no_args, SELECTED, cmd_basic.check),
    CommandSpec("CLOSE", g.no_args, SELECTED, cmd_selected.close),
    CommandSpec("UNSELECT", g.no_args, SELECTED, cmd_selected.unselect,
                gate=lambda c: c.unselect),
    CommandSpec("EXPUNGE", g.expunge, SELECTED, cmd_selected.expunge, uid=True,
                uid_gate=lambda c: c.uidplus),
    CommandSpec("STORE", parse_store, SELECTED, cmd_selected.store, uid=True),
    CommandSpec("COPY", g.copy, SELECTED, cmd_selected.copy, uid=True),
    CommandSpec("MOVE", g.copy, SELECTED, cmd_selected.copy, uid=True, gate=lambda c: c.move),
    CommandSpec("FETCH", parse_fetch, SELECTED, fetch, uid=True),
    CommandSpec("SEARCH", parse_search, SELECTED, search, uid=True),
    CommandSpec("SORT", parse_sort, SELECTED, cmd_sort.sort, uid=True, gate=lambda c: c.sort),
    CommandSpec("THREAD", parse_thread, SELECTED, cmd_sort.thread, uid=True,
                gate=lambda c: c.thread),
)

COMMANDS: dict[str, CommandSpec] = {spec.name: spec for spec in _SPECS}


__all__ = ["COMMANDS", "CommandSpec"]
