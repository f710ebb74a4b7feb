"""A scenario's timeline as frozen data: what fires (triggers) and what it does (actions).

Triggers and actions are small unions of frozen dataclasses rather than one record
with optional fields, so "a reset needs a direction" or "a NO needs a command to
answer" is a type, not a comment. ``model.py`` re-exports every name here, so
importers may keep using ``fakeserver.scenario.model``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["to_client", "to_server", "both"]
DIRECTIONS: tuple[str, ...] = ("to_client", "to_server", "both")

# RFC 5530 response codes (plus ALERT from RFC 3501 and Gmail's THROTTLED) a scripted
# NO/BAD/BYE may carry. Anything else is refused at load time: a typo in a code would
# otherwise silently test the wrong branch of a client's error mapping.
RESPONSE_CODES: frozenset[str] = frozenset({
    "ALERT", "AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "EXPIRED", "PRIVACYREQUIRED",
    "CONTACTADMIN", "NOPERM", "INUSE", "EXPUNGEISSUED", "CORRUPTION", "SERVERBUG",
    "CLIENTBUG", "CANNOT", "LIMIT", "OVERQUOTA", "ALREADYEXISTS", "NONEXISTENT",
    "UNAVAILABLE", "THROTTLED",
})


# ----------------------------------------------------------------------------- triggers


@dataclass(frozen=True)
class AtTime:
    """Fires once ``after_s`` seconds after the server started (injected clock)."""

    after_s: float


@dataclass(frozen=True)
class OnConnection:
    """Fires when the ``nth`` connection (1-based, counted server-wide) is accepted."""

    nth: int
    times: int = 1


@dataclass(frozen=True)
class OnLogin:
    """Fires on the ``nth`` LOGIN/AUTHENTICATE attempt (optionally of one user)."""

    nth: int
    user: str | None = None
    times: int = 1


@dataclass(frozen=True)
class OnCommand:
    """Fires on the ``nth`` command matching a name and/or a regex, optionally per mailbox.

    ``name`` is the command as a client writes it, upper-case (``UID FETCH``); ``pattern``
    is matched (``re.search``) against the command line after the tag, literals elided.
    ``mailbox`` is the mailbox selected when the command arrives (SELECT's argument for
    SELECT itself).
    """

    nth: int
    name: str | None = None
    pattern: str | None = None
    mailbox: str | None = None
    times: int = 1


@dataclass(frozen=True)
class OnBytes:
    """Fires when a connection has carried ``count`` bytes in ``direction``.

    ``connection`` limits it to the nth connection; otherwise every connection may fire
    it (each at most once), up to ``times`` in total.
    """

    count: int
    direction: Literal["to_client", "to_server"] = "to_client"
    connection: int | None = None
    times: int = 1


@dataclass(frozen=True)
class Chance:
    """Fires with ``probability`` on each observation of kind ``per``, from its own seeded RNG."""

    probability: float
    seed: int
    per: Literal["connection", "login", "command"] = "command"
    name: str | None = None
    times: int = 0  # 0: no limit


Trigger = AtTime | OnConnection | OnLogin | OnCommand | OnBytes | Chance
CONNECTION_BOUND = (OnConnection, OnLogin, OnCommand, OnBytes, Chance)


# ------------------------------------------------------------------------------ actions
# Protocol layer.


@dataclass(frozen=True)
class Bye:
    """``* BYE [code] text`` verbatim, then the connection closes."""

    text: str
    code: str | None = None


@dataclass(frozen=True)
class Respond:
    """Answer the triggering command with ``tag NO|BAD [code] text``; the server never sees it."""

    status: Literal["NO", "BAD"]
    text: str
    code: str | None = None


@dataclass(frozen=True)
class PasswordChanged:
    """From now on every login of ``user`` fails; sessions already logged in carry on."""

    user: str | None = None  # None: the scenario's first account


@dataclass(frozen=True)
class TokenChange:
    """The provider's authorisation server changes its mind (``fakeserver.oauth``):
    ``expire`` every live access token of ``user`` (Office 365 also ends its sessions with
    ``BYE Session invalidated - AccessTokenExpired``), ``revoke`` the grant (refresh gets
    ``invalid_grant``), or ``descope`` it (tokens lose the mail scope)."""

    change: Literal["expire", "revoke", "descope"]
    user: str | None = None  # None: the scenario's first account


@dataclass(frozen=True)
class TooManyConnections:
    """From now on a login that would exceed ``limit`` live sessions per user is refused."""

    limit: int = 0
    text: str | None = None  # None: the profile's wording


@dataclass(frozen=True)
class Throttle:
    """Refuse the triggering command the way the provider throttles (Gmail, Office 365)."""

    style: Literal["gmail", "office365", "profile"] = "profile"
    backoff_ms: int = 30000


@dataclass(frozen=True)
class UidValidityReset:
    folder: str
    user: str | None = None


@dataclass(frozen=True)
class RenameFolder:
    folder: str
    to: str
    user: str | None = None


@dataclass(frozen=True)
class DeleteFolder:
    folder: str
    user: str | None = None


@dataclass(frozen=True)
class ExpungeMessages:
    """Another client deletes and expunges the ``count`` oldest (or the given UIDs)."""

    folder: str
    count: int = 1
    uids: tuple[int, ...] = ()
    user: str | None = None


@dataclass(frozen=True)
class ChangeFlags:
    """Another client adds/removes flags on the ``count`` newest (or the given UIDs)."""

    folder: str
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    count: int = 1
    uids: tuple[int, ...] = ()
    user: str | None = None


@dataclass(frozen=True)
class Deliver:
    """New mail arrives in ``folder``: ``count`` generated messages (seeded)."""

    folder: str = "INBOX"
    count: int = 1
    seed: int = 0
    user: str | None = None


@dataclass(frozen=True)
class MalformedResponse:
    """Send ``line`` (CRLF added) to the client before the server's answer."""

    line: str = "* 1 FETCH (UID 1 FLAGS (\\Seen"


@dataclass(frozen=True)
class CutMidLiteral:
    """Close the connection half-way through the first literal of the server's answer."""


# Transport layer.


@dataclass(frozen=True)
class Reset:
    """A real RST (SO_LINGER 0) towards ``direction``; the other side is closed.

    ``after_bytes`` > 0 lets that many more bytes through first (a reset mid-response).
    """

    direction: Direction = "to_client"
    after_bytes: int = 0


@dataclass(frozen=True)
class Close:
    """An orderly FIN towards ``direction``; the other side is closed too."""

    direction: Direction = "to_client"
    after_bytes: int = 0


@dataclass(frozen=True)
class Tarpit:
    """Keep the connection open but never forward another byte in ``direction``."""

    direction: Direction = "to_client"


@dataclass(frozen=True)
class Latency:
    """Delay each write in ``direction`` by ``ms`` plus a seeded uniform jitter."""

    ms: float
    jitter_ms: float = 0.0
    seed: int = 0
    direction: Direction = "to_client"


@dataclass(frozen=True)
class Bandwidth:
    """Cap throughput in ``direction`` at ``bytes_per_s``."""

    bytes_per_s: int
    direction: Direction = "to_client"


@dataclass(frozen=True)
class Slicer:
    """Split every write in ``direction`` into pieces of at most ``size`` bytes."""

    size: int
    direction: Direction = "to_client"


@dataclass(frozen=True)
class LimitData:
    """Close the connection after ``bytes`` more bytes in ``direction``."""

    bytes: int
    direction: Direction = "to_client"


@dataclass(frozen=True)
class TlsFail:
    """The next ``count`` TLS handshakes (implicit TLS or STARTTLS) fail."""

    count: int = 1


@dataclass(frozen=True)
class Down:
    """Stop listening for ``seconds`` (new connections refused) and drop the live ones."""

    seconds: float


Action = (
    Bye | Respond | PasswordChanged | TokenChange | TooManyConnections | Throttle | UidValidityReset
    | RenameFolder | DeleteFolder | ExpungeMessages | ChangeFlags | Deliver | MalformedResponse
    | CutMidLiteral | Reset | Close | Tarpit | Latency | Bandwidth | Slicer | LimitData
    | TlsFail | Down
)
# Actions that answer one command: they need a trigger that has a command in hand.
COMMAND_BOUND = (Respond, Throttle, CutMidLiteral)
# Actions that act on one connection: they need a connection-bound trigger.
TRANSPORT = (Reset, Close, Tarpit, Latency, Bandwidth, Slicer, LimitData)


@dataclass(frozen=True)
class TimelineEvent:
    name: str
    trigger: Trigger
    action: Action
