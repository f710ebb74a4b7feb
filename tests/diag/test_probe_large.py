"""The probe warns about a folder of 100,000 messages (exit 1), and says which and why."""

from __future__ import annotations

from pathlib import Path

from inboxlab.engine.diag.probe import probe
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer
from inboxlab.fakeserver.scenario.load import load
from inboxlab.fakeserver.scenario.serve import ScenarioServer

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


async def test_a_100k_sent_folder_is_a_warning() -> None:
    async with ScenarioServer(load(SCENARIOS / "exchange-100k-sent.toml"), control_port=None,
                              smtp=False) as srv:
        user = srv.scenario.accounts[0]
        settings = AccountSettings(username=user.username,
                                   imap=ImapServer(srv.host, srv.port, "plain"))
        report = await probe(settings, Secret(user.password))
    assert report.status == "warning" and report.exit_code == 1 and report.diagnosis is None
    status = report.step("status sent")
    assert status is not None and status.status == "warning"
    assert status.data["messages"] == 100_000 and "100,000" in status.summary
    inbox = report.step("status inbox")
    assert inbox is not None and inbox.status == "ok"
