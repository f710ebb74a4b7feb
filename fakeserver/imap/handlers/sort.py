"""SORT and THREAD (RFC 5256): SEARCH's matches, ordered or threaded.

The keys come from fakeserver/sortkeys.py, the threads from imap/threads.py; ties
go by sequence number (REVERSE turns only its own criterion around). Messages are
read once each, only the header fields the command needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inboxlab.fakeserver import sortkeys
from inboxlab.fakeserver.imap import responses as r
from inboxlab.fakeserver.imap.handlers import threads
from inboxlab.fakeserver.imap.handlers.search import matching
from inboxlab.fakeserver.imap.session import Done, ImapSession, Steps
from inboxlab.fakeserver.imap.syntax import search_keys as sk
from inboxlab.fakeserver.imap.syntax.commands import Command
from inboxlab.fakeserver.store import Folder

__all__ = ["sort", "thread"]

_FIELDS: dict[str, frozenset[str]] = {
    "ARRIVAL": frozenset(), "SIZE": frozenset(), "DATE": frozenset({"date"}),
    "SUBJECT": frozenset({"subject"}), "FROM": frozenset({"from"}), "TO": frozenset({"to"}),
    "CC": frozenset({"cc"}), "DISPLAYFROM": frozenset({"from"}),
    "DISPLAYTO": frozenset({"to"}),
}
_THREAD_FIELDS = frozenset({"date", "subject", "message-id", "references", "in-reply-to"})


def _first(values: dict[str, list[str]], name: str) -> str | None:
    found = values.get(name)
    return found[0] if found else None


def _key(folder: Folder, uid: int, criterion: str, values: dict[str, list[str]]) -> Any:
    if criterion == "ARRIVAL":
        return folder.internaldate(uid).timestamp()
    if criterion == "SIZE":
        return folder.size(uid)
    if criterion == "DATE":
        return sortkeys.sent_date(_first(values, "date"), folder.internaldate(uid))
    if criterion == "SUBJECT":
        return sortkeys.base_subject(_first(values, "subject"))[0]
    if criterion in ("FROM", "TO", "CC"):
        return sortkeys.first_mailbox(_first(values, criterion.lower()))
    return sortkeys.display_name(_first(values, criterion[7:].lower()))  # DISPLAY...


class _Reversed:
    """A sort key compared the other way round (REVERSE applies to one criterion)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.value == other.value

    __hash__ = None  # type: ignore[assignment]


def _sort_key(folder: Folder, criteria: tuple[tuple[str, bool], ...],
              ) -> Callable[[tuple[int, int]], tuple[Any, ...]]:
    names = frozenset().union(*(_FIELDS[name] for name, _ in criteria))

    def key(pair: tuple[int, int]) -> tuple[Any, ...]:
        seq, uid = pair
        values = folder.header_values(uid, names, decoded=False) if names else {}
        parts = [_key(folder, uid, name, values) for name, _ in criteria]
        return (*(_Reversed(p) if rev else p for p, (_, rev) in zip(parts, criteria,
                                                                      strict=True)), seq)

    return key


def sort(s: ImapSession, c: Command) -> Steps:
    args = c.args
    assert isinstance(args, sk.SortArgs) and s.view is not None
    found, issued, _modseq = matching(s, args.search)
    ordered = sorted(found, key=_sort_key(s.view.folder, args.criteria))
    numbers = b"".join(b" %d" % (uid if c.uid else seq) for seq, uid in ordered)
    yield b"* SORT" + numbers + r.CRLF
    return Done("SORT completed", "EXPUNGEISSUED" if issued else None)


def thread(s: ImapSession, c: Command) -> Steps:
    args = c.args
    assert isinstance(args, sk.ThreadArgs) and s.view is not None
    folder = s.view.folder
    found, issued, _modseq = matching(s, args.search)
    msgs = []
    for seq, uid in found:
        values = folder.header_values(uid, _THREAD_FIELDS, decoded=False)
        subject, reply = sortkeys.base_subject(_first(values, "subject"))
        msgs.append(threads.Msg(
            uid if c.uid else seq, seq,
            sortkeys.sent_date(_first(values, "date"), folder.internaldate(uid)),
            subject, reply, _first(values, "message-id"), _first(values, "references"),
            _first(values, "in-reply-to")))
    if args.algorithm == "REFERENCES":
        roots = threads.references(msgs)
    else:
        roots = threads.ordered_subject(msgs)
    yield b"* THREAD " + threads.render(roots) + r.CRLF
    return Done("THREAD completed", "EXPUNGEISSUED" if issued else None)
