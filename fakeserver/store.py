r"""The fake IMAP server's mailbox model: a store of accounts, each a tree of folders.

The :class:`Store` outlives sessions, so UIDVALIDITY and every change persist across
reconnects; it also hands out UIDVALIDITY values so a folder deleted and re-created
never reuses one (RFC 3501 2.3.1.1). Folder names use ``/`` as hierarchy delimiter
and ``INBOX`` is case-insensitive (also as the first component: ``inbox/x``).
Folders themselves, and their change events, live in :mod:`fakeserver.folder`.

The levels above a folder (``Projects`` and ``Projects/2024`` of ``Projects/2024/Q1``)
exist only while a folder below them does, as in Dovecot: LIST shows them ``\Noselect``,
RENAME moves what is under them, CREATE makes one a folder. Subscriptions are a list of
names of their own (RFC 3501 6.3.6): DELETE and RENAME leave them where they are.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from inboxlab.fakeserver.errors import CommandFailed
from inboxlab.fakeserver.folder import (
    SYSTEM_FLAGS,
    AppendedMessage,
    Clock,
    Exists,
    Expunged,
    FlagsChanged,
    Folder,
    FolderEvent,
    UidValidityChanged,
    _now,
)
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.imap import mutf7
from inboxlab.fakeserver.oauth import TokenIssuer

__all__ = [
    "DELIMITER",
    "SYSTEM_FLAGS",
    "Account",
    "AppendedMessage",
    "Exists",
    "Expunged",
    "FlagsChanged",
    "Folder",
    "FolderEvent",
    "Store",
    "UidValidityChanged",
    "normalize_name",
]

DELIMITER = "/"


def normalize_name(name: str) -> str:
    """Canonical folder name: ``INBOX`` upper-cased, one trailing delimiter dropped.

    Raises CommandFailed for names no real server would accept (empty, empty
    components, control characters).
    """
    if name.endswith(DELIMITER):
        name = name[:-1]
    if not name or any(not part for part in name.split(DELIMITER)):
        raise CommandFailed(f"Invalid mailbox name {name!r}", code="CANNOT")
    if any(ord(c) < 0x20 or c == "\x7f" for c in name):
        raise CommandFailed("Invalid mailbox name: control characters", code="CANNOT")
    if not mutf7.valid(name):  # raw UTF-8 or broken shifts (Dovecot's words)
        raise CommandFailed("Mailbox name is not valid mUTF-7")
    head, sep, rest = name.partition(DELIMITER)
    if head.upper() == "INBOX":
        return "INBOX" + sep + rest
    return name


class Account:
    """One user's mailboxes. The password never appears in ``repr``."""

    delimiter = DELIMITER

    def __init__(
        self,
        username: str,
        password: str,
        *,
        store: Store | None = None,
        clock: Clock = _now,
    ) -> None:
        self.username = username
        self._password = password
        self._store = store
        self._clock = clock
        self._own_uidvalidity = 1
        self.folders: dict[str, Folder] = {}
        self.subscriptions: set[str] = set()  # names, normalised; need not exist
        self.create("INBOX")

    def __repr__(self) -> str:
        return f"Account({self.username!r}, password=[hidden], folders={len(self.folders)})"

    def check_password(self, password: str) -> bool:
        return hmac.compare_digest(self._password.encode(), password.encode())

    def _next_uidvalidity(self) -> int:
        if self._store is not None:
            return self._store.next_uidvalidity()
        value = self._own_uidvalidity
        self._own_uidvalidity += 1
        return value

    def folder(self, name: str) -> Folder | None:
        """The folder called ``name`` (INBOX case-insensitive), or None."""
        try:
            return self.folders.get(normalize_name(name))
        except CommandFailed:
            return None

    def get(self, name: str) -> Folder:
        """Like :meth:`folder` but raises ``NO [NONEXISTENT]`` (SELECT, STATUS...)."""
        found = self.folders.get(normalize_name(name))  # an invalid name says so
        if found is None:
            raise CommandFailed(f"Mailbox doesn't exist: {name}", code="NONEXISTENT")
        return found

    def create(
        self,
        name: str,
        *,
        special_use: Iterable[str] = (),
        spec: GenSpec | None = None,
        subscribed: bool = True,
    ) -> Folder:
        """Create a folder (generated from ``spec`` when given); ``NO [ALREADYEXISTS]``.

        ``subscribed`` adds the name to the subscriptions (a name already there stays).
        """
        key = normalize_name(name)
        if key in self.folders:
            raise CommandFailed(f"Mailbox already exists: {name}", code="ALREADYEXISTS")
        folder = Folder(
            key,
            uidvalidity=self._next_uidvalidity(),
            special_use=special_use,
            clock=self._clock,
        )
        if spec is not None:
            folder.fill_generated(spec)
        self.folders[key] = folder
        if subscribed:
            self.subscriptions.add(key)
        return folder

    def delete(self, name: str) -> Folder:
        """Remove a folder (its children stay, as in Dovecot; so does its subscription).
        INBOX cannot be deleted, nor a level that is no folder (``NO [NONEXISTENT]``)."""
        key = normalize_name(name)
        if key == "INBOX":
            raise CommandFailed("INBOX can't be deleted", code="CANNOT")
        folder = self.folders.pop(key, None)
        if folder is None:
            raise CommandFailed(f"Mailbox doesn't exist: {name}", code="NONEXISTENT")
        return folder

    def rename(self, old: str, new: str) -> Folder | None:
        """Rename a folder, or a level above folders, with everything under it; returns
        the renamed folder (None for a level). The subscriptions stay (Dovecot's way).

        Renaming INBOX moves its messages into a new folder and leaves INBOX empty
        (RFC 3501 6.3.5). The target may be a level already (its names merge, as in
        Dovecot); a name that would land on an existing folder is ``NO [ALREADYEXISTS]``.
        """
        src, dst = normalize_name(old), normalize_name(new)
        prefix = src + DELIMITER
        moving = [k for k in self.folders if k == src or k.startswith(prefix)]
        if not moving or (src == "INBOX" and src not in moving):
            raise CommandFailed(f"Mailbox doesn't exist: {old}", code="NONEXISTENT")
        if dst in self.folders:
            raise CommandFailed(f"Mailbox already exists: {new}", code="ALREADYEXISTS")
        if dst.startswith(prefix):
            raise CommandFailed("Can't rename mailbox under its own child")
        if src == "INBOX":
            inbox = self.folders[src]
            target = self.create(dst, subscribed=False)
            inbox.copy_to(inbox.uids(), target)
            inbox.remove(inbox.uids())
            return target
        renamed = {key: dst + key[len(src):] for key in moving}
        clash = next((n for n in renamed.values() if n in self.folders), None)
        if clash is not None:
            raise CommandFailed(f"Mailbox already exists: {clash}", code="ALREADYEXISTS")
        for key, name in renamed.items():
            folder = self.folders.pop(key)
            folder.name = name
            self.folders[name] = folder
        return self.folders.get(dst)

    def subscribe(self, name: str) -> None:
        """Add an existing folder's name to the subscriptions (Dovecot: plain NO if none)."""
        key = normalize_name(name)
        if key not in self.folders:
            raise CommandFailed(f"Mailbox doesn't exist: {name}")
        self.subscriptions.add(key)

    def unsubscribe(self, name: str) -> None:
        """Drop a name from the subscriptions; OK whether or not it was there (Dovecot)."""
        self.subscriptions.discard(normalize_name(name))

    def levels(self) -> set[str]:
        """Every name strictly above a folder (``a`` and ``a/b`` of ``a/b/c``)."""
        out: set[str] = set()
        for key in self.folders:
            at = key.rfind(DELIMITER)
            while at > 0:
                key = key[:at]
                if key in out:
                    break
                out.add(key)
                at = key.rfind(DELIMITER)
        return out

    def has_children(self, name: str) -> bool:
        prefix = normalize_name(name) + DELIMITER
        return any(k.startswith(prefix) for k in self.folders)

    def special(self, use: str) -> Folder | None:
        """The folder with special-use attribute ``use`` (e.g. ``\\Sent``), if any."""
        return next((f for f in self.folders.values() if use in f.special_use), None)


class Store:
    """All accounts; hands out UIDVALIDITY values (deterministic: tests can predict them)."""

    def __init__(self, *, uidvalidity_start: int = 1, clock: Clock = _now) -> None:
        if not 1 <= uidvalidity_start < 2**32:
            raise ValueError("uidvalidity_start must be in 1..2**32-1")
        self._next = uidvalidity_start
        self._clock = clock
        self.accounts: dict[str, Account] = {}
        self.oauth = TokenIssuer()  # the provider's authorisation server (fakeserver.oauth)

    def __repr__(self) -> str:
        return f"Store(accounts={sorted(self.accounts)!r})"

    def next_uidvalidity(self) -> int:
        value = self._next
        self._next = self._next % (2**32 - 1) + 1
        return value

    def add_account(self, username: str, password: str) -> Account:
        if username in self.accounts:
            raise ValueError(f"account {username!r} already exists")
        account = Account(username, password, store=self, clock=self._clock)
        self.accounts[username] = account
        self.oauth.grant(username)
        return account

    def authenticate(self, username: str, password: str) -> Account | None:
        """The account when the credentials match, else None (never says which was wrong)."""
        account = self.accounts.get(username)
        if account is None:
            hmac.compare_digest(b"x", password.encode())  # same work either way
            return None
        return account if account.check_password(password) else None

    def reset_uidvalidity(self, folder: Folder) -> int:
        """Renumber ``folder`` under a fresh store-wide UIDVALIDITY; returns it."""
        value = self.next_uidvalidity()
        folder.reset_uidvalidity(value)
        return value
