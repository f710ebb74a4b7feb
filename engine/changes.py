"""What changed among already-scanned messages: expunges and flag changes, cheaply.

A no-change pass must stay one STATUS per folder, so the check rides on what that
STATUS already says:

- CONDSTORE (RFC 7162): HIGHESTMODSEQ equal to the checkpoint's means nothing changed at
  all, not a flag, not an expunge: no command. When it moved, one
  ``UID FETCH 1:<last scanned> (UID FLAGS) (CHANGEDSINCE <old modseq>)`` names the
  messages whose flags changed; with QRESYNC enabled (``enable_qresync`` at login, before
  any SELECT) the same command's ``VANISHED`` modifier also names the expunged UIDs.
- Without QRESYNC, expunges are noticed by count (``expunged_by_count``): the folder held
  ``before`` messages, the pass read ``arrived`` new ones, and STATUS says ``now``; fewer
  than ``before + arrived`` means the difference was expunged. No extra command; which
  UIDs it were would need per-message state the connector does not keep. Without
  CONDSTORE, flag changes cannot be seen without re-reading every message's flags, so
  they are not (the bounded part of the fallback: the count costs nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.model import Fetch


@dataclass(frozen=True)
class FolderChanges:
    """Changes to messages at or below the checkpoint's last UID since the last pass."""

    how: str  # "qresync" | "condstore" | "count"
    expunged: tuple[int, ...] = ()  # UIDs, when the server names them (QRESYNC)
    expunged_count: int = 0  # messages gone (known even when the UIDs are not)
    flags: tuple[tuple[int, tuple[str, ...]], ...] = ()  # (uid, its flags now)

    def __bool__(self) -> bool:
        return bool(self.expunged_count or self.flags)


class ChangesClient(Protocol):
    @property
    def caps(self) -> frozenset[str]: ...
    @property
    def enabled(self) -> frozenset[str]: ...
    async def uid_fetch_changes(self, uids: str, since: int, *, vanished: bool = False
                                ) -> tuple[list[Fetch], list[int]]: ...


async def changed_since(client: ChangesClient, last_uid: int, old: int | None,
                        new: int | None) -> FolderChanges | None:
    """CONDSTORE's answer for the examined folder, or None when there is nothing to ask
    (no MODSEQ on either side, nothing scanned yet, or HIGHESTMODSEQ did not move)."""
    if old is None or new is None or old == new or last_uid < 1:
        return None
    vanished = "QRESYNC" in client.enabled
    fetches, gone = await client.uid_fetch_changes(f"1:{last_uid}", old, vanished=vanished)
    flags = tuple(sorted((uid, tuple(f.items.get("FLAGS", ()))) for f in fetches
                         if (uid := f.uid) is not None and uid <= last_uid))
    gone = [u for u in gone if u <= last_uid]
    return FolderChanges("qresync" if vanished else "condstore", tuple(gone), len(gone), flags)


def expunged_by_count(before: int | None, arrived: int, now: int | None) -> int:
    """How many messages went, from the message counts alone (0 when unknown)."""
    if before is None or now is None:
        return 0
    return max(0, before + arrived - now)


async def enable_qresync(client: ImapClient) -> None:
    """ENABLE QRESYNC when offered and not yet on; call before the session's first SELECT
    (RFC 5161 3.1). With it, expunges arrive as VANISHED on this connection."""
    if ("QRESYNC" in client.caps and "QRESYNC" not in client.enabled
            and client.selected is None):
        await client.enable("QRESYNC")


__all__ = ["FolderChanges", "changed_since", "enable_qresync", "expunged_by_count"]
