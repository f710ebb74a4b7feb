"""Messages: what crosses from the engine thread to the UI, and the intents widgets post.

Engine -> UI messages carry the plain views of ``tui.views``; widget intents say what a
person asked for, and screens decide what that means. ``ScanProgress`` and
``ConnectionsInUse`` replace queued ones of their kind, so a fast engine cannot flood
the UI's queue.
"""

from __future__ import annotations

from textual.message import Message

from inboxlab.tui.incidents import RetryView
from inboxlab.tui.views import (
    DisconnectView,
    FolderView,
    HeaderRow,
    MessageView,
    ProgressView,
    ScenarioView,
    SessionModel,
    StageView,
    StateView,
)

__all__ = [
    "DisconnectView",
    "FolderView",
    "HeaderRow",
    "MessageView",
    "ProgressView",
    "RetryView",
    "ScenarioView",
    "SessionModel",
    "StageView",
    "StateView",
]


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


class NewMail(Message):
    """The account's IDLE watcher heard of new mail (``exists``: the folder's new count)."""

    def __init__(self, folder: str, exists: int | None) -> None:
        super().__init__()
        self.folder = folder
        self.exists = exists


class DisconnectReported(Message):
    def __init__(self, view: DisconnectView) -> None:
        super().__init__()
        self.view = view


class RetryPlanned(Message):
    """The supervisor will retry after a backoff (the badge counts it down)."""

    def __init__(self, view: RetryView) -> None:
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


class ViewsReset(Message):
    """Another scenario or account starts: every view forgets the old one."""


class EngineFailed(Message):
    """The bridge itself could not do something (a scenario did not start...)."""

    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what = what
        self.error = error


class FolderGoneReported(Message):
    """A watched or chosen folder is not there (renamed, deleted, or a typo in Settings)."""

    def __init__(self, folder: str, detail: str | None) -> None:
        super().__init__()
        self.folder = folder
        self.detail = detail


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


class RowsFailed(Message):
    """A window of rows could not be read (an outage): ask again once reconnected."""

    def __init__(self, folder: str, start: int) -> None:
        super().__init__()
        self.folder = folder
        self.start = start


class SearchHits(Message):
    """Server-side search answer: positions (in the open folder's order) that match."""

    def __init__(self, folder: str, query: str, positions: tuple[int, ...]) -> None:
        super().__init__()
        self.folder = folder
        self.query = query
        self.positions = positions


class MessageOpened(Message):
    """The message view's answer (to the screen that asked)."""

    def __init__(self, view: MessageView) -> None:
        super().__init__()
        self.view = view


class Exported(Message):
    """A file written for a person to take away (``path``), or why it was not."""

    def __init__(self, what: str, path: str | None, error: str | None) -> None:
        super().__init__()
        self.what = what
        self.path = path
        self.error = error


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
