"""``EngineBridge``: the one object the App holds to reach the engine.

It is three jobs stacked, each in its own module: the loop owner (``loop.EngineLoop``:
the engine thread, ``submit``/``post``/``spawn``), the account adapter
(``account.AccountSide``: the account and its CRM, engine events -> ``tui.messages``;
``browse_side`` adds the folder browser's connections) and the demo director
(``demo.DemoSide``: the bundled fake servers, scripted mail, faults). This module only
says what runs first and what stops last.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from inboxlab.engine.backoff import BackoffPolicy
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings
from inboxlab.engine.tokens import TokenProvider
from inboxlab.tui import messages as m
from inboxlab.tui.bridge.account import account_dir
from inboxlab.tui.bridge.crm import BccConfig
from inboxlab.tui.bridge.demo import DemoSide


class EngineBridge(DemoSide):
    """Owns the engine thread. ``scenario`` serves the demo's fake servers in-process;
    ``settings``/``secret`` drive a real mailbox instead. ``backoff``: the account's
    reconnect schedule (None: the engine's default)."""

    def __init__(
        self,
        *,
        scenario: str | None = "demo",
        settings: AccountSettings | None = None,
        secret: Secret | TokenProvider | None = None,
        timeline: bool = True,
        sends: bool = True,
        data_dir: Path | None = None,
        cafile: str | None = None,
        seed: int = 1,
        bcc: BccConfig | None = None,
        backoff: BackoffPolicy | None = None,
    ) -> None:
        super().__init__(scenario=scenario, timeline=timeline, sends=sends, settings=settings,
                         secret=secret, data_dir=data_dir, cafile=cafile, seed=seed, bcc=bcc)
        if backoff is not None:
            self.backoff = backoff

    async def _shutdown(self) -> None:
        await self._stop_account()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.servers is not None:
            await self.servers.stop()
            self.servers = None

    async def _main(self) -> None:
        if self.scenario is not None:
            await self._start_scenario(self.scenario)
        elif self.settings is not None:
            self.post(m.Endpoint(self.settings.username, self.settings.imap.url()))
            await self._start_account(self.settings, self._secret or Secret(""))


__all__ = ["EngineBridge", "account_dir"]
