"""Differential tests of the mailbox list: Dovecot and the fake agree (issue 14, items 4, 5, 7).

Scripts run on both servers through tests/interop/diff_sessions.py; ``{/}`` in a line is
each server's own hierarchy delimiter (Dovecot's maildir ".", the fake's "/"), and names
come back compared with "/". Asserts on Dovecot's side pin what each comparison is about.
A step named ``list all...`` compares \\HasChildren/\\HasNoChildren too.
"""

from __future__ import annotations

from typing import Any

import pytest
from diff_sessions import both
from dovecot import DovecotHandle

pytestmark = [pytest.mark.dovecot, pytest.mark.interop]


def _by_name(dove: dict[str, Any]) -> dict[str, Any]:
    return {name.split(" ", 2)[2]: value for name, value in dove.items()}


def _names(step: dict[str, Any], word: str = "LIST") -> dict[str, list[str]]:
    return {box: attrs for box, attrs, _rest in step["untagged"].get(word, [])}


async def test_subscriptions_are_a_list_of_their_own(dovecot: DovecotHandle) -> None:
    """Item 4 (RFC 3501 6.3.6-6.3.9, RFC 5258): CREATE does not subscribe, SUBSCRIBE needs
    the mailbox, DELETE and RENAME leave the subscription where it was (then LIST
    (SUBSCRIBED) says \\NonExistent), UNSUBSCRIBE of any name is OK, and LSUB "%" shows
    the unsubscribed parent of a subscribed name as \\Noselect."""
    steps = [(0, "lsub start", b'LSUB "" "*"'),
             (0, "create", b'CREATE "Projects{/}2024{/}Q1"'),
             (0, "create work", b"CREATE Work"),
             (0, "lsub after create", b'LSUB "" "*"'),
             (0, "subscribe", b'SUBSCRIBE "Projects{/}2024{/}Q1"'),
             (0, "subscribe work", b"SUBSCRIBE Work"),
             (0, "subscribe missing", b"SUBSCRIBE Ghost"),
             (0, "subscribe inbox", b"SUBSCRIBE inbox"),
             (1, "lsub other session", b'LSUB "" "*"'),
             (0, "lsub top", b'LSUB "" "%"'),
             (0, "lsub level", b'LSUB "" "Projects{/}%"'),
             (0, "delete work", b"DELETE Work"),
             (0, "lsub after delete", b'LSUB "" "*"'),
             (0, "list subscribed", b'LIST (SUBSCRIBED) "" "*"'),
             (0, "list subscribed top", b'LIST (SUBSCRIBED) "" "%"'),
             (0, "list return subscribed", b'LIST "" "*" RETURN (SUBSCRIBED)'),
             (0, "unsubscribe gone", b"UNSUBSCRIBE Work"),
             (0, "unsubscribe never", b"UNSUBSCRIBE Never"),
             (0, "unsubscribe inbox", b"UNSUBSCRIBE INBOX"),
             (0, "rename", b'RENAME "Projects{/}2024{/}Q1" "Projects{/}2024{/}Q2"'),
             (0, "lsub after rename", b'LSUB "" "*"'),
             (1, "list subscribed after rename", b'LIST (SUBSCRIBED) "" "Projects*"')]
    dove, _fake = await both(dovecot, steps)
    at = _by_name(dove)
    specials = {"Archive", "Drafts", "Junk", "Sent", "Trash"}  # auto = subscribe
    assert set(_names(at["lsub after create"], "LSUB")) == specials
    assert at["subscribe missing"]["status"] == "NO"
    assert set(_names(at["lsub other session"], "LSUB")) == specials | {
        "Projects/2024/Q1", "Work", "INBOX"}
    assert _names(at["lsub top"], "LSUB")["Projects"] == ["\\NOSELECT"]
    assert _names(at["lsub level"], "LSUB") == {"Projects/2024": ["\\NOSELECT"]}
    assert "Work" in _names(at["lsub after delete"], "LSUB")
    assert _names(at["list subscribed"])["Work"] == ["\\NONEXISTENT", "\\SUBSCRIBED"]
    assert "Projects" not in _names(at["list subscribed top"])
    assert at["unsubscribe never"]["status"] == "OK"
    assert _names(at["list subscribed after rename"]) == {
        "Projects/2024/Q1": ["\\NONEXISTENT", "\\SUBSCRIBED"]}


async def test_parent_levels_are_listed_and_renamed(dovecot: DovecotHandle) -> None:
    """Item 5: the levels above a created mailbox are listed (\\Noselect, or \\NonExistent
    under LIST-EXTENDED) so a client walking "%" level by level reaches every mailbox;
    RENAME of a parent level moves its children; DELETE of a level that is no mailbox is
    NO [NONEXISTENT]; CREATE makes it a mailbox."""
    steps = [(0, "create", b'CREATE "Projects{/}2024{/}Q1"'),
             (0, "create client", b'CREATE "Clients{/}Acme Ltd"'),
             (0, "list all", b'LIST "" "*"'),
             (0, "list top", b'LIST "" "%"'),
             (0, "list projects", b'LIST "" "Projects{/}%"'),
             (0, "list projects 2024", b'LIST "" "Projects{/}2024{/}%"'),
             (0, "list clients", b'LIST "" "Clients{/}%"'),
             (0, "list extended", b'LIST () "" "*"'),
             (0, "list return children", b'LIST "" "%" RETURN (CHILDREN)'),
             (0, "list two patterns", b'LIST "" ("Projects" "Clients{/}%")'),
             (0, "select level", b'EXAMINE "Projects{/}2024{/}Q1"'),
             (0, "rename parent", b'RENAME Projects Work'),
             (0, "list all after rename", b'LIST "" "*"'),
             (0, "rename middle", b'RENAME "Work{/}2024" Done'),
             (0, "list all after middle", b'LIST "" "*"'),
             (0, "rename under itself", b'RENAME Done "Done{/}Q1{/}x"'),
             (0, "delete level", b"DELETE Clients"),
             (0, "create level", b"CREATE Clients"),
             (0, "list all after create", b'LIST "" "*"'),
             (0, "rename missing", b"RENAME Nowhere Somewhere")]
    dove, _fake = await both(dovecot, steps)
    at = _by_name(dove)
    assert _names(at["list projects"]) == {"Projects/2024": ["\\NOSELECT"]}
    assert _names(at["list clients"]) == {"Clients/Acme Ltd": []}
    assert _names(at["list extended"])["Projects"] == ["\\NONEXISTENT"]
    assert at["rename parent"]["status"] == "OK"
    assert "Work/2024/Q1" in _names(at["list all after rename"])
    assert "Done/Q1" in _names(at["list all after middle"])
    assert at["rename under itself"]["status"] == "NO"
    assert (at["delete level"]["status"], at["delete level"]["code"]) == (
        "NO", ("NONEXISTENT",))
    assert _names(at["list all after create"])["Clients"] == ["\\HASCHILDREN"]


async def test_recursivematch_returns_childinfo(dovecot: DovecotHandle) -> None:
    """Item 7 (RFC 5258 3.5): with RECURSIVEMATCH, a name that matches the pattern and
    has a subscribed descendant the pattern does not reach comes back with CHILDINFO
    ("SUBSCRIBED") (as \\NonExistent when it is no mailbox); with "*" nothing does."""
    steps = [(0, "create", b'CREATE "P{/}Y{/}Q"'), (0, "create s", b'CREATE "S{/}T"'),
             (0, "create s parent", b"CREATE S"),
             (0, "subscribe", b'SUBSCRIBE "P{/}Y{/}Q"'), (0, "subscribe s", b'SUBSCRIBE "S{/}T"'),
             (0, "list top", b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"'),
             (0, "list star", b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "*"'),
             (0, "list level", b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "P{/}%"'),
             (0, "list children", b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)'),
             (0, "subscribe parent", b"SUBSCRIBE S"),
             (0, "list top again", b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')]
    dove, _fake = await both(dovecot, steps)
    at = _by_name(dove)
    childinfo = [["CHILDINFO", [b"SUBSCRIBED"]]]
    top = {box: (attrs, rest) for box, attrs, rest in at["list top"]["untagged"]["LIST"]}
    assert top["P"] == (["\\NONEXISTENT"], childinfo) and top["S"] == ([], childinfo)
    assert all(rest == [] for _b, _a, rest in at["list star"]["untagged"]["LIST"])
    again = {box: (attrs, rest) for box, attrs, rest in at["list top again"]["untagged"]["LIST"]}
    assert again["S"] == (["\\SUBSCRIBED"], childinfo)
