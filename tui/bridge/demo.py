"""The bridge's demo director: the bundled fake servers on the engine loop, the scenario's
scripted mail, faults fired from the Scenarios screen, and switching scenarios.

The servers themselves are ``harness.demo`` (which sees ``fakeserver`` only); this side
starts the demo's account on them and tells the UI what happened. Whether a mailbox is
the demo's is the director's own knowledge (``Endpoints.serves``: one of the addresses
its servers listen on), never a guess from a host name.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer, SmtpServer
from inboxlab.engine.tokens import TokenProvider
from inboxlab.harness.demo import FAULTS, DemoServers, Endpoints, list_scenarios
from inboxlab.tui import messages as m
from inboxlab.tui.bridge.account import AccountSide
from inboxlab.tui.bridge.crm import BccConfig

# A scenario's [[send]] mail goes out this long after the account settles, so a newcomer
# sees the steady state (2 of 5 connections) before the CRM borrows connections to send.
SENDS_AFTER = 2.0


class DemoSide(AccountSide):
    """Runs a bundled scenario (``scenario``) as written: its ``[[timeline]]`` (the demo's
    outage) and its ``[[send]]`` mail; ``timeline=False`` and ``sends=False`` leave
    them out (tests that want a quiet server)."""

    def __init__(self, *, scenario: str | None, timeline: bool, sends: bool,
                 settings: AccountSettings | None, secret: Secret | TokenProvider | None,
                 data_dir: Path | None, cafile: str | None, seed: int,
                 bcc: BccConfig | None) -> None:
        super().__init__(settings=settings, secret=secret, data_dir=data_dir, cafile=cafile,
                         seed=seed, bcc=bcc)
        self.scenario = scenario if settings is None else None
        self.timeline = timeline
        self.sends = sends
        self.servers: DemoServers | None = None
        self.endpoints: Endpoints | None = None
        self.fault_log: list[tuple[str, dict[str, Any]]] = []

    def _serves(self, settings: AccountSettings) -> bool:
        ends = self.endpoints
        return self.servers is not None and ends is not None \
            and ends.serves(settings.imap.host, settings.imap.port)

    async def _start_scenario(self, name: str) -> bool:
        if self.servers is not None:
            await self.servers.stop()
        self.servers = DemoServers(name, timeline=self.timeline)
        try:
            ends = await self.servers.start()
        except Exception as exc:
            self.servers = None
            self.post(m.EngineFailed(f"scenario {name}", str(exc)))
            return False
        self.endpoints = ends
        self._cafile = ends.ca_file
        self.post(m.Endpoint(f"scenario {ends.scenario}",
                             f"{ends.description} - fake servers on {ends.host}:{ends.imaps_port}"))
        smtp = None if ends.smtps_port is None else SmtpServer(ends.host, ends.smtps_port, "tls")
        settings = AccountSettings(
            username=ends.username, imap=ImapServer(ends.host, ends.imaps_port, "tls"), smtp=smtp)
        await self._start_account(settings, Secret(ends.password), lab=True)
        if self.sends and ends.sends:
            self.spawn(self._scenario_sends(ends), "sends")
        return True

    async def _scenario_sends(self, ends: Endpoints) -> None:
        """The scenario's [[send]] blocks: templated mail from a record, once settled."""
        assert self._settled is not None
        await self._settled.wait()
        await asyncio.sleep(SENDS_AFTER)  # pacing: the dashboard settles first
        self._follow_sent_role()
        for plan in ends.sends:
            await self.crm.scenario_send(plan.name, plan.subject, plan.body, plan.to)

    def run_scenario(self, name: str) -> concurrent.futures.Future[bool]:
        return self.submit(self._switch_scenario(name))

    async def _switch_scenario(self, name: str) -> bool:
        await self._stop_account()
        self.post(m.ViewsReset())  # after the old account's last message, before the new
        self.scenario = name
        ok = await self._start_scenario(name)
        self.post(m.ScenarioDone(name, (f"serving {name}",) if ok else (), ok))
        return ok

    def fire_fault(self, name: str) -> concurrent.futures.Future[dict[str, Any]]:
        return self.submit(self._fire(name, FAULTS[name]))

    def fire_action(self, action: Mapping[str, Any]) -> concurrent.futures.Future[dict[str, Any]]:
        """Any action table the control endpoint takes (it validates; errors come back)."""
        return self.submit(self._fire(str(action.get("type", "?")), dict(action)))

    async def _fire(self, name: str, action: Mapping[str, Any]) -> dict[str, Any]:
        if self.servers is None:
            reply: dict[str, Any] = {"error": "no scenario is running"}
        else:
            reply = await self.servers.fire(action)
        self.fault_log.append((name, reply))
        self._on_trace("control.fault", {"fault": name, "reply": reply})
        self.post(m.FaultResult(name, reply))
        return reply

    def scenarios(self) -> list[m.ScenarioView]:
        return [m.ScenarioView(i.name, i.description, i.profile, i.error)
                for i in list_scenarios()]

    def faults(self) -> list[str]:
        return list(FAULTS)


__all__ = ["SENDS_AFTER", "DemoSide"]
