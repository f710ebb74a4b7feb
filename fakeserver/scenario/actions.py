"""Timeline actions: parsed from ``[timeline.action]`` tables, rendered to protocol bytes.

Two halves, both sans-I/O. ``parse`` turns a TOML table into one of the action
dataclasses of ``model.py`` (refusing unknown types, codes and folders). The
``render_*`` functions produce the exact bytes a protocol action puts on the wire, so
a test can compare what a client saw with what the scenario says, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable

from inboxlab.fakeserver.config import AccountConfig
from inboxlab.fakeserver.scenario.model import (
    DIRECTIONS,
    RESPONSE_CODES,
    Action,
    Bandwidth,
    Bye,
    ChangeFlags,
    Close,
    CutMidLiteral,
    DeleteFolder,
    Deliver,
    Down,
    ExpungeMessages,
    Latency,
    LimitData,
    MalformedResponse,
    PasswordChanged,
    RenameFolder,
    Reset,
    Respond,
    Slicer,
    Tarpit,
    Throttle,
    TlsFail,
    TokenChange,
    TooManyConnections,
    UidValidityReset,
)
from inboxlab.fakeserver.scenario.reader import REQUIRED, Table

__all__ = ["ACTION_TYPES", "parse", "render_bye", "render_respond", "render_throttle"]


def _code(t: Table) -> str | None:
    code = t.text("code", None)
    if code is None:
        return None
    code = code.strip().strip("[]").upper()
    if code.split(" ")[0] not in RESPONSE_CODES:
        raise t.fail(f"unknown response code {code!r}; known: {', '.join(sorted(RESPONSE_CODES))}",
                     "code")
    return code


def _one_line(t: Table, key: str, default: object) -> str:
    value: str = t.text(key, default)
    if "\r" in value or "\n" in value:
        raise t.fail("must be a single line (no CR/LF)", key)
    return value


def _user(t: Table, accounts: tuple[AccountConfig, ...]) -> AccountConfig:
    user = t.text("user", None)
    if user is None:
        return accounts[0]
    for acc in accounts:
        if acc.username.lower() == user.lower():
            return acc
    raise t.fail(f"user {user!r} is not an account of this scenario", "user")


def _folder(t: Table, acc: AccountConfig) -> str:
    name: str = t.text("folder", REQUIRED)
    for f in acc.folders:
        if f.name == name or (name.upper() == "INBOX" and f.name.upper() == "INBOX"):
            return f.name
    known = ", ".join(f.name for f in acc.folders)
    raise t.fail(f"folder {name!r} is not a folder of {acc.username!r} (known: {known})", "folder")


def _direction(t: Table) -> str:
    value: str = t.text("direction", "to_client", choices=DIRECTIONS)
    return value


def _status(status: str) -> Callable[[Table, tuple[AccountConfig, ...]], Action]:
    def build(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
        return Respond(status="NO" if status == "NO" else "BAD",
                       text=_one_line(t, "text", f"{status} by scenario"), code=_code(t))
    return build


def _bye(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    return Bye(text=_one_line(t, "text", "Server shutting down"), code=_code(t))


def _password(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    return PasswordChanged(user=_user(t, accounts).username)


def _token(change: str) -> Callable[[Table, tuple[AccountConfig, ...]], Action]:
    def build(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
        return TokenChange(change=change, user=_user(t, accounts).username)  # type: ignore[arg-type]
    return build


def _too_many(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    text = t.text("text", None)
    return TooManyConnections(limit=t.integer("limit", 0, minimum=0), text=text)


def _throttle(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    return Throttle(style=t.text("style", "profile", choices=("gmail", "office365", "profile")),
                    backoff_ms=t.integer("backoff_ms", 30000, minimum=0, maximum=86_400_000))


def _uidvalidity(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    acc = _user(t, accounts)
    return UidValidityReset(folder=_folder(t, acc), user=acc.username)


def _rename(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    acc = _user(t, accounts)
    folder = _folder(t, acc)
    to: str = t.text("to", REQUIRED)
    if any(f.name == to for f in acc.folders):
        raise t.fail(f"cannot rename to {to!r}: that folder exists", "to")
    if folder.upper() == "INBOX":
        raise t.fail("INBOX cannot be renamed away in this model", "folder")
    return RenameFolder(folder=folder, to=to, user=acc.username)


def _delete(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    acc = _user(t, accounts)
    folder = _folder(t, acc)
    if folder.upper() == "INBOX":
        raise t.fail("INBOX cannot be deleted", "folder")
    return DeleteFolder(folder=folder, user=acc.username)


def _expunge(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    acc = _user(t, accounts)
    return ExpungeMessages(folder=_folder(t, acc), count=t.integer("count", 1, minimum=1),
                           uids=t.integers("uids"), user=acc.username)


def _flags(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    acc = _user(t, accounts)
    add, remove = t.texts("add"), t.texts("remove")
    if not add and not remove:
        raise t.fail("a flags action needs 'add' or 'remove'")
    for key, flags in (("add", add), ("remove", remove)):
        for flag in flags:
            if not flag or any(c in flag for c in " ()[]{}\"\r\n%*"):
                raise t.fail(f"not a flag: {flag!r}", key)
    return ChangeFlags(folder=_folder(t, acc), add=add, remove=remove,
                       count=t.integer("count", 1, minimum=1), uids=t.integers("uids"),
                       user=acc.username)


def _deliver(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    acc = _user(t, accounts)
    if not t.has("folder"):
        t.data["folder"] = "INBOX"
    return Deliver(folder=_folder(t, acc), count=t.integer("count", 1, minimum=1, maximum=100_000),
                   seed=t.seed("seed", 0), user=acc.username)


def _malformed(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    return MalformedResponse(line=_one_line(t, "line", MalformedResponse.line))


def _cut(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    return CutMidLiteral()


def _reset(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    return Reset(direction=_direction(t),  # type: ignore[arg-type]
                 after_bytes=t.integer("after_bytes", 0, minimum=0))


def _close(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    return Close(direction=_direction(t),  # type: ignore[arg-type]
                 after_bytes=t.integer("after_bytes", 0, minimum=0))


def _tarpit(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    return Tarpit(direction=_direction(t))  # type: ignore[arg-type]


def _latency(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    return Latency(ms=t.number("ms", REQUIRED, minimum=0, maximum=600_000),
                   jitter_ms=t.number("jitter_ms", 0.0, minimum=0, maximum=600_000),
                   seed=t.seed("seed", 0), direction=_direction(t))  # type: ignore[arg-type]


def _bandwidth(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    return Bandwidth(bytes_per_s=t.integer("bytes_per_s", REQUIRED, minimum=1),
                     direction=_direction(t))  # type: ignore[arg-type]


def _slicer(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    return Slicer(size=t.integer("size", REQUIRED, minimum=1),
                  direction=_direction(t))  # type: ignore[arg-type]


def _limit(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    return LimitData(bytes=t.integer("bytes", REQUIRED, minimum=0),
                     direction=_direction(t))  # type: ignore[arg-type]


def _tls_fail(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    return TlsFail(count=t.integer("count", 1, minimum=1))


def _down(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    return Down(seconds=t.number("seconds", REQUIRED, minimum=0.001, maximum=86_400))


ACTION_TYPES: dict[str, Callable[[Table, tuple[AccountConfig, ...]], Action]] = {
    "bye": _bye,
    "no": _status("NO"),
    "bad": _status("BAD"),
    "password_changed": _password,
    "expire_token": _token("expire"),
    "revoke_grant": _token("revoke"),
    "descope_token": _token("descope"),
    "too_many_connections": _too_many,
    "throttle": _throttle,
    "uidvalidity_reset": _uidvalidity,
    "rename_folder": _rename,
    "delete_folder": _delete,
    "expunge": _expunge,
    "flags": _flags,
    "deliver": _deliver,
    "malformed": _malformed,
    "cut_mid_literal": _cut,
    "reset": _reset,
    "close": _close,
    "tarpit": _tarpit,
    "latency": _latency,
    "bandwidth": _bandwidth,
    "slicer": _slicer,
    "limit_data": _limit,
    "tls_fail": _tls_fail,
    "down": _down,
}


def parse(t: Table, accounts: tuple[AccountConfig, ...]) -> Action:
    """Build one action from its table; ``type`` picks the kind."""
    kind = t.text("type", REQUIRED, choices=tuple(ACTION_TYPES))
    action = ACTION_TYPES[kind](t, accounts)
    t.done()
    return action


# ------------------------------------------------------------------------------ render


def render_bye(action: Bye) -> bytes:
    code = f"[{action.code}] " if action.code else ""
    return f"* BYE {code}{action.text}\r\n".encode()


def render_respond(tag: str, action: Respond) -> bytes:
    code = f"[{action.code}] " if action.code else ""
    return f"{tag} {action.status} {code}{action.text}\r\n".encode()


def render_throttle(tag: str, style: str, backoff_ms: int) -> bytes:
    """Gmail answers ``NO [THROTTLED]``; Office 365 says so in words, with a backoff."""
    if style == "office365":
        text = f"Request is throttled. Suggested Backoff Time: {backoff_ms} milliseconds"
        return f"{tag} NO {text}\r\n".encode()
    text = "Account exceeded command or bandwidth limits. (Failure)"
    return f"{tag} NO [THROTTLED] {text}\r\n".encode()


def render_too_many(tag: str, text: str) -> bytes:
    """The refusal of a login over the connection limit (Gmail: ``NO [ALERT] ...``)."""
    if text.startswith("["):
        return f"{tag} NO {text}\r\n".encode()
    return f"{tag} NO [ALERT] {text}\r\n".encode()


def render_malformed(tag: str, action: MalformedResponse) -> bytes:
    """The broken line, then a tagged OK so a lenient client is not left waiting."""
    return f"{action.line}\r\n{tag} OK done\r\n".encode()


def render_cut_literal(command_name: str) -> bytes:
    """A FETCH response that announces a literal and stops half-way through it."""
    body = b"From: cut@example.com\r\nSubject: cut\r\n\r\n" + b"x" * 200
    announced = len(body)
    head = f"* 1 FETCH (UID 1 BODY[] {{{announced}}}\r\n".encode()
    return head + body[: announced // 2]
