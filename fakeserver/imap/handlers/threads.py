"""THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 3), sans-I/O.

Both take the searched messages as :class:`Msg` records (number to answer with, sent
date, base subject, Message-ID and references) and return the ``* THREAD`` data.
Ties on the sent date go by sequence number. REFERENCES follows the RFC's steps:
link by References (else In-Reply-To) without loops, prune dummies, sort the roots,
merge roots by base subject, sort every set of siblings (a dummy by its first child).
Checked against Dovecot 2.3 by tests/interop/test_differential_sort.py.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

__all__ = ["Msg", "ordered_subject", "references", "render"]

_MSGID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Msg:
    number: int  # what the answer names: sequence number or UID
    seq: int
    date: float
    subject: str  # base subject, casemapped (fakeserver/sortkeys.py)
    reply: bool  # the subject marked a reply or forward
    message_id: str | None = None
    references: str | None = None
    in_reply_to: str | None = None


@dataclass(eq=False)
class _Node:
    msg: Msg | None = None  # None: a dummy (a referenced message not searched or absent)
    parent: _Node | None = None
    children: list[_Node] = field(default_factory=list)

    def key(self) -> tuple[float, int]:
        """Sent date, then sequence number; a dummy's are its first child's."""
        if self.msg is not None:
            return (self.msg.date, self.msg.seq)
        return min(child.key() for child in self.children)

    def above(self, other: _Node) -> bool:
        """Whether this node is ``other`` or one of its ancestors."""
        node: _Node | None = other
        while node is not None:
            if node is self:
                return True
            node = node.parent
        return False

    def adopt(self, child: _Node) -> None:
        if child.parent is not None:
            child.parent.children.remove(child)
        child.parent = self
        self.children.append(child)


def render(roots: list[_Node]) -> bytes:
    """``(1 2)(3 (4)(5))``: a chain for one child, parenthesised branches for more."""

    def inner(node: _Node) -> str:
        own = "" if node.msg is None else str(node.msg.number)
        if len(node.children) == 1:
            rest = inner(node.children[0])
        else:
            rest = "".join(f"({inner(c)})" for c in node.children)
        return own + (" " if own and rest else "") + rest

    return "".join(f"({inner(root)})" for root in roots).encode()


def _by_date(nodes: list[_Node]) -> None:
    for node in nodes:
        _by_date(node.children)
    nodes.sort(key=_Node.key)


def ordered_subject(msgs: list[Msg]) -> list[_Node]:
    """Threads of one base subject each: the earliest message, the rest its children."""
    threads: dict[str, _Node] = {}
    for msg in sorted(msgs, key=lambda m: (m.subject, m.date, m.seq)):
        node = _Node(msg)
        root = threads.get(msg.subject)
        if root is None:
            threads[msg.subject] = node
        else:
            root.adopt(node)
    return sorted(threads.values(), key=_Node.key)


def _ids(text: str | None) -> list[str]:
    return _MSGID.findall(text) if text else []


def references(msgs: list[Msg]) -> list[_Node]:
    by_id: dict[str, _Node] = {}
    nodes: list[_Node] = []
    for msg in sorted(msgs, key=lambda m: m.seq):
        own = _ids(msg.message_id)[:1]
        node = by_id.get(own[0]) if own else None
        if node is None or node.msg is not None:  # none, or a duplicate: a message alone
            node = _Node(msg)
            if own and own[0] not in by_id:
                by_id[own[0]] = node
        else:
            node.msg = msg  # the dummy a reference made is this message
        nodes.append(node)
        refs = _ids(msg.references) or _ids(msg.in_reply_to)[-1:]
        chain = [by_id.setdefault(ref, _Node()) for ref in refs]
        for parent, child in itertools.pairwise(chain):
            if child.parent is None and not child.above(parent):
                parent.adopt(child)
        if chain and not node.above(chain[-1]):  # else a loop: the message stays put
            chain[-1].adopt(node)
        elif not chain and node.parent is not None:  # no references: no parent (1.B)
            node.parent.children.remove(node)
            node.parent = None
    roots = [n for n in {id(n): n for n in [*by_id.values(), *nodes]}.values()
             if n.parent is None]
    roots = _prune(roots, top=True)
    roots.sort(key=_Node.key)
    return _merge_subjects(roots)


def _prune(nodes: list[_Node], *, top: bool) -> list[_Node]:
    """Step 4: dummies without children go; a dummy's children take its place (at the
    top only when it has just one)."""
    out: list[_Node] = []
    for node in nodes:
        node.children = _prune(node.children, top=False)
        for child in node.children:
            child.parent = node
        if node.msg is not None:
            out.append(node)
        elif not node.children:
            continue
        elif not top or len(node.children) == 1:
            for child in node.children:
                child.parent = None if top else node.parent
            out.extend(node.children)
        else:
            out.append(node)
    return out


def _subject_of(node: _Node) -> Msg:
    """A node's message; a dummy's first child's (by sent date)."""
    first = node if node.msg is not None else min(node.children, key=_Node.key)
    assert first.msg is not None
    return first.msg


def _merge_subjects(roots: list[_Node]) -> list[_Node]:
    """Step 6: roots with one base subject come together."""
    table: dict[str, _Node] = {}
    for root in roots:
        msg = _subject_of(root)
        if not msg.subject:
            continue
        old = table.get(msg.subject)
        if old is None or (root.msg is None and old.msg is not None) or (
                old.msg is not None and old.msg.reply and not msg.reply):
            table[msg.subject] = root
    out: list[_Node] = []
    for root in roots:
        msg = _subject_of(root)
        into = table.get(msg.subject) if msg.subject else None
        if into is None or into is root:
            out.append(root)
            continue
        if into.msg is None and root.msg is None:
            for child in list(root.children):
                into.adopt(child)
        elif into.msg is None:
            into.adopt(root)
        elif msg.reply and not _subject_of(into).reply:
            into.adopt(root)
        else:
            dummy = _Node()
            at = out.index(into) if into in out else None
            dummy.adopt(into)
            dummy.adopt(root)
            table[msg.subject] = dummy
            if at is not None:
                out[at] = dummy
            else:
                roots[roots.index(into)] = dummy
    _by_date(out)
    return out
