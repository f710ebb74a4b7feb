"""Scenarios run exactly as written, and switching scenario resets every view."""

from __future__ import annotations

from textual.widgets import Sparkline, Static
from waiting import async_wait_until

from inboxlab.fakeserver.scenario.load import load
from inboxlab.fakeserver.scenario.model import Down
from inboxlab.harness.demo import send_plans
from inboxlab.scenarios import path_of
from inboxlab.tui import messages as m
from inboxlab.tui.app import InboxLabApp
from inboxlab.tui.bridge import EngineBridge


def test_the_demo_outage_and_send_are_written_in_demo_toml() -> None:
    demo = load(path_of("demo"))
    downs = [e for e in demo.timeline if isinstance(e.action, Down)]
    assert len(downs) == 1 and downs[0].action.seconds == 3
    (plan,) = send_plans(demo)
    assert plan.to == (("dana@acme.example", "Dana Buyer"),)
    other = load(path_of("no-special-use"))
    assert not send_plans(other) and not other.timeline  # nothing is added to it


async def test_switching_scenario_resets_every_view_and_adds_nothing() -> None:
    bridge = EngineBridge(scenario="demo", timeline=False)
    app = InboxLabApp(bridge, cursor_blink=False)
    async with app.run_test(size=(120, 40)):
        await async_wait_until(lambda: app.model.state and app.model.state.state == "idle"
                               and app.model.caps, timeout=20, what="the demo watching")
        await async_wait_until(lambda: app.crm_model.outbox, timeout=20,
                               what="the demo's [[send]] mail")
        app.post_message(m.ScanProgress(m.ProgressView("Archive", 10, 300, 500.0)))
        bridge.fire_fault("reset")
        await async_wait_until(lambda: app.model.incidents.items and app.model.rates,
                               timeout=10, what="an outage and a rate on the sparkline")
        old_caps = app.model.caps
        faults_before = len(bridge.fault_log)
        bridge.run_scenario("no-special-use")
        await async_wait_until(lambda: app.model.title == "scenario no-special-use",
                               timeout=15, what="the new scenario")
        assert not app.model.incidents.items and not app.model.disconnects
        assert not app.model.rates and "Archive" not in app.model.progress
        assert app.model.caps != old_caps or not app.model.caps
        await async_wait_until(lambda: app.model.state and app.model.state.state == "idle"
                               and app.model.caps, timeout=20, what="the new account watching")
        assert app.screen.query_one("#rate", Sparkline).data == [0.0]
        assert not app.screen.query("#p-Archive")
        assert "Outage" not in str(app.screen.query_one("#outage", Static).render())
        # Run as written: no [[send]] and no timeline in this scenario, so no send task
        # and no fault from the bridge.
        assert not any(t.get_name() == "sends" for t in bridge._tasks)
        assert len(bridge.fault_log) == faults_before
    bridge.stop()
