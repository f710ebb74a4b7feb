"""The IMAP session states of RFC 3501 section 3, as one table the client checks.

Sending a command in the wrong state earns a server BAD, which reads like a server
problem in a diagnostics screen. Checking first turns our own misuse into a clear
``ConfigError`` naming the state, and the transitions record where the session is
(a failed SELECT leaves no mailbox selected, RFC 3501 6.3.1).
"""

from __future__ import annotations

from enum import Enum

from inboxlab.engine.errors import ConfigError


class ImapState(Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


_N, _A, _S, _L = (ImapState.NOT_AUTHENTICATED, ImapState.AUTHENTICATED,
                  ImapState.SELECTED, ImapState.LOGOUT)
_ANY = frozenset({_N, _A, _S})

# Which commands may be sent in which state.
ALLOWED: dict[str, frozenset[ImapState]] = {
    "CAPABILITY": _ANY, "NOOP": _ANY, "LOGOUT": _ANY, "ID": _ANY,
    "STARTTLS": frozenset({_N}), "LOGIN": frozenset({_N}), "AUTHENTICATE": frozenset({_N}),
    "ENABLE": frozenset({_A}),
    "SELECT": frozenset({_A, _S}), "EXAMINE": frozenset({_A, _S}),
    "CREATE": frozenset({_A, _S}), "DELETE": frozenset({_A, _S}),
    "RENAME": frozenset({_A, _S}), "LIST": frozenset({_A, _S}), "LSUB": frozenset({_A, _S}),
    "STATUS": frozenset({_A, _S}), "APPEND": frozenset({_A, _S}),
    "IDLE": frozenset({_A, _S}), "NAMESPACE": frozenset({_A, _S}),
    "UID FETCH": frozenset({_S}), "UID SEARCH": frozenset({_S}), "UID STORE": frozenset({_S}),
    "UID COPY": frozenset({_S}), "UID MOVE": frozenset({_S}), "EXPUNGE": frozenset({_S}),
    "CLOSE": frozenset({_S}), "UNSELECT": frozenset({_S}),
}

# (state, what happened) -> next state. Anything missing is a bug in the caller.
TRANSITIONS: dict[tuple[ImapState, str], ImapState] = {
    (_N, "greeting_ok"): _N,
    (_N, "greeting_preauth"): _A,
    (_N, "greeting_bye"): _L,
    (_N, "auth_ok"): _A,
    (_A, "select_ok"): _S,
    (_S, "select_ok"): _S,
    (_A, "select_failed"): _A,
    (_S, "select_failed"): _A,
    (_S, "close_ok"): _A,
    (_N, "logout"): _L,
    (_A, "logout"): _L,
    (_S, "logout"): _L,
    (_L, "logout"): _L,
}


class SessionState:
    """Where one IMAP session is; ``check`` before sending, ``advance`` after answers."""

    def __init__(self) -> None:
        self.state = ImapState.NOT_AUTHENTICATED

    def check(self, command: str) -> None:
        allowed = ALLOWED.get(command.upper())
        if allowed is None or self.state in allowed:
            return  # commands we do not model are the server's to judge
        wanted = " or ".join(sorted(s.value for s in allowed))
        raise ConfigError(
            f"{command} needs the session to be {wanted}, but it is {self.state.value}",
            code="wrong_state", stage="imap_command",
            remediation="log in (and SELECT a mailbox for message commands) first",
        )

    def advance(self, event: str) -> ImapState:
        try:
            self.state = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise ConfigError(f"IMAP session cannot go from {self.state.value} on {event!r}",
                              code="wrong_state", stage="imap_command") from None
        return self.state

    def __repr__(self) -> str:
        return f"SessionState({self.state.value!r})"
