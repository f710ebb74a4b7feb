"""The fault plan without sockets: order, counts, and the words the server will say."""

from __future__ import annotations

from inboxlab.fakeserver.smtp.config import SmtpFault
from inboxlab.fakeserver.smtp.faults import FaultPlan


def test_faults_fire_in_order_and_count_down() -> None:
    plan = FaultPlan((SmtpFault("451", "rcpt", times=2), SmtpFault("421", "rcpt")))
    fired = [plan.take("rcpt") for _ in range(4)]
    assert [f.kind if f else None for f in fired] == ["451", "451", "421", None]
    assert [f.kind for f in plan.fired] == ["451", "451", "421"]
    assert plan.pending() == ()


def test_stages_are_independent() -> None:
    plan = FaultPlan((SmtpFault("535", "auth"),))
    assert plan.take("mail") is None
    assert plan.pending("auth") == (SmtpFault("535", "auth"),)
    fired = plan.take("auth")
    assert fired is not None and fired.reply.startswith("535 5.7.8")
    assert not fired.transient and not fired.closes


def test_scenario_words_replace_the_default() -> None:
    plan = FaultPlan()
    plan.arm(SmtpFault("421", "connect", message="4.7.0 Try again later, closing connection."))
    fired = plan.take("connect")
    assert fired is not None
    assert fired.reply == "421 4.7.0 Try again later, closing connection."
    assert fired.closes


def test_clear_forgets_pending_but_keeps_history() -> None:
    plan = FaultPlan((SmtpFault("451", "data"), SmtpFault("552", "data")))
    plan.take("data")
    plan.clear()
    assert plan.take("data") is None
    assert [f.kind for f in plan.fired] == ["451"]
