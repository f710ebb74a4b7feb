"""Actions of "another client": store mutations the open sessions then hear about.

Each mutates the shared ``Store`` exactly as a second IMAP client would; the sessions
learn of it through the folders' change events (EXPUNGE, FETCH FLAGS, EXISTS) like a
real server's. Delivered mail is generated from a seed with fixed dates, so runs repeat.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.generate import message as generated_message
from inboxlab.fakeserver.imap import mutf7
from inboxlab.fakeserver.scenario.model import (
    Action,
    ChangeFlags,
    DeleteFolder,
    Deliver,
    ExpungeMessages,
    RenameFolder,
    UidValidityReset,
)
from inboxlab.fakeserver.store import Folder, Store

DELIVERY_EPOCH = datetime(2024, 6, 1, tzinfo=UTC)


def apply(store: Store, action: Action, user: str, deliveries: int) -> int:
    """Carry out ``action`` for ``user``; returns the updated delivery counter.

    Raises the store's own errors (``CommandFailed``) when the folder is gone.
    """
    account = store.accounts.get(user)
    if account is None:
        return deliveries
    name = mutf7.encode(getattr(action, "folder", "INBOX"))
    if isinstance(action, UidValidityReset):
        store.reset_uidvalidity(account.get(name))
    elif isinstance(action, RenameFolder):
        account.rename(name, mutf7.encode(action.to))
    elif isinstance(action, DeleteFolder):
        account.delete(name)
    elif isinstance(action, ExpungeMessages):
        folder = account.get(name)
        folder.remove(pick(folder.uids(), action.uids, action.count, oldest=True))
    elif isinstance(action, ChangeFlags):
        folder = account.get(name)
        uids = pick(folder.uids(), action.uids, action.count, oldest=False)
        if action.add:
            folder.store(uids, "+", action.add)
        if action.remove:
            folder.store(uids, "-", action.remove)
    elif isinstance(action, Deliver):
        deliveries = deliver(account.get(name), action, user, deliveries)
    return deliveries


def deliver(folder: Folder, action: Deliver, owner: str, deliveries: int) -> int:
    """Append ``action.count`` generated messages; dates follow the delivery counter."""
    spec = GenSpec(count=action.count, seed=action.seed + 7919 * (deliveries + 1),
                   owner=owner, domain=owner.rpartition("@")[2] or "example.com",
                   start=DELIVERY_EPOCH)
    for i in range(action.count):
        deliveries += 1
        when = DELIVERY_EPOCH + timedelta(minutes=deliveries)
        folder.append(generated_message(spec, i), internaldate=when)
    return deliveries


def pick(present: Iterable[int], uids: tuple[int, ...], count: int, *, oldest: bool) -> list[int]:
    """The given UIDs, else the ``count`` oldest (or newest) present ones."""
    if uids:
        return list(uids)
    items = list(present)
    return items[:count] if oldest else items[-count:]
