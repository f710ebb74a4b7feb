"""Plain views of what the engine decided: frozen data, no Textual, no engine.

The bridge translates engine objects (states, errors, roles, progress) into these
before they cross to the UI thread, so no screen or widget imports ``engine`` and the
TUI shows what the engine decided instead of re-deriving it. Being plain data is also
what lets snapshot tests script a whole session without sockets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inboxlab.tui.incidents import IncidentLog

# -- views (plain data, built by the bridge) -----------------------------------------------


@dataclass(frozen=True)
class StateView:
    """One account state as the engine's STATE_INFO table describes it."""

    state: str
    label: str
    colour: str
    tone: str
    description: str
    at: datetime | None = None
    detail: str = ""


@dataclass(frozen=True)
class FolderView:
    """A folder, its role (if any) and the engine's reason for choosing it."""

    name: str
    role: str | None = None
    reason: str = ""
    messages: int | None = None
    scanned_to: int | None = None  # the last UID the engine has read (its checkpoint)
    warning: str | None = None  # e.g. "over 100,000 messages"


@dataclass(frozen=True)
class ProgressView:
    """A folder scan's progress; ``rate`` in messages per second, from the engine."""

    folder: str
    done: int
    total: int
    rate: float = 0.0

    @property
    def fraction(self) -> float:
        return 1.0 if self.total <= 0 else min(1.0, self.done / self.total)

    @property
    def eta_s(self) -> float | None:
        if self.rate <= 0 or self.done >= self.total:
            return None
        return (self.total - self.done) / self.rate


@dataclass(frozen=True)
class DisconnectView:
    """A classified disconnect: the engine error's own fields, not a guess from text."""

    at: datetime
    code: str
    kind: str  # the error class name, e.g. "Disconnected", "AuthFailed"
    permanent: bool
    stage: str
    message: str
    server_text: str | None = None
    remediation: str | None = None
    heals: bool = True  # retried automatically (transient) or needs a person
    cause: str = ""  # the diagnosis catalogue's cause code (engine.diag), when it knows one
    cause_title: str = ""
    matched_by: str = ""  # which evidence picked the cause
    it_fix: str | None = None  # what the mailbox's IT team can do

    @property
    def title(self) -> str:
        return f"{self.kind} ({self.code}) during {self.stage}"


@dataclass(frozen=True)
class StageView:
    """One step of opening a connection, with how long it took."""

    stage: str
    status: str  # "started" | "ok" | "failed"
    elapsed_ms: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class HeaderRow:
    """One line of the folder browser: just what is on screen, never stored."""

    uid: int
    date: str
    sender: str
    subject: str
    seen: bool = True
    size: int | None = None


@dataclass(frozen=True)
class MessageView:
    """One message as a support engineer asks "why did this (not) thread?": the headers
    that matter for threading, the CRM's tracking decision with its reason, size, flags."""

    folder: str
    uid: int | None
    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    sender: str
    subject: str
    date: str
    size: int | None
    flags: tuple[str, ...]
    decision: str  # logged | refused | flagged | join | none | known | unknown ...
    reason: str
    problem: str = ""  # why something could not be read (not found, unreadable headers)


@dataclass(frozen=True)
class ScenarioView:
    name: str
    description: str
    profile: str
    error: str | None = None


# -- what the UI knows so far (mutated on the UI thread only) ------------------------------------


@dataclass
class SessionModel:
    """Everything the screens render, accumulated from engine messages by the App."""

    title: str = "inboxlab"
    detail: str = ""
    bcc: str = ""  # "BCC/forward logging: log@... on 127.0.0.1:2525" once it listens
    state: StateView | None = None
    caps: tuple[str, ...] = ()
    folders: tuple[FolderView, ...] = ()
    progress: dict[str, ProgressView] = field(default_factory=dict)
    rates: list[float] = field(default_factory=list)  # recent scan rates, for the sparkline
    in_use: int = 0
    limit: int = 5
    stages: dict[str, StageView] = field(default_factory=dict)
    disconnects: list[DisconnectView] = field(default_factory=list)
    states: list[StateView] = field(default_factory=list)  # the timeline
    scenario_log: list[str] = field(default_factory=list)
    mail_log: list[str] = field(default_factory=list)  # new-mail notices, newest last
    incidents: IncidentLog = field(default_factory=lambda: _incident_log())  # outages


def _incident_log() -> IncidentLog:
    from inboxlab.tui.incidents import IncidentLog  # incidents builds on these views

    return IncidentLog()


# -- CRM views (built by tui.bridge.crm) ---------------------------------------------------------


@dataclass(frozen=True)
class ContactView:
    id: int
    email: str
    name: str
    company: str | None
    emails: int  # logged emails on this record


@dataclass(frozen=True)
class EmailView:
    """One logged email on a record's timeline, with the engine's reason it was logged."""

    id: int
    message_id: str | None
    thread_id: int
    direction: str  # "outgoing" | "incoming"
    sender: str
    subject: str
    join_reason: str
    notes: str
    attachments: tuple[str, ...]  # "name (size)"


@dataclass(frozen=True)
class ThreadEntryView:
    message_id: str | None
    status: str  # "logged" | "refused" | "flagged" | "malformed"
    who: str
    subject: str
    reason: str


@dataclass(frozen=True)
class ThreadLinesView:
    """A thread and why each message joined, was refused or was flagged (engine words)."""

    thread_id: int
    subject: str
    entries: tuple[ThreadEntryView, ...]


@dataclass(frozen=True)
class PreviewView:
    contact_id: int
    email: str
    subject: str
    text: str
    error: str | None = None


@dataclass(frozen=True)
class OutboxView:
    """One outgoing mail and where the outbox state table has it now."""

    message_id: str
    to: str
    subject: str
    state: str  # queued | submitted | copied | logged | failed | uncertain
    error: str | None = None


@dataclass
class CrmModel:
    """What the Records and Compose screens render (mutated on the UI thread only)."""

    contacts: tuple[ContactView, ...] = ()
    timelines: dict[int, tuple[EmailView, ...]] = field(default_factory=dict)
    threads: dict[int, ThreadLinesView] = field(default_factory=dict)
    previews: tuple[PreviewView, ...] = ()
    preview_template: str = ""
    outbox: dict[str, OutboxView] = field(default_factory=dict)  # by Message-ID, in order
    problems: list[str] = field(default_factory=list)
