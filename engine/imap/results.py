"""What the client hands back: credentials in, typed results and typed refusals out.

``refusal`` is the one place that turns a server's NO/BAD/BYE into the engine's error
tree, keyed on the RFC 5530 response code first and the server's words second
(Office 365 says "Request is throttled" without a code); both are looked up in the
cause catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inboxlab.engine.catalogue import RESPONSE_CODES, by_response_code, cause, said
from inboxlab.engine.errors import AuthFailed, ConfigError, ServerRefused, Throttled
from inboxlab.engine.imap.model import (
    Event,
    Exists,
    Fetch,
    Flags,
    Recent,
    Tagged,
    UntaggedStatus,
    Value,
)
from inboxlab.engine.secrets import Secret


@dataclass(frozen=True)
class Credentials:
    """A username and password; the password is always held as a ``Secret``.

    A plain ``str`` is wrapped on the way in, so the password cannot leak through a
    repr, ``dataclasses.asdict``, a traceback's locals or a pickle; ``reveal()`` is
    called only at the moment LOGIN/AUTHENTICATE is written.
    """

    username: str
    password: Secret = field(repr=False)

    def __init__(self, username: str, password: str | Secret) -> None:
        if not isinstance(username, str) or not username:
            raise ConfigError("a username is required", code="no_username", stage="imap_login")
        object.__setattr__(self, "username", username)
        object.__setattr__(
            self, "password", password if isinstance(password, Secret) else Secret(password)
        )

    def reveal(self) -> str:
        return self.password.reveal()

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=[secure])"

    __str__ = __repr__


@dataclass(frozen=True)
class SelectResult:
    """The mailbox state a SELECT/EXAMINE reported."""

    mailbox: str
    exists: int = 0
    recent: int = 0
    uidvalidity: int | None = None
    uidnext: int | None = None
    highestmodseq: int | None = None
    nomodseq: bool = False
    flags: tuple[str, ...] = ()
    permanentflags: tuple[str, ...] = ()
    readonly: bool = False


@dataclass(frozen=True, slots=True)
class RangeBatch:
    """Part of the answer to one ``UID FETCH low:high`` of ``ImapClient.uid_fetch_ranges``:
    the FETCHes one socket read brought, or (``complete``) the range's tagged OK."""

    low: int
    high: int
    fetches: list[Fetch]
    complete: bool = False


@dataclass(frozen=True)
class AppendResult:
    """APPENDUID (RFC 4315): where the message landed, if the server says."""

    uidvalidity: int | None
    uid: int | None


def select_result(mailbox: str, events: list[Event], tagged: Tagged) -> SelectResult:
    """Collect a SELECT/EXAMINE answer (untagged data + the tagged code) into one result."""
    fields: dict[str, object] = {}
    for e in events:
        if isinstance(e, Exists):
            fields["exists"] = e.n
        elif isinstance(e, Recent):
            fields["recent"] = e.n
        elif isinstance(e, Flags):
            fields["flags"] = e.flags
        elif isinstance(e, UntaggedStatus) and e.code:
            _select_code(fields, e.code, e.code_args)
    _select_code(fields, tagged.code or "", tagged.code_args)
    return SelectResult(mailbox, **fields)  # type: ignore[arg-type]


def _select_code(fields: dict[str, object], code: str, args: tuple[object, ...]) -> None:
    first = args[0] if args else None
    if code in ("UIDVALIDITY", "UIDNEXT", "HIGHESTMODSEQ") and isinstance(first, str):
        if first.isdigit():
            fields[code.lower()] = int(first)
    elif code == "NOMODSEQ":
        fields["nomodseq"] = True
    elif code == "PERMANENTFLAGS" and isinstance(first, tuple):
        fields["permanentflags"] = tuple(str(f) for f in first)
    elif code == "READ-ONLY":
        fields["readonly"] = True


def refusal(
    status: str,
    code: str | None,
    code_args: tuple[Value, ...],
    text: str,
    *,
    stage: str,
    command: str,
) -> ServerRefused:
    """A NO/BAD/BYE as the right ``ServerRefused`` subclass. Which codes heal, which are
    about the credentials, which words mean throttling and what to do: all read from the
    cause catalogue (``engine.catalogue``), so the engine and diagnostics agree."""
    del code_args
    upper = (code or "").upper()
    known = RESPONSE_CODES.get(upper)
    message = f"{command} refused: {status}" + (f" [{upper}]" if upper else "")
    named = by_response_code(upper)
    remedy = named.owner_fix if named is not None else None
    throttled = cause("throttled")
    if upper == "THROTTLED" or said(throttled, text):
        return Throttled(
            message, status=status, response_code=code, server_text=text, stage=stage,
            code="throttled", remediation=throttled.owner_fix,
        )
    login = command in ("LOGIN", "AUTHENTICATE") and status == "NO"
    if (known is not None and known.credentials) or (
            login and (known is None or known.permanent)):
        return AuthFailed(
            message, status=status, response_code=code, server_text=text, stage=stage,
            code=upper.lower() if upper else "auth_failed",
            remediation=remedy or cause("auth_failed").owner_fix,
        )
    # BAD: the server will not take the command as written. A bare NO or a BYE: the
    # server did not say why, or is going away; a retry may help.
    permanent = status == "BAD" or (known is not None and known.permanent)
    kind = {"BAD": "server_bad", "BYE": "server_bye"}.get(status, "server_no")
    return ServerRefused(
        message, status=status, response_code=code, server_text=text, stage=stage,
        code=upper.lower() if upper else kind, permanent=permanent, remediation=remedy,
    )
