"""Which tracked thread a message joins, and why (sans-I/O), plus the thread view model.

The rules, from the issue and the seed:

1. ``In-Reply-To`` first: a message whose In-Reply-To names a tracked Message-ID joins
   that thread - even from another address (the contact's phone, a colleague): the
   header is the reply button's own statement.
2. ``References`` only when the normalized subject matches the thread's and the external
   participants overlap: References survive forwards and edits, so on their own they
   prove little.
3. Forward reuse (the seed's trap): the user forwards an old sent email, deletes the
   quoted text and sends it to someone else. The forward and its replies still name the
   old thread in References/In-Reply-To, but nobody on them was on the thread. Such a
   message is flagged, not joined, and the reference chain is the explanation.

"External" participants exclude the account's own addresses, which are on every thread.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from engine.crm.ingest import Headers
from engine.crm.records import CrmStore, ThreadRef

Verdict = Literal["join", "refuse", "flag", "known", "none"]

_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|sv|wg|tr|antw|vs|rif|r)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*"
    r"|\[[^\]]{1,40}\]\s*)", re.IGNORECASE)
_FORWARD = re.compile(r"^\s*(?:fw|fwd|wg|tr|rv|enc)\s*[:：]", re.IGNORECASE)


def normalize_subject(subject: str) -> str:
    """``Re: [ext] FWD: Quote  for  X`` -> ``quote for x``."""
    text = subject or ""
    while True:
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    return " ".join(text.split()).casefold()


def is_forwarded(subject: str) -> bool:
    """Whether any prefix in the subject's chain is a forward marker."""
    text = subject or ""
    while True:
        if _FORWARD.match(text):
            return True
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            return False
        text = stripped


@dataclass(frozen=True)
class Match:
    """The verdict for one message; ``reason`` is shown as is in the thread view."""

    verdict: Verdict
    reason: str
    thread: ThreadRef | None = None
    header: str | None = None  # which header carried the link
    referenced: str | None = None  # which tracked Message-ID it named
    chain: tuple[str, ...] = ()  # one line per referenced id, for flags

    @property
    def joined(self) -> bool:
        return self.verdict == "join"


def _chain(headers: Headers, index: Mapping[str, ThreadRef]) -> tuple[str, ...]:
    lines = []
    for name, ids in (("References", headers.references), ("In-Reply-To", headers.in_reply_to)):
        for mid in ids:
            ref = index.get(mid)
            where = f"tracked, thread {ref.id} '{ref.subject}' with " \
                    f"{', '.join(sorted(ref.participants)) or 'nobody'}" if ref else "not tracked"
            lines.append(f"{name} {mid}: {where}")
    return tuple(lines)


def match(headers: Headers, index: Mapping[str, ThreadRef],
          own: Iterable[str] = ()) -> Match:
    """Decide which tracked thread ``headers`` belongs to (no I/O, no database)."""
    mine = frozenset(a.lower() for a in own)
    if headers.message_id is not None and headers.message_id in index:
        ref = index[headers.message_id]
        return Match("known", f"{headers.message_id} is already in thread {ref.id}", ref)
    external = headers.participants - mine

    def overlap(ref: ThreadRef) -> frozenset[str]:
        return external & (ref.participants - mine)

    def flagged(ref: ThreadRef, header: str, mid: str) -> Match:
        return Match(
            "flag", f"forward reuse: {header} names {mid} of thread {ref.id} "
            f"'{ref.subject}', but {', '.join(sorted(external)) or 'nobody'} was never on "
            "that thread (an old email forwarded to someone new?)", ref, header, mid,
            _chain(headers, index))

    for mid in headers.in_reply_to:
        hit = index.get(mid)
        if hit is None:
            continue
        ref = hit
        if is_forwarded(headers.subject) and not overlap(ref):
            return flagged(ref, "In-Reply-To", mid)
        return Match("join", f"In-Reply-To names {mid}, a message of thread {ref.id}", ref,
                     "In-Reply-To", mid)
    refusal: Match | None = None
    for mid in reversed(headers.references):  # the nearest ancestor first
        found = index.get(mid)
        if found is None:
            continue
        ref = found
        common = overlap(ref)
        if not common:
            return flagged(ref, "References", mid)
        if normalize_subject(headers.subject) != normalize_subject(ref.subject):
            refusal = refusal or Match(
                "refuse", f"References names {mid} of thread {ref.id}, but the subject "
                f"'{headers.subject}' is not the thread's '{ref.subject}'", ref, "References",
                mid, _chain(headers, index))
            continue
        return Match("join", f"References names {mid} of thread {ref.id}; same subject and "
                     f"shared participants ({', '.join(sorted(common))})", ref, "References", mid)
    if refusal is not None:
        return refusal
    return Match("none", "names no tracked Message-ID")


@dataclass(frozen=True)
class ThreadEntry:
    message_id: str | None
    status: Literal["logged", "refused", "flagged", "malformed"]
    who: str
    subject: str
    reason: str


@dataclass(frozen=True)
class ThreadView:
    """A thread as the UI shows it: every message, and why it joined or was refused."""

    thread_id: int
    subject: str
    entries: tuple[ThreadEntry, ...]

    def lines(self) -> list[str]:
        out = [f"thread {self.thread_id}: {self.subject}"]
        for e in self.entries:
            out.append(f"  [{e.status}] {e.message_id or '(no id)'} {e.who}: {e.reason}")
        return out


async def thread_view(store: CrmStore, thread_id: int) -> ThreadView:
    subject = str(await store.db.scalar("SELECT subject FROM threads WHERE id = ?",
                                        (thread_id,)) or "")
    entries = [ThreadEntry(e.message_id, "logged", e.sender, e.subject, e.join_reason)
               for e in await store.emails(thread_id=thread_id)]
    status = {"flag": "flagged", "refuse": "refused", "malformed": "malformed"}
    for mid, kind, reason in await store.refusals(thread_id):
        entries.append(ThreadEntry(mid, status.get(kind, "refused"), "", "",  # type: ignore[arg-type]
                                   reason))
    return ThreadView(thread_id, subject, tuple(entries))


__all__ = ["Match", "ThreadEntry", "ThreadView", "is_forwarded", "match", "normalize_subject",
           "thread_view"]
