"""Shared helpers for the diagnostics tests: scenario text, a served scenario, an account."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from scenario_text import USER, header

from inboxlab.engine.account import Account, AccountOptions
from inboxlab.engine.backoff import BackoffPolicy
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer
from inboxlab.fakeserver.scenario.load import loads
from inboxlab.fakeserver.scenario.serve import ScenarioServer

FAST_BACKOFF = BackoffPolicy(base_min=0.01, base_max=0.03, factor=1.5, cap=0.2,
                             short_session=60.0, strike_factor=2.0, strike_cap=0.5)


def scenario_text(password: str, *, profile: str = "dovecot", inbox: int = 20,
                  extra: str = "", server: str = "") -> str:
    return header(name="diag-test", seed=3, password=password, count=inbox, profile=profile,
                  server=server) + extra + "\n"


@contextlib.asynccontextmanager
async def served(text: str, **kw: Any) -> AsyncIterator[ScenarioServer]:
    kw.setdefault("control_port", None)
    kw.setdefault("smtp", False)
    async with ScenarioServer(loads(text), **kw) as srv:
        yield srv


def account_for(srv: ScenarioServer, password: str, tmp_path: Path, **options: Any) -> Account:
    settings = AccountSettings(username=USER, imap=ImapServer(srv.host, srv.port, "plain"))
    options.setdefault("backoff", FAST_BACKOFF)
    options.setdefault("connect_timeout", 5.0)
    options.setdefault("command_timeout", 10.0)
    return Account(settings, Secret(password), tmp_path / "engine.db", rng=random.Random(7),
                   options=AccountOptions(**options))
