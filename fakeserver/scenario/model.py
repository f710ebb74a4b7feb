"""What a scenario is, as frozen data: the server, its accounts, a timeline, expectations.

The loader (``load.py``) builds these from TOML and refuses anything it cannot build
completely, so nothing downstream re-validates. A ``Scenario`` produces the server
helper's ``ServerConfig`` (no parallel config type): the timeline and the fault
settings are what this package adds on top of it.

The timeline's triggers and actions are their own idea (``timeline.py``); they are
re-exported here so ``from inboxlab.fakeserver.scenario.model import Reset`` keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from inboxlab.fakeserver.config import AccountConfig, Capabilities, ServerConfig
from inboxlab.fakeserver.scenario.timeline import (
    COMMAND_BOUND,
    CONNECTION_BOUND,
    DIRECTIONS,
    RESPONSE_CODES,
    TRANSPORT,
    Action,
    AtTime,
    Bandwidth,
    Bye,
    Chance,
    ChangeFlags,
    Close,
    CutMidLiteral,
    DeleteFolder,
    Deliver,
    Direction,
    Down,
    ExpungeMessages,
    Latency,
    LimitData,
    MalformedResponse,
    OnBytes,
    OnCommand,
    OnConnection,
    OnLogin,
    PasswordChanged,
    RenameFolder,
    Reset,
    Respond,
    Slicer,
    Tarpit,
    Throttle,
    TimelineEvent,
    TlsFail,
    TokenChange,
    TooManyConnections,
    Trigger,
    UidValidityReset,
)
from inboxlab.fakeserver.smtp.config import SmtpConfig

# ------------------------------------------------------------------------- expectations

# check name -> (required keys, optional keys). The checks that need the engine are
# implemented by later issues; the format is fixed now so scenarios can state them.
EXPECT_CHECKS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "sent_folder": (frozenset({"folder"}), frozenset({"user"})),
    "message_count": (frozenset({"folder", "count"}), frozenset({"user"})),
    # first = true: the run's first failure (the runner's nudges aside) must be this cause;
    # another cause appearing first fails the check (a replay that did not reproduce).
    "error": (frozenset({"cause"}), frozenset({"permanent", "code", "first"})),
    "state": (frozenset({"value"}), frozenset()),
    "login_fails": (frozenset(), frozenset({"user", "code"})),
    "reconnects": (frozenset({"min"}), frozenset({"max"})),
    "logins": (frozenset(), frozenset({"min", "max"})),
    "no_duplicates": (frozenset({"folder"}), frozenset({"user"})),
    "client_timeout": (frozenset(), frozenset({"within_s"})),
    "response": (frozenset({"text"}), frozenset({"code"})),
    # The CRM's view (``[[send]]`` blocks drive it): judged once the run is over.
    "crm_logged": (frozenset({"contact", "count"}), frozenset()),
    "sent_copies": (frozenset({"folder"}), frozenset({"count"})),
    "crm_attachments": (frozenset(), frozenset({"stored", "skipped"})),
    "crm_threads": (frozenset(), frozenset({"threads", "flagged", "refused"})),
    "crm_outbox": (frozenset({"state", "count"}), frozenset()),
}
# Checks whose keys are all optional but which say nothing without one of them.
EXPECT_ANY_OF: dict[str, frozenset[str]] = {
    "crm_attachments": frozenset({"stored", "skipped"}),
    "crm_threads": frozenset({"threads", "flagged", "refused"}),
}
# What the CRM checks' keys must hold: a count (integer >= 0), an address, or a choice.
COUNT_KEYS = frozenset({"count", "stored", "skipped", "threads", "flagged", "refused"})
OUTBOX_STATES: tuple[str, ...] = ("queued", "submitted", "copied", "logged", "failed",
                                  "uncertain")


@dataclass(frozen=True)
class Expect:
    """An assertion about what a client or the engine must end up with."""

    check: str
    params: tuple[tuple[str, str | int | float | bool], ...] = ()
    description: str = ""

    def get(self, key: str) -> str | int | float | bool | None:
        return dict(self.params).get(key)


@dataclass(frozen=True)
class Send:
    """The CRM sends one templated email to each of ``to`` once the engine has synced.

    ``subject`` and ``body`` are a CRM template (``{{first_name|there}}``; the runner
    validates the placeholders before anything starts); each contact gets a new
    thread, so a persona among ``to`` answers into a tracked thread.
    """

    to: tuple[str, ...]
    subject: str
    body: str
    name: str = ""


CRM_LOGGING_MODES = ("replies_only", "all_contacts", "off")


@dataclass(frozen=True)
class CrmRules:
    """``[crm]``: the logging rules ``scenario run`` gives the CRM (the TUI's Settings).

    ``logging_mode``: ``replies_only`` (HubSpot's "log replies"), ``all_contacts`` (all
    mail with existing contacts) or ``off`` (inbox disconnected: nothing logged);
    ``never_log``: addresses or domains (``@example.com`` or ``example.com``, which also
    covers its subdomains); ``log_attachments``: the attachment switch (on by default,
    as in the engine and the TUI).
    """

    logging_mode: str = "replies_only"
    never_log: tuple[str, ...] = ()
    log_attachments: bool = True


# ------------------------------------------------------------------------------- server


@dataclass(frozen=True)
class LatencyProfile:
    """Per-command server think time; SELECT grows with folder size (Exchange)."""

    command_ms: float = 0.0
    jitter_ms: float = 0.0
    select_ms_per_1000: float = 0.0


_RECENT_DEFAULT_SOURCE = ("Dovecot 2.3's behaviour (RFC 3501 2.3.2), the default for a "
                         "profile that cites none")
_SUBSCRIBE_DEFAULT_SOURCE = ("Dovecot 2.3's behaviour (CREATE leaves the subscription list "
                             "alone), the default for a profile that cites none")


@dataclass(frozen=True)
class Profile:
    """A provider profile (``fakeserver/profiles/<name>.toml``) after loading."""

    name: str
    description: str
    source: str
    greeting: str
    capabilities: Capabilities
    capability_line: str
    folders: tuple[tuple[str, tuple[str, ...]], ...]  # (name, special-use attributes)
    max_connections: int | None
    autosave_sent: str | None
    throttle_style: Literal["gmail", "office365", "none"]
    too_many_text: str
    latency: LatencyProfile = LatencyProfile()
    oauth_errors: str = "rfc7628"  # fakeserver.oauth_errors.STYLES
    # \Recent kept per session (RFC 3501 2.3.2) or never set; and where that comes from
    recent: bool = True
    recent_source: str = _RECENT_DEFAULT_SOURCE
    # CREATE subscribes too, or not (Dovecot: not); and where that comes from
    create_subscribes: bool = False
    create_subscribes_source: str = _SUBSCRIBE_DEFAULT_SOURCE


@dataclass(frozen=True)
class Scenario:
    """A loaded, validated scenario; ``config`` is ready for ``FakeImapServer``."""

    name: str
    description: str
    seed: int
    profile: Profile
    config: ServerConfig
    latency: LatencyProfile
    autosave_sent: str | None
    too_many_text: str
    throttle_style: str
    timeline: tuple[TimelineEvent, ...] = ()
    expect: tuple[Expect, ...] = ()
    source: Path | None = field(default=None, compare=False)
    wrong_hostname: str | None = None  # TLS leaf minted for another name (tls-mismatch)
    smtp: SmtpConfig | None = None  # None: no SMTP listener for this scenario
    sends: tuple[Send, ...] = ()  # what the CRM sends during ``scenario run``
    crm: CrmRules = CrmRules()  # its logging rules (``[crm]``)

    @property
    def accounts(self) -> tuple[AccountConfig, ...]:
        return self.config.accounts


__all__ = [
    "COMMAND_BOUND",
    "CONNECTION_BOUND",
    "COUNT_KEYS",
    "CRM_LOGGING_MODES",
    "DIRECTIONS",
    "EXPECT_ANY_OF",
    "EXPECT_CHECKS",
    "OUTBOX_STATES",
    "RESPONSE_CODES",
    "TRANSPORT",
    "Action",
    "AtTime",
    "Bandwidth",
    "Bye",
    "Chance",
    "ChangeFlags",
    "Close",
    "CrmRules",
    "CutMidLiteral",
    "DeleteFolder",
    "Deliver",
    "Direction",
    "Down",
    "Expect",
    "ExpungeMessages",
    "Latency",
    "LatencyProfile",
    "LimitData",
    "MalformedResponse",
    "OnBytes",
    "OnCommand",
    "OnConnection",
    "OnLogin",
    "PasswordChanged",
    "Profile",
    "RenameFolder",
    "Reset",
    "Respond",
    "Scenario",
    "Send",
    "Slicer",
    "Tarpit",
    "Throttle",
    "TimelineEvent",
    "TlsFail",
    "TokenChange",
    "TooManyConnections",
    "Trigger",
    "UidValidityReset",
]
