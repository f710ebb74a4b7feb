"""The ``[[timeline]]`` blocks of a scenario file -> ``TimelineEvent`` (part of ``load.py``).

A trigger must be able to fire and carry its action: exactly one trigger kind, known
IMAP commands, compilable regexes, folders and users the scenario has, and an action
that answers a command only behind a trigger with a command in hand. Each refusal is a
located ``ScenarioError`` (file, line, key path), like the rest of the loader.
"""

from __future__ import annotations

import re

from inboxlab.fakeserver.config import AccountConfig
from inboxlab.fakeserver.scenario import actions as action_parsers
from inboxlab.fakeserver.scenario.model import (
    COMMAND_BOUND,
    AtTime,
    Chance,
    DeleteFolder,
    OnBytes,
    OnCommand,
    OnConnection,
    OnLogin,
    RenameFolder,
    TimelineEvent,
    Trigger,
)
from inboxlab.fakeserver.scenario.reader import REQUIRED, Table

COMMANDS = frozenset({
    "CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "AUTHENTICATE", "LOGIN", "SELECT", "EXAMINE",
    "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "LIST", "LSUB", "XLIST", "STATUS",
    "APPEND", "CHECK", "CLOSE", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "MOVE", "ENABLE",
    "ID", "NAMESPACE", "IDLE", "UNSELECT", "UID FETCH", "UID SEARCH", "UID STORE", "UID COPY",
    "UID MOVE", "UID EXPUNGE",
})
_TRIGGER_KINDS = ("at", "connection", "login", "command", "regex", "bytes", "probability")


def _trigger(t: Table, accounts: tuple[AccountConfig, ...]) -> Trigger:
    present = [k for k in _TRIGGER_KINDS if t.has(k)]
    if "command" in present and "regex" in present:
        present.remove("regex")
    if "probability" in present:
        present = ["probability"]
    if len(present) != 1:
        got = ", ".join(present) or "none"
        raise t.fail(f"a trigger needs exactly one of {', '.join(_TRIGGER_KINDS)} (got {got})")
    kind = present[0]
    times = t.integer("times", 1, minimum=0)
    trig: Trigger
    if kind == "at":
        trig = AtTime(after_s=t.number("at", REQUIRED, minimum=0, maximum=7 * 86400))
    elif kind == "connection":
        trig = OnConnection(nth=t.integer("connection", REQUIRED, minimum=1), times=times)
    elif kind == "login":
        user = t.text("user", None)
        if user is not None and not any(a.username.lower() == user.lower() for a in accounts):
            raise t.fail(f"user {user!r} is not an account of this scenario", "user")
        trig = OnLogin(nth=t.integer("login", REQUIRED, minimum=1), user=user, times=times)
    elif kind in ("command", "regex"):
        name = t.text("command", None)
        if name is not None:
            name = " ".join(name.upper().split())
            if name not in COMMANDS:
                raise t.fail(f"unknown IMAP command {name!r}", "command")
        pattern = t.text("regex", None)
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise t.fail(f"invalid regex: {exc}", "regex") from exc
        mailbox = t.text("mailbox", None)
        if mailbox is not None and not _folder_known(mailbox, accounts):
            raise t.fail(f"mailbox {mailbox!r} is not a folder of any account", "mailbox")
        trig = OnCommand(nth=t.integer("nth", 1, minimum=1), name=name, pattern=pattern,
                         mailbox=mailbox, times=times)
    elif kind == "bytes":
        trig = OnBytes(count=t.integer("bytes", REQUIRED, minimum=1),
                       direction=t.text("direction", "to_client",
                                        choices=("to_client", "to_server")),
                       connection=t.integer("connection_nth", None, minimum=1), times=times)
    else:
        per = t.text("per", "command", choices=("connection", "login", "command"))
        name = t.text("command_name", None)
        if name is not None:
            name = " ".join(name.upper().split())
            if per != "command":
                raise t.fail("command_name only applies with per = \"command\"", "command_name")
            if name not in COMMANDS:
                raise t.fail(f"unknown IMAP command {name!r}", "command_name")
        trig = Chance(probability=t.number("probability", REQUIRED, minimum=0, maximum=1),
                      seed=t.seed("seed", REQUIRED), per=per, name=name,
                      times=t.integer("times", 0, minimum=0))
    t.done()
    return trig


def _folder_known(name: str, accounts: tuple[AccountConfig, ...]) -> bool:
    for acc in accounts:
        for f in acc.folders:
            if f.name == name or (name.upper() == "INBOX" and f.name.upper() == "INBOX"):
                return True
    return False


def event(t: Table, accounts: tuple[AccountConfig, ...]) -> TimelineEvent:
    name = t.text("name", f"event {t.path[-1]}")
    trig_table = t.table("trigger", required=True)
    action_table = t.table("action", required=True)
    assert trig_table is not None and action_table is not None
    trigger = _trigger(trig_table, accounts)
    action = action_parsers.parse(action_table, accounts)
    t.done()
    if isinstance(action, COMMAND_BOUND):
        ok = isinstance(trigger, OnCommand | OnLogin) or (
            isinstance(trigger, Chance) and trigger.per in ("command", "login"))
        if not ok:
            raise action_table.fail(
                f"action {type(action).__name__} answers a command, but its trigger "
                f"({type(trigger).__name__}) never has a command in hand")
    if isinstance(trigger, OnCommand) and trigger.mailbox and isinstance(
            action, RenameFolder | DeleteFolder) and trigger.times != 1:
        raise trig_table.fail("a folder rename/delete can only fire once (set times = 1)")
    return TimelineEvent(name=name, trigger=trigger, action=action)
