"""What crosses from the engine thread to the UI, and the intents widgets post.

The bridge translates engine objects (states, errors, roles, progress) into the plain
frozen views below before posting, so no screen or widget ever imports ``engine``:
the TUI shows what the engine decided and never re-derives it. Views are plain data,
which is also what lets snapshot tests script a whole session without sockets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from textual.message import Message

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
    unseen: int | None = None
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
class ScenarioView:
    name: str
    description: str
    profile: str
    error: str | None = None


# -- engine -> UI ------------------------------------------------------------------------------


class EngineState(Message):
    def __init__(self, view: StateView) -> None:
        super().__init__()
        self.view = view


class Capabilities(Message):
    def __init__(self, caps: tuple[str, ...]) -> None:
        super().__init__()
        self.caps = caps


class FoldersChanged(Message):
    def __init__(self, folders: tuple[FolderView, ...]) -> None:
        super().__init__()
        self.folders = folders


class ScanProgress(Message):
    """High-rate: a newer progress for the same folder replaces a queued one."""

    def __init__(self, view: ProgressView) -> None:
        super().__init__()
        self.view = view

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ScanProgress) and message.view.folder == self.view.folder


class ConnectionsInUse(Message):
    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ConnectionsInUse)

    def __init__(self, in_use: int, limit: int) -> None:
        super().__init__()
        self.in_use = in_use
        self.limit = limit


class DisconnectReported(Message):
    def __init__(self, view: DisconnectView) -> None:
        super().__init__()
        self.view = view


class ConnectStage(Message):
    def __init__(self, view: StageView) -> None:
        super().__init__()
        self.view = view


class Endpoint(Message):
    """What the app is connected to (a scenario's fake servers or a real mailbox)."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__()
        self.title = title
        self.detail = detail


class EngineFailed(Message):
    """The bridge itself could not do something (a scenario did not start...)."""

    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what = what
        self.error = error


class FolderOpened(Message):
    """The browser's folder is selected: ``count`` rows (after a search, the hits)."""

    def __init__(self, folder: str, count: int, query: str = "") -> None:
        super().__init__()
        self.folder = folder
        self.count = count
        self.query = query


class RowsLoaded(Message):
    """Header rows for positions ``start .. start+len(rows)-1`` of the open folder."""

    def __init__(self, folder: str, start: int, rows: tuple[HeaderRow, ...],
                 generation: int = 0) -> None:
        super().__init__()
        self.folder = folder
        self.start = start
        self.rows = rows
        self.generation = generation


class SearchHits(Message):
    """Server-side search answer: positions (in the open folder's order) that match."""

    def __init__(self, folder: str, query: str, positions: tuple[int, ...]) -> None:
        super().__init__()
        self.folder = folder
        self.query = query
        self.positions = positions


class ScenarioDone(Message):
    def __init__(self, name: str, lines: tuple[str, ...], ok: bool) -> None:
        super().__init__()
        self.name = name
        self.lines = lines
        self.ok = ok


class FaultResult(Message):
    def __init__(self, fault: str, reply: dict[str, object]) -> None:
        super().__init__()
        self.fault = fault
        self.reply = reply


# -- widget intents (screens decide what they mean) ----------------------------------------------


class FolderChosen(Message):
    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder


class WindowWanted(Message):
    """The virtual list needs rows ``start .. start+count-1`` it does not have."""

    def __init__(self, start: int, count: int) -> None:
        super().__init__()
        self.start = start
        self.count = count


# -- what the UI knows so far (mutated on the UI thread only) ------------------------------------


@dataclass
class SessionModel:
    """Everything the screens render, accumulated from engine messages by the App."""

    title: str = "inboxlab"
    detail: str = ""
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
