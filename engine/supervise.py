"""What the account tells the world besides its state: notices, warnings, progress.

Every one is a frozen dataclass delivered to ``Account.subscribe`` subscribers next to
the ``engine.states.StateChanged`` transitions, and mirrored on the trace hub, so the
timeline, the TUI badge and the diagnostic bundle all see the same facts.

``classify`` is the last translation step before the supervisor decides "retry or
stop": it maps the few failures whose meaning hides in the server's words (IMAP turned
off for the mailbox, the provider's connection limit) to the cause catalogue's code,
permanence and remediation (``engine.catalogue`` holds the words), and wraps
anything from outside the engine's tree as a transient ``Disconnected``. Nothing
downstream re-guesses from strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from inboxlab.engine.catalogue import asked_wait, by_words
from inboxlab.engine.errors import AuthFailed, Disconnected, EngineError, ServerRefused, Throttled
from inboxlab.engine.states import StateChanged


@dataclass(frozen=True)
class DisconnectNotice:
    """The account stopped for good and needs a person (HubSpot emails the user)."""

    account: str
    code: str
    permanent: bool
    server_text: str | None
    stage: str
    remediation: str | None
    at: datetime
    message: str = ""


@dataclass(frozen=True)
class LargeFolderWarning:
    """A folder at or above the size where providers and the CRM stop coping well."""

    account: str
    folder: str
    messages: int
    threshold: int
    at: datetime


@dataclass(frozen=True)
class ScanProgress:
    """A header scan's progress in UIDs: ``done`` of ``total``, ``rate`` in UIDs/second."""

    account: str
    folder: str
    done: int
    total: int
    rate: float
    at: datetime

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate; None before a rate is known."""
        if self.rate <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.rate)


@dataclass(frozen=True)
class NewMail:
    """The IDLE watcher heard about new mail (or expunges) in ``folder``."""

    account: str
    folder: str
    exists: int | None
    at: datetime


@dataclass(frozen=True)
class FolderGone:
    """A watched folder vanished (renamed or deleted elsewhere); its checkpoint is dropped."""

    account: str
    folder: str
    server_text: str | None
    at: datetime


@dataclass(frozen=True)
class UidValidityChanged:
    """A folder's UIDVALIDITY is not its checkpoint's: the server renumbered it (RFC 3501
    2.3.1.1), so the stored UIDs mean nothing; the scan dropped the checkpoint and started
    again. Diagnostics match this type, never the scan plan's wording."""

    account: str
    folder: str
    old: int
    new: int
    at: datetime


@dataclass(frozen=True)
class MessageSkipped:
    """One message the scan could not take (the parser refused the server's answer, or
    the CRM's ingest failed on it) ``tries`` times in a row: it is skipped so the rest
    of the folder syncs. ``error`` is the engine's typed error of the last try."""

    account: str
    folder: str
    uidvalidity: int
    uid: int
    tries: int
    error: str
    at: datetime


@dataclass(frozen=True)
class RetryScheduled:
    account: str
    delay: float
    attempt: int
    code: str
    at: datetime


AccountEvent = (StateChanged | DisconnectNotice | LargeFolderWarning | ScanProgress | NewMail
                | FolderGone | UidValidityChanged | RetryScheduled | MessageSkipped)


# Causes whose words overrule the class ``refusal`` gave a LOGIN NO (an ``AuthFailed``):
# the phrasings live in the catalogue, only the cause codes here.
_BY_WORDS = ("imap_disabled", "too_many_connections", "basic_auth_disabled")


def classify(error: BaseException) -> EngineError:
    """The error the supervisor acts on; known server phrasings get a stable code.

    IMAP turned off: refused at LOGIN, but not about the password, so a plain
    (permanent) refusal: the badge says "cannot connect" and nobody re-types a correct
    password. Too many connections (Gmail answers the 16th login with ``NO [ALERT]``):
    other clients hold the connections; waiting helps, so it is not permanent. Code,
    permanence and remediation are the catalogue's.
    """
    if not isinstance(error, EngineError):
        return Disconnected(f"unexpected failure: {type(error).__name__}: {error}",
                            code="unexpected", stage="imap_command")
    if not isinstance(error, ServerRefused):
        return error
    found = by_words(error.server_text, error.stage)
    if found is None or found.code not in _BY_WORDS:
        return error
    return ServerRefused(error.message, status=error.status,
                         response_code=error.response_code, server_text=error.server_text,
                         stage=error.stage, code=found.code, permanent=found.permanent,
                         remediation=found.owner_fix)


SUGGESTED_BACKOFF_CAP = 300.0


def suggested_backoff(error: EngineError) -> float | None:
    """Seconds the server asked us to wait (Office 365: "Suggested Backoff Time: N
    milliseconds"), capped at five minutes; None when it did not say."""
    if not isinstance(error, Throttled):
        return None
    asked = asked_wait(error.server_text)
    return None if asked is None else min(SUGGESTED_BACKOFF_CAP, asked)


def notice_for(account: str, error: EngineError, at: datetime) -> DisconnectNotice:
    return DisconnectNotice(account=account, code=error.code, permanent=error.permanent,
                            server_text=error.server_text, stage=error.stage,
                            remediation=error.remediation, at=at, message=error.message)


def cause_matches(error: BaseException, cause: str) -> bool:
    """Whether ``error`` is of cause ``cause``: its code or any default code up its classes.

    ``NO [AUTHENTICATIONFAILED]`` carries code ``authenticationfailed`` and is an
    ``AuthFailed`` (default code ``auth_failed``): both names match.
    """
    if not isinstance(error, EngineError):
        return False
    names = {error.code}
    names.update(getattr(k, "default_code", "") for k in type(error).__mro__)
    if isinstance(error, AuthFailed):
        names.add("auth_failed")
    return cause.lower() in {n.lower() for n in names if n}


__all__ = [
    "AccountEvent",
    "DisconnectNotice",
    "FolderGone",
    "LargeFolderWarning",
    "MessageSkipped",
    "NewMail",
    "RetryScheduled",
    "ScanProgress",
    "UidValidityChanged",
    "cause_matches",
    "classify",
    "notice_for",
    "suggested_backoff",
]
