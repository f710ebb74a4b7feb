"""Passwords: where they come from, and a wrapper that keeps them out of logs and disk.

Secrets never enter the database, logs or traces. Redaction happens at the source:
a ``Secret`` prints as ``Secret('[hidden]')`` wherever it ends up (a dataclass repr,
an f-string, a traceback's locals), and refuses to be pickled, so it cannot slip
into a cache or a diagnostic bundle as plain text. The only way to the value is the
explicit, greppable ``reveal()``, called at the moment of LOGIN / AUTH.

Sources, in the order ``find_secret`` tries them: an environment variable
(``INBOXLAB_PASSWORD`` by default, handy for CI and scripts), the system keyring
(only if the optional ``keyring`` package is installed), and an interactive prompt.
"""

from __future__ import annotations

import getpass
import hmac
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

ENV_VAR = "INBOXLAB_PASSWORD"
KEYRING_SERVICE = "inboxlab"
HIDDEN = "[hidden]"

Origin = Literal["env", "keyring", "prompt"]


class Secret:
    """A credential that hides itself; ``reveal()`` is the only way to the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret wants a str, got {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """The plain value: call it only where the protocol needs the password."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({HIDDEN!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        # Constant-time, so comparing secrets does not leak them through timing.
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    # A hash of a password is a fingerprint of it; nobody needs Secrets as dict keys.
    __hash__ = None  # type: ignore[assignment]

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError(
            "a Secret cannot be pickled: passwords never go to disk; "
            "store where to find it (env var, keyring) instead"
        )

    def __reduce__(self) -> NoReturn:
        self.__reduce_ex__(0)

    # Secrets are immutable, so copies can share the object (copy.copy would
    # otherwise go through __reduce_ex__ and raise).
    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


@dataclass(frozen=True)
class FoundSecret:
    """A secret and where it came from (the origin is safe to log; the secret hides)."""

    secret: Secret
    origin: Origin


def from_env(name: str = ENV_VAR, environ: Mapping[str, str] | None = None) -> Secret | None:
    """The secret in environment variable ``name``; unset or empty means none."""
    value = (os.environ if environ is None else environ).get(name, "")
    return Secret(value) if value else None


def keyring_available() -> bool:
    """Whether the optional ``keyring`` package can be imported."""
    try:
        import keyring  # noqa: F401
    except ImportError:
        return False
    return True


def from_keyring(username: str, service: str = KEYRING_SERVICE) -> Secret | None:
    """The secret stored for ``username`` in the system keyring, if keyring is installed."""
    try:
        import keyring
    except ImportError:
        return None
    try:
        value = keyring.get_password(service, username)
    except Exception:  # any keyring backend failure means "not available here"
        return None
    return Secret(value) if value else None


def from_prompt(
    username: str, ask: Callable[[str], str] = getpass.getpass
) -> Secret | None:
    """Ask the person at the terminal; ``ask`` is injectable so tests need no tty."""
    value = ask(f"Password for {username}: ")
    return Secret(value) if value else None


def find_secret(
    username: str,
    *,
    env_var: str = ENV_VAR,
    environ: Mapping[str, str] | None = None,
    use_keyring: bool = True,
    ask: Callable[[str], str] | None = None,
) -> FoundSecret | None:
    """Try env, then keyring, then the prompt (only if ``ask`` is given); None if none had it."""
    secret = from_env(env_var, environ)
    if secret is not None:
        return FoundSecret(secret, "env")
    if use_keyring:
        secret = from_keyring(username)
        if secret is not None:
            return FoundSecret(secret, "keyring")
    if ask is not None:
        secret = from_prompt(username, ask)
        if secret is not None:
            return FoundSecret(secret, "prompt")
    return None
