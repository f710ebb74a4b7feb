"""What gets logged: the two modes, the never-log list, the attachment limit and switch.

Sans-I/O: ``LoggingRules.decide`` takes the matcher's verdict and the message's size
(from the scan's RFC822.SIZE, i.e. before any body is fetched) and says whether to log,
whether attachments come along, and why. The modes follow HubSpot's settings:

- ``replies_only``: log a message only when it answers mail that was sent from the CRM
  or logged (the thread is tracked), the sender is not on the never-log list and the
  inbox is connected.
- ``all_contacts``: additionally log any mail to or from an existing contact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from inboxlab.engine.crm.errors import BadInput
from inboxlab.engine.crm.ingest import Headers
from inboxlab.engine.crm.tracking import Match

# The product says "50 MB": decimal megabytes, 50,000,000 bytes (not 50 MiB = 52,428,800),
# compared with the whole message's RFC822.SIZE (read by the scan, before any body). An
# email of exactly 50,000,000 bytes keeps its attachments; one byte more does not.
ATTACHMENT_LIMIT = 50_000_000


class Mode(StrEnum):
    REPLIES_ONLY = "replies_only"
    ALL_CONTACTS = "all_contacts"


@dataclass(frozen=True)
class Decision:
    log: bool
    reason: str
    with_attachments: bool = False
    note: str | None = None  # shown with the logged email (e.g. why no attachments)
    contact_email: str | None = None  # all_contacts mode: the contact that made it loggable


def _blocked(address: str, patterns: frozenset[str]) -> str | None:
    address = address.lower()
    domain = address.rpartition("@")[2]
    if address in patterns:
        return address
    parts = domain.split(".")
    for k in range(len(parts) - 1):  # example.com also covers mail.example.com
        candidate = ".".join(parts[k:])
        if candidate in patterns or f"@{candidate}" in patterns:
            return candidate
    return None


@dataclass(frozen=True)
class LoggingRules:
    mode: Mode = Mode.REPLIES_ONLY
    never_log: frozenset[str] = field(default_factory=frozenset)
    log_attachments: bool = True
    attachment_limit: int = ATTACHMENT_LIMIT
    inbox_connected: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.mode, Mode):
            try:
                object.__setattr__(self, "mode", Mode(self.mode))
            except ValueError:
                raise BadInput(f"logging mode {self.mode!r} is not one of "
                               f"{', '.join(m.value for m in Mode)}", code="bad_mode") from None
        if self.attachment_limit < 0:
            raise BadInput("attachment_limit must be >= 0 bytes", code="bad_limit")
        object.__setattr__(self, "never_log",
                           frozenset(p.strip().lower() for p in self.never_log))

    def blocked(self, addresses: Iterable[str]) -> str | None:
        """The never-log entry that one of ``addresses`` hits, if any."""
        for a in addresses:
            hit = _blocked(a, self.never_log)
            if hit is not None:
                return hit
        return None

    def attachments(self, size: int | None) -> tuple[bool, str | None]:
        if not self.log_attachments:
            return False, "attachment logging is switched off"
        if size is None:
            return False, "size unknown: logged without attachments"
        if size > self.attachment_limit:
            return False, (f"email is {size:,} bytes, over the {self.attachment_limit / 1e6:g} "
                           f"MB ({self.attachment_limit:,} bytes) limit: logged without "
                           "attachments")
        return True, None

    def decide(self, headers: Headers, verdict: Match, size: int | None, *,
               contacts: frozenset[str] = frozenset(), own: Iterable[str] = ()) -> Decision:
        if not self.inbox_connected:
            return Decision(False, "the inbox is not connected")
        mine = frozenset(a.lower() for a in own)
        external = sorted(headers.participants - mine)
        hit = self.blocked(external)
        if hit is not None:
            return Decision(False, f"never-log list: {hit}")
        with_files, note = self.attachments(size)
        if verdict.joined:
            return Decision(True, verdict.reason, with_files, note)
        if self.mode is Mode.ALL_CONTACTS and verdict.verdict in ("none", "refuse", "flag"):
            # A flagged reuse is never merged into the old thread, but mail with an
            # existing contact still goes on that contact's own record, as a new thread.
            known = [a for a in external if a in contacts]
            if known:
                return Decision(True, f"mail with existing contact {known[0]} (log all mail "
                                "with contacts)", with_files, note, known[0])
        return Decision(False, verdict.reason)


__all__ = ["ATTACHMENT_LIMIT", "Decision", "LoggingRules", "Mode"]
