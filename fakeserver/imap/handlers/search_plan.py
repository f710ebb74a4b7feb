"""A SEARCH key tree turned into a plan, and the plan run over candidate messages.

Why a plan and not the parsed tree: a reply search is ``OR HEADER In-Reply-To a HEADER
References a OR ...`` over 100 Message-IDs (200 keys). Evaluated as parsed, every key
reads the message's headers again; planned, the OR chain is one flat node, its HEADER
keys are one leaf holding the needles by field (each message's fields are read once
per leaf), and the children of AND/OR run cheapest first (UID, flags, size, dates,
then headers, then full text).

Why sets of candidates and no recursion: AND passes its survivors from child to child,
OR hands later children only what is still unmatched, NOT subtracts; each leaf is one
tight loop over a candidate list. Both planning and running use explicit stacks, so a
client's deep nesting (Dovecot accepts a flat OR chain of 1000 keys) costs no Python
recursion; the parser bounds the depth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from inboxlab.fakeserver.imap.syntax import search_keys as sk

Pair = tuple[int, int]  # (seq, uid)


@dataclass(frozen=True)
class HeaderAny:
    """Some needle occurs in some value of its field: ``((field, (needle, ...)), ...)``.

    Field names and needles are lowercase; an empty needle matches a present field.
    """

    fields: tuple[tuple[str, tuple[str, ...]], ...]
    # FROM/TO/CC/BCC keys, the same shape, matched on parsed addresses
    addresses: tuple[tuple[str, tuple[str, ...]], ...] = ()


Leaf = (sk.All | sk.Flag | sk.Text | sk.Date | sk.Size | sk.UidSet | sk.SeqSet | sk.ModSeq
        | HeaderAny)


@dataclass(frozen=True)
class Op:
    """AND (``"all"``), OR (``"any"``) or NOT (``"not"``, one child) over sub-plans."""

    kind: Literal["all", "any", "not"]
    children: tuple[Plan, ...]
    cost: int


Plan = Leaf | Op

# What one message costs to test, by leaf: counters and flags, then arithmetic on the
# generator's state, then header lines, then the whole message.
_COST: dict[type, int] = {sk.All: 0, sk.Flag: 0, sk.UidSet: 0, sk.SeqSet: 0, sk.ModSeq: 0,
                          sk.Size: 1, HeaderAny: 2, sk.Text: 3}
_ALL = sk.All()


def cost(plan: Plan) -> int:
    if isinstance(plan, Op):
        return plan.cost
    if isinstance(plan, sk.Date):
        return 2 if plan.sent else 1
    return _COST[type(plan)]


def _header_any(terms: Sequence[sk.Header | HeaderAny]) -> HeaderAny:
    """One leaf for OR-ed header terms: needles grouped by field, duplicates dropped."""
    by_field: dict[str, dict[str, None]] = {}
    by_address: dict[str, dict[str, None]] = {}
    for term in terms:
        if isinstance(term, sk.Header):
            into = by_address if term.address else by_field
            into.setdefault(term.field.lower(), {})[term.value.lower()] = None
        else:
            for into, pairs in ((by_field, term.fields), (by_address, term.addresses)):
                for name, needles in pairs:
                    into.setdefault(name, {}).update(dict.fromkeys(needles))
    return HeaderAny(tuple((name, tuple(needles)) for name, needles in by_field.items()),
                     tuple((name, tuple(needles)) for name, needles in by_address.items()))


def _combine(kind: Literal["all", "any"], parts: list[Plan | sk.Header]) -> Plan:
    """Flatten same-kind children, merge OR-ed header terms, order cheapest first."""
    flat: list[Plan | sk.Header] = []
    for part in parts:
        if isinstance(part, Op) and part.kind == kind:
            flat.extend(part.children)
        else:
            flat.append(part)
    if kind == "all":
        flat = [p for p in flat if not isinstance(p, sk.All)]
        children = [_header_any([p]) if isinstance(p, sk.Header) else p for p in flat]
        if not children:
            return _ALL
    else:
        if any(isinstance(p, sk.All) for p in flat):
            return _ALL
        terms = [p for p in flat if isinstance(p, sk.Header | HeaderAny)]
        children = [p for p in flat if not isinstance(p, sk.Header | HeaderAny)]
        if terms:
            children.append(_header_any(terms))
    if len(children) == 1:
        return children[0]
    children.sort(key=cost)  # stable: equal costs keep the client's order
    return Op(kind, tuple(children), max(map(cost, children)))


def make_plan(key: sk.SearchKey) -> Plan:
    """The plan of ``key``: same matches, fewer header reads. No recursion."""
    # Post-order with an explicit stack; ``done`` holds finished sub-plans (a bare
    # Header stays a term until its parent decides whether to merge it).
    todo: list[tuple[sk.SearchKey, bool]] = [(key, False)]
    done: list[Plan | sk.Header] = []
    while todo:
        node, expanded = todo.pop()
        children: tuple[sk.SearchKey, ...]
        if isinstance(node, sk.And):
            children = node.keys
        elif isinstance(node, sk.Or):
            children = (node.left, node.right)
        elif isinstance(node, sk.Not):
            children = (node.key,)
        else:
            done.append(node)
            continue
        if not expanded:
            todo.append((node, True))
            todo.extend((child, False) for child in reversed(children))
            continue
        parts = done[len(done) - len(children):]
        del done[len(done) - len(children):]
        if isinstance(node, sk.Not):
            inner = parts[0]
            if isinstance(inner, sk.Header):
                inner = _header_any([inner])
            if isinstance(inner, Op) and inner.kind == "not":
                done.append(inner.children[0])  # NOT NOT x is x
            else:
                done.append(Op("not", (inner,), cost(inner)))
        else:
            done.append(_combine("all" if isinstance(node, sk.And) else "any", parts))
    top = done[0]
    return _header_any([top]) if isinstance(top, sk.Header) else top


def leaves(plan: Plan) -> list[Leaf]:
    """Every leaf of ``plan`` (to validate them before running anything)."""
    out: list[Leaf] = []
    todo = [plan]
    while todo:
        node = todo.pop()
        if isinstance(node, Op):
            todo.extend(node.children)
        else:
            out.append(node)
    return out


class _Frame:
    """One Op being run: its candidates, the next child, what the children gave."""

    __slots__ = ("cands", "current", "matched", "op", "step")

    def __init__(self, op: Op, cands: list[Pair]) -> None:
        self.op = op
        self.cands = cands
        self.step = 0
        self.current = cands  # all: survivors so far; any: still unmatched
        self.matched: set[Pair] = set()

    def absorb(self, result: list[Pair]) -> None:
        kind = self.op.kind
        if kind == "all":
            self.current = result
        elif kind == "any":
            got = set(result)
            self.matched |= got
            self.current = [c for c in self.current if c not in got]
        else:
            self.matched = set(result)

    def finish(self) -> list[Pair]:
        kind = self.op.kind
        if kind == "all":
            return self.current
        if kind == "any":
            return [c for c in self.cands if c in self.matched]
        return [c for c in self.cands if c not in self.matched]


def run(plan: Plan, cands: list[Pair], test: Callable[[Leaf], Callable[[int, int], bool]]
        ) -> list[Pair]:
    """The candidates (in order) that match ``plan``; ``test(leaf)`` gives its predicate."""
    preds: dict[int, Callable[[int, int], bool]] = {}

    def leaf_result(leaf: Leaf, among: list[Pair]) -> list[Pair]:
        if isinstance(leaf, sk.All):
            return among
        pred = preds.get(id(leaf))
        if pred is None:
            pred = preds[id(leaf)] = test(leaf)
        return [c for c in among if pred(c[0], c[1])]

    if not isinstance(plan, Op):
        return leaf_result(plan, cands)
    stack = [_Frame(plan, cands)]
    result: list[Pair] = []
    while stack:
        frame = stack[-1]
        if frame.step:
            frame.absorb(result)
        children = frame.op.children
        if frame.step < len(children) and frame.current:
            child = children[frame.step]
            frame.step += 1
            if isinstance(child, Op):
                stack.append(_Frame(child, frame.current))
            else:
                result = leaf_result(child, frame.current)
            continue
        result = frame.finish()
        stack.pop()
    return result
