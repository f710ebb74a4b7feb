"""OAuth access tokens: where they come from, and the one refresh a rejected token gets.

A token is a secret like the password (``engine.secrets.Secret``): it never reaches the
database, logs, traces or bundles, and only ``engine.oauth.initial_response`` reveals it.

Sources (``TokenSource``), each re-asked on ``refresh``:

- ``EnvToken``: an environment variable (``INBOXLAB_OAUTH_TOKEN`` by default);
- ``KeyringToken``: the system keyring (service ``inboxlab-oauth``), when installed;
- ``CommandToken``: a command the user configures that prints a fresh access token on
  stdout (mbsync's ``PassCmd`` idea; ``oama``, ``mutt_oauth2.py`` and
  ``fakeserver token`` are such commands). It is re-run when the server rejects the
  token. A command that fails (exit status not 0) is a failed refresh: the grant behind
  it was revoked or expired, a person must reconnect the inbox (``TokenUnavailable``,
  ``oauth_grant_revoked``, permanent). One that hangs past its timeout is transient.

``TokenProvider`` caches the current token for every connection of the account and
refreshes it at most once per rejection: the account (``engine.account``) logs in,
and on ``TokenRejected`` asks for one refresh and retries once. A refresh that returns
the very token that was just rejected (a static env var or keyring entry) cannot help:
it is ``oauth_token_expired``, permanent. Nothing here loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
from collections.abc import Mapping
from typing import Protocol

from inboxlab.engine.errors import ConfigError, TokenUnavailable, truncate
from inboxlab.engine.oauth import MECHANISMS, Mechanism
from inboxlab.engine.secrets import KEYRING_SERVICE, Secret

TOKEN_ENV_VAR = "INBOXLAB_OAUTH_TOKEN"
TOKEN_KEYRING_SERVICE = KEYRING_SERVICE + "-oauth"
COMMAND_TIMEOUT = 30.0

_REVOKED_FIX = TokenUnavailable.revoked_fix


class TokenSource(Protocol):
    """Anything that hands out the current access token; ``origin`` is safe to log."""

    @property
    def origin(self) -> str: ...

    async def fetch(self) -> Secret: ...


class EnvToken:
    def __init__(self, var: str = TOKEN_ENV_VAR,
                 environ: Mapping[str, str] | None = None) -> None:
        self.var = var
        self._environ = environ

    @property
    def origin(self) -> str:
        return f"env {self.var}"

    async def fetch(self) -> Secret:
        value = (os.environ if self._environ is None else self._environ).get(self.var, "")
        if not value.strip():
            raise TokenUnavailable(f"no access token in ${self.var}", code="oauth_no_token",
                                   remediation=f"export {self.var} or configure a token "
                                   "command (--token-command)")
        return Secret(value.strip())

    def __repr__(self) -> str:
        return f"EnvToken({self.var!r})"


class KeyringToken:
    def __init__(self, username: str, service: str = TOKEN_KEYRING_SERVICE) -> None:
        self.username = username
        self.service = service

    @property
    def origin(self) -> str:
        return f"keyring {self.service}"

    async def fetch(self) -> Secret:
        try:
            import keyring
        except ImportError:
            raise TokenUnavailable("the keyring package is not installed", code="oauth_no_token",
                                   remediation="pip install keyring, or use --token-env / "
                                   "--token-command") from None
        try:
            value = await asyncio.to_thread(keyring.get_password, self.service, self.username)
        except Exception as exc:  # any backend failure: not available here
            raise TokenUnavailable(f"the keyring failed: {type(exc).__name__}",
                                   code="oauth_no_token") from None
        if not value:
            raise TokenUnavailable(f"no token for {self.username} in keyring {self.service!r}",
                                   code="oauth_no_token",
                                   remediation=f"keyring set {self.service} {self.username}")
        return Secret(value.strip())

    def __repr__(self) -> str:
        return f"KeyringToken({self.username!r}, {self.service!r})"


class CommandToken:
    """Run ``argv`` (no shell); its first stdout line is the token."""

    def __init__(self, argv: tuple[str, ...] | list[str], *,
                 timeout: float = COMMAND_TIMEOUT) -> None:
        if not argv or not all(isinstance(a, str) and a for a in argv):
            raise ConfigError("the token command is empty", code="oauth_token_command",
                              remediation="give the command and its arguments, e.g. "
                              "['oama', 'access', 'me@example.com']")
        self.argv = tuple(argv)
        self.timeout = timeout
        self.runs = 0

    @property
    def origin(self) -> str:
        return f"command {self.argv[0]}"

    async def fetch(self) -> Secret:
        self.runs += 1
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            raise ConfigError(f"the token command cannot run: {exc.strerror}",
                              code="oauth_token_command", stage="oauth_token",
                              remediation="check the token command's path") from None
        try:
            async with asyncio.timeout(self.timeout):
                out, err = await proc.communicate()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise TokenUnavailable(f"the token command gave no token within {self.timeout}s",
                                   code="oauth_token_timeout", permanent=False,
                                   remediation="the token endpoint is slow or unreachable; "
                                   "it will be retried") from None
        said = _last_line(err)
        if proc.returncode != 0:
            raise TokenUnavailable(
                f"the token command failed (exit status {proc.returncode}): the token "
                "could not be refreshed", server_text=said, remediation=_REVOKED_FIX)
        token = out.decode("utf-8", "replace").strip().splitlines()
        if not token or not token[0].strip():
            raise TokenUnavailable("the token command printed no token", server_text=said,
                                   remediation=_REVOKED_FIX)
        return Secret(token[0].strip())

    def __repr__(self) -> str:
        return f"CommandToken({self.argv[0]!r}, ...)"


def _last_line(err: bytes) -> str | None:
    """The command's last stderr line (its error, e.g. ``invalid_grant``), truncated."""
    lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
    return truncate(lines[-1].strip(), 200) if lines else None


class TokenProvider:
    """The account's access token: fetched once, shared, refreshed on demand."""

    def __init__(self, source: TokenSource, mechanism: Mechanism = "XOAUTH2") -> None:
        if mechanism not in MECHANISMS:
            raise ConfigError(f"unknown OAuth mechanism {mechanism!r}", code="config",
                              remediation="use XOAUTH2 or OAUTHBEARER")
        self.source = source
        self.mechanism: Mechanism = mechanism
        self.fetches = 0
        self.refreshes = 0
        self._token: Secret | None = None
        self._seen: list[Secret] = []  # for redaction of what this process wrote
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"TokenProvider({self.mechanism}, {self.source.origin})"

    async def token(self) -> Secret:
        """The current token (fetched on first use)."""
        async with self._lock:
            if self._token is None:
                self._token = await self._fetch()
            return self._token

    async def refresh(self, rejected: Secret | None) -> Secret:
        """A new token after ``rejected`` was refused. If another connection already
        refreshed since, its token is returned without asking the source again."""
        async with self._lock:
            if self._token is not None and rejected is not None and self._token != rejected:
                return self._token
            self.refreshes += 1
            self._token = None
            fresh = await self._fetch()
            if rejected is not None and fresh == rejected:
                raise TokenUnavailable(
                    f"the server rejected the access token and its source "
                    f"({self.source.origin}) has no newer one", code="oauth_token_expired",
                    remediation="configure a token command that refreshes the token "
                    "(--token-command), or reconnect the inbox in the CRM")
            self._token = fresh
            return fresh

    async def _fetch(self) -> Secret:
        self.fetches += 1
        token = await self.source.fetch()
        self._seen.append(token)
        return token

    def handed_out(self) -> tuple[str, ...]:
        """Every token this provider handed out, revealed: only for redacting what the
        process writes (bundles, traces), never to be stored."""
        return tuple(t.reveal() for t in self._seen)


def token_source(username: str, *, env_var: str | None = None,
                 command: tuple[str, ...] | list[str] | None = None,
                 use_keyring: bool = False) -> TokenSource:
    """The source the options name: a command wins, then the keyring, then the env var."""
    if command:
        return CommandToken(command)
    if use_keyring:
        return KeyringToken(username)
    return EnvToken(env_var or TOKEN_ENV_VAR)


def provider_from_options(username: str, mechanism: str | None, *,
                          token_command: str | None = None, token_env: str | None = None,
                          token_keyring: bool = False) -> TokenProvider | None:
    """The provider the command line asks for (``--oauth`` and its token source), or
    None for a password login. ``token_command`` is split like a shell would (no shell)."""
    if not mechanism:
        if token_command or token_env or token_keyring:
            raise ConfigError("a token source was given without --oauth", code="config",
                              remediation="add --oauth XOAUTH2 (or OAUTHBEARER)")
        return None
    argv = shlex.split(token_command) if token_command else None
    source = token_source(username, env_var=token_env, command=argv, use_keyring=token_keyring)
    return TokenProvider(source, mechanism.upper())  # type: ignore[arg-type]


__all__ = [
    "TOKEN_ENV_VAR",
    "TOKEN_KEYRING_SERVICE",
    "CommandToken",
    "EnvToken",
    "KeyringToken",
    "TokenProvider",
    "TokenSource",
    "provider_from_options",
    "token_source",
]
