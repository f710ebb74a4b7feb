"""What an account is told (``AccountOptions``) and what it tells back (``AccountStats``).

Frozen and validated like ``engine.settings``: a bad option raises ``ConfigError``
naming the field and the fix, before anything connects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from inboxlab.engine.backoff import BackoffPolicy
from inboxlab.engine.errors import ConfigError
from inboxlab.engine.pool import HUBSPOT_LIMIT
from inboxlab.engine.replies import SMALL_TRACKED_SET
from inboxlab.engine.states import State
from inboxlab.engine.supervise import ScanProgress
from inboxlab.engine.sync import DEFAULT_BATCH
from inboxlab.engine.watch import IDLE_REFRESH_MAX

LARGE_FOLDER = 100_000  # HubSpot warns about folders this big


def _bad(name: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"account options {name}: {problem}", code="config", remediation=fix)


def _folder_names(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for name in names:
        if not isinstance(name, str) or not name.strip() or any(
                ord(ch) < 32 or ord(ch) == 127 for ch in name):
            raise _bad("folders", f"{name!r} is not a folder name",
                       'a non-empty name without control characters, e.g. "Projects/Acme"')
        if name.strip() not in out:
            out.append(name.strip())
    return tuple(out)


@dataclass(frozen=True)
class AccountOptions:
    """How the account syncs and watches; every number is in seconds or messages."""

    initial_scan: Literal["new", "full"] = "new"
    # INBOX + Sent, every selectable folder, or INBOX + Sent + these names (a name the
    # server does not list is a FolderGone warning at discovery, not a failure).
    folders: Literal["roles", "all"] | tuple[str, ...] = "roles"
    batch: int = DEFAULT_BATCH
    idle: bool = True
    idle_refresh: float = IDLE_REFRESH_MAX
    poll_interval: float = 60.0
    max_connections: int = HUBSPOT_LIMIT
    connect_timeout: float = 20.0
    command_timeout: float = 60.0
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    large_folder: int = LARGE_FOLDER
    small_tracked_set: int = SMALL_TRACKED_SET
    cafile: str | None = None

    def __post_init__(self) -> None:
        if self.initial_scan not in ("new", "full"):
            raise _bad("initial_scan", f"{self.initial_scan!r} is not 'new' or 'full'",
                       "'new' starts at the newest mail; 'full' reads every header once")
        if isinstance(self.folders, list | tuple):
            object.__setattr__(self, "folders", _folder_names(self.folders))
        elif self.folders not in ("roles", "all"):
            raise _bad("folders", f"{self.folders!r} is not 'roles', 'all' or a tuple of "
                       "folder names", "'roles' watches INBOX and Sent; a tuple adds folders")
        for name in ("batch", "max_connections", "large_folder", "small_tracked_set"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _bad(name, f"{value!r} is not a positive integer", "use a number >= 1")
        for name in ("poll_interval", "connect_timeout", "command_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise _bad(name, f"{value!r} is not a positive number of seconds",
                           "use a number > 0")
        if not 0 < self.idle_refresh <= IDLE_REFRESH_MAX:
            raise _bad("idle_refresh", f"{self.idle_refresh!r} is outside (0, 1740] s",
                       "RFC 2177: re-issue IDLE at least every 29 minutes")
        if self.max_connections > HUBSPOT_LIMIT:
            raise _bad("max_connections", f"{self.max_connections} exceeds the budget of "
                       f"{HUBSPOT_LIMIT}", f"use at most {HUBSPOT_LIMIT}")


@dataclass(frozen=True)
class FolderStats:
    folder: str
    role: str | None
    messages: int | None
    uidnext: int | None
    last_uid: int | None


@dataclass(frozen=True)
class AccountStats:
    """A snapshot for the TUI: counts, progress, the connection budget."""

    account: str
    state: State
    connections_in_use: int
    connection_limit: int
    folders: tuple[FolderStats, ...]
    progress: tuple[ScanProgress, ...]
    logins: int
    login_attempts: int
    reconnects: int
    delivered: int
    last_error: str | None
    capabilities: tuple[str, ...] = ()  # the scan connection's, sorted; () when offline


__all__ = ["LARGE_FOLDER", "AccountOptions", "AccountStats", "FolderStats"]
