"""Which tracked thread a message joins, and why (sans-I/O), plus the thread view model.

The rules check what a person reading the two messages side by side would check:

1. ``In-Reply-To`` names a tracked Message-ID: the message joins that thread when the
   normalized subject still matches (``Re: AW: Quote`` is ``Quote``) or its external
   participants are related to the thread's (the same address, or a colleague at the
   same company domain - never a free-mail or the account's own domain). A forward
   (``Fwd``/``WG``/``TR``/``RV``/``Doorst``... anywhere in the prefix chain) needs related
   participants: its subject is the old one by construction.
2. ``References`` without a tracked In-Reply-To (some clients send only References)
   joins the nearest tracked ancestor when the participants are related.
3. Anything else that names a tracked thread is *reuse* - Reply on an old mail with a
   new subject to someone new, an old email forwarded to a stranger, and the answers to
   those. It is flagged with the reference chain as the explanation, never merged, and a
   flagged message never widens the thread's participants (only joined mail does).

"External" participants exclude the account's own addresses, which are on every thread.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from inboxlab.engine.crm.ingest import Headers
from inboxlab.engine.crm.records import FREE_MAIL, CrmStore, ThreadRef

Verdict = Literal["join", "refuse", "flag", "known", "none"]

# Reply and forward markers as mail clients write them, by language: Re/RE/AW/SV/VS/Antw/
# Rif/R/RES/Odp/YNT/Svar (replies), Fwd/FW/WG/TR/RV/ENC/Doorst/I/PD/VB/VL (forwards).
# Stacking, counters (``Re[2]:``, ``Re(3):``), full-width colons and list tags like
# ``[ext]`` are stripped in any order.
_REPLY = r"re|aw|sv|vs|antw|antwort|rif|r|res|odp|ynt|svar"
_FWD = r"fwd?|wg|tr|rv|enc|doorst|i|pd|vb|vl"
_COUNTER = r"(?:\[\d+\]|\(\d+\))?"
_PREFIX = re.compile(
    rf"^\s*(?:(?:{_REPLY}|{_FWD})\.?\s*{_COUNTER}\s*[:：]\s*|\[[^\]]{{1,40}}\]\s*)",
    re.IGNORECASE)
_FORWARD = re.compile(rf"^\s*(?:{_FWD})\.?\s*{_COUNTER}\s*[:：]", re.IGNORECASE)
_FWD_SUFFIX = re.compile(r"\s*\((?:fwd|fw)\)\s*$", re.IGNORECASE)


def normalize_subject(subject: str) -> str:
    """``Re: [ext] FWD: Quote  for  X (fwd)`` -> ``quote for x``."""
    text = subject or ""
    while True:
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    return " ".join(_FWD_SUFFIX.sub("", text).split()).casefold()


def is_forwarded(subject: str) -> bool:
    """Whether any prefix in the subject's chain is a forward marker (or ``(fwd)`` ends it)."""
    text = subject or ""
    if _FWD_SUFFIX.search(text):
        return True
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


def _domain(address: str) -> str:
    return address.rpartition("@")[2]


def related(external: frozenset[str], ref: ThreadRef, mine: frozenset[str]) -> str | None:
    """How ``external`` is related to the thread's people, in words; None when it is not.

    The same address, or a colleague: an address at a company domain of a participant
    (free-mail domains and the account's own domains say nothing about the company).
    """
    theirs = ref.participants - mine
    same = sorted(external & theirs)
    if same:
        return f"shared participants ({', '.join(same)})"
    skip = FREE_MAIL | {_domain(a) for a in mine}
    companies = {_domain(a) for a in theirs} - skip
    colleagues = sorted(a for a in external if _domain(a) in companies)
    if colleagues:
        return f"a colleague at the thread's company ({', '.join(colleagues)})"
    return None


def match(headers: Headers, index: Mapping[str, ThreadRef],
          own: Iterable[str] = ()) -> Match:
    """Decide which tracked thread ``headers`` belongs to (no I/O, no database)."""
    mine = frozenset(a.lower() for a in own)
    if headers.message_id is not None and headers.message_id in index:
        ref = index[headers.message_id]
        return Match("known", f"{headers.message_id} is already in thread {ref.id}", ref)
    external = headers.participants - mine
    who = ", ".join(sorted(external)) or "nobody"
    forward = is_forwarded(headers.subject)

    def flagged(ref: ThreadRef, header: str, mid: str, same_subject: bool) -> Match:
        if forward:
            what = "forward reuse"
            why = "an old email forwarded to someone new?"
        elif same_subject:
            what = "thread reuse"
            why = "an old thread answered by someone new?"
        else:
            what = "thread reuse"
            why = f"Reply reused for a new subject '{headers.subject}'?"
        return Match(
            "flag", f"{what}: {header} names {mid} of thread {ref.id} '{ref.subject}', but "
            f"{who} was never on that thread ({why}); not merged", ref, header, mid,
            _chain(headers, index))

    for mid in headers.in_reply_to:
        if mid not in index:
            continue
        ref = index[mid]
        people = related(external, ref, mine)
        if people is not None:
            return Match("join", f"In-Reply-To names {mid}, a message of thread {ref.id}; "
                         f"{people}", ref, "In-Reply-To", mid)
        same = normalize_subject(headers.subject) == normalize_subject(ref.subject)
        if same and not forward:
            return Match("join", f"In-Reply-To names {mid}, a message of thread {ref.id}; "
                         "same subject", ref, "In-Reply-To", mid)
        return flagged(ref, "In-Reply-To", mid, same)
    for mid in reversed(headers.references):  # the nearest ancestor first
        if mid not in index:
            continue
        ref = index[mid]
        people = related(external, ref, mine)
        if people is None:
            same = normalize_subject(headers.subject) == normalize_subject(ref.subject)
            return flagged(ref, "References", mid, same)
        return Match("join", f"References names {mid} of thread {ref.id}; {people}", ref,
                     "References", mid)
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
           "related", "thread_view"]
