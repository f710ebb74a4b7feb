"""What LIST, LSUB and XLIST answer: the mailbox names and attributes, sans-I/O.

The names are an account's folders, the levels above them (``Projects`` of
``Projects/2024``: no folder, listed ``\\Noselect``, or ``\\NonExistent`` under RFC 5258
LIST-EXTENDED) and its subscriptions, which are a list of their own (RFC 3501 6.3.6) and
may name mailboxes that no longer exist. The rules follow RFC 3501 6.3.8/6.3.9, RFC 5258
and RFC 6154 as Dovecot 2.3 applies them (tests/interop/test_differential_mailboxes.py):

- a plain LIST gives \\HasChildren/\\HasNoChildren and special-use attributes; an extended
  one (selection options, RETURN, or several patterns) only those its options ask for;
- LSUB, and LIST (SUBSCRIBED RECURSIVEMATCH), also name an unsubscribed level that matches
  the pattern when a subscribed name below it does not (``%``): LSUB as ``\\Noselect``,
  LIST with ``CHILDINFO ("SUBSCRIBED")`` (RFC 5258 3.5).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from inboxlab.fakeserver.imap.syntax.commands import ListArgs
from inboxlab.fakeserver.store import DELIMITER, Account

__all__ = ["Entry", "entries"]

# Gmail's XLIST names for the RFC 6154 attributes.
_XLIST_NAMES = {"\\All": "\\AllMail", "\\Junk": "\\Spam", "\\Flagged": "\\Starred"}


@dataclass(frozen=True)
class Entry:
    """One response line's content; ``exists`` when the name is a folder (STATUS may follow)."""

    name: str
    attrs: tuple[str, ...]
    exists: bool
    childinfo: tuple[str, ...] = ()


@lru_cache(maxsize=256)
def pattern(text: str) -> re.Pattern[str]:
    """RFC 3501 6.3.8: ``*`` matches anything, ``%`` anything but the delimiter."""
    parts = []
    for ch in text:
        if ch == "*":
            parts.append(".*")
        elif ch == "%":
            parts.append(f"[^{re.escape(DELIMITER)}]*")
        else:
            parts.append(re.escape(ch))
    flags = re.IGNORECASE if text[:5].upper() == "INBOX" else 0
    return re.compile("".join(parts) + r"\Z", flags | re.DOTALL)


def _above(names: set[str]) -> set[str]:
    """Every name strictly above one of ``names``."""
    out: set[str] = set()
    for name in names:
        at = name.rfind(DELIMITER)
        while at > 0:
            name = name[:at]
            out.add(name)
            at = name.rfind(DELIMITER)
    return out


def _order(names: set[str]) -> list[str]:
    return sorted(names, key=lambda n: (n != "INBOX", n))


def entries(account: Account, args: ListArgs, verb: str, *, special_use: bool,
            ) -> Iterator[Entry]:
    """The lines ``verb`` (LIST, LSUB or XLIST) answers ``args`` with, in order."""
    matchers = [pattern(args.reference + p) for p in args.patterns]

    def matches(name: str) -> bool:
        return any(m.match(name) for m in matchers)

    subs = account.subscriptions
    # levels with a subscribed name below them that the pattern does not reach
    hidden_subs = _above({n for n in subs if not matches(n)})
    if verb == "LSUB":
        for name in _order(subs | hidden_subs):
            if not matches(name):
                continue
            if name in subs:
                found = account.folders.get(name)
                uses = () if found is None or not special_use else tuple(sorted(found.special_use))
                yield Entry(name, uses, found is not None)
            else:
                yield Entry(name, ("\\Noselect",), False)
        return
    extended = verb == "LIST" and args.extended
    levels = account.levels()
    children = not extended or "CHILDREN" in args.returns
    show_uses = (special_use or verb == "XLIST") and (
        not extended or "SPECIAL-USE" in args.returns or "SPECIAL-USE" in args.selection)
    show_subscribed = "SUBSCRIBED" in args.selection or "SUBSCRIBED" in args.returns
    by_subscription = "SUBSCRIBED" in args.selection
    recursive = by_subscription and "RECURSIVEMATCH" in args.selection
    names = set(subs) if by_subscription else set(account.folders) | levels
    if recursive:
        names |= hidden_subs
    for name in _order(names):
        if not matches(name):
            continue
        folder = account.folders.get(name)
        uses = tuple(sorted(folder.special_use)) if folder is not None else ()
        if "SPECIAL-USE" in args.selection and not uses:
            continue
        attrs: list[str] = []
        if folder is None:
            attrs.append("\\NonExistent" if extended else "\\Noselect")
        if children:
            attrs.append("\\HasChildren" if name in levels else "\\HasNoChildren")
        if show_subscribed and name in subs:
            attrs.append("\\Subscribed")
        if show_uses and verb == "XLIST":
            attrs.extend(_XLIST_NAMES.get(u, u) for u in uses)
            if name == "INBOX":
                attrs.append("\\Inbox")
        elif show_uses:
            attrs.extend(uses)
        childinfo = ("SUBSCRIBED",) if recursive and name in hidden_subs else ()
        yield Entry(name, tuple(attrs), folder is not None, childinfo)
