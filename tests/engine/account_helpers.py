"""Shared helpers for the account tests: settings for a loopback server, an event recorder."""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inboxlab.engine.account import Account, AccountOptions
from inboxlab.engine.backoff import BackoffPolicy
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer
from inboxlab.engine.supervise import AccountEvent
from inboxlab.engine.sync import ScannedMessage

FAST_BACKOFF = BackoffPolicy(base_min=0.01, base_max=0.03, factor=1.5, cap=0.2,
                             short_session=60.0, strike_factor=2.0, strike_cap=0.5)


def settings_for(host: str, port: int, user: str, security: str = "plain") -> AccountSettings:
    return AccountSettings(username=user, imap=ImapServer(host, port, security))  # type: ignore[arg-type]


class Recorder:
    """Collects account events, traces and scanned messages for assertions."""

    def __init__(self) -> None:
        self.events: list[AccountEvent] = []
        self.traces: list[tuple[str, Mapping[str, Any]]] = []
        self.messages: list[ScannedMessage] = []

    def event(self, event: AccountEvent) -> None:
        self.events.append(event)

    def trace(self, name: str, info: Mapping[str, Any]) -> None:
        self.traces.append((name, info))

    def sink(self, message: ScannedMessage) -> None:
        self.messages.append(message)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def named(self, name: str) -> list[Mapping[str, Any]]:
        return [info for n, info in self.traces if n == name]

    def subjects(self) -> list[bytes]:
        return [line for m in self.messages for line in m.headers.split(b"\r\n")
                if line.lower().startswith(b"subject:")]


def make_account(settings: AccountSettings, password: str, tmp_path: Path, rec: Recorder,
                 *, db_name: str = "engine.db", **options: Any) -> Account:
    kwargs: dict[str, Any] = {}
    for key in ("ssl_context", "tracked", "clock", "sleep"):
        if key in options:
            kwargs[key] = options.pop(key)
    options.setdefault("backoff", FAST_BACKOFF)
    options.setdefault("connect_timeout", 5.0)
    options.setdefault("command_timeout", 10.0)
    account = Account(settings, Secret(password), tmp_path / db_name, rng=random.Random(7),
                      trace=rec.trace, sink=rec.sink, options=AccountOptions(**options),
                      **kwargs)
    account.subscribe(rec.event)
    return account
