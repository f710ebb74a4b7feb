"""What ``scenario run`` reports: one outcome per check, and the run as a whole.

Plain data and its text form, shared by the runner (``harness.run``), its implicit
checks (``harness.implicit``) and anything that shows a run (the TUI's scenarios
screen); no engine import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class Outcome:
    check: str
    params: str
    status: Status
    detail: str
    description: str = ""


@dataclass(frozen=True)
class RunReport:
    scenario: str
    outcomes: tuple[Outcome, ...]
    final_state: str
    server_logins: int
    reconnects: int
    seconds: float
    nudged: bool
    initial_scan: str
    fired: tuple[str, ...] = ()  # the timeline events that fired, in order

    @property
    def failed(self) -> bool:
        return any(o.status == "fail" for o in self.outcomes)


def format_report(report: RunReport) -> str:
    lines = [f"scenario {report.scenario}: initial_scan={report.initial_scan}, "
             f"{report.seconds:.1f}s, logins seen by the server {report.server_logins}, "
             f"reconnects {report.reconnects}, last state {report.final_state}"
             + (", nudged (connections dropped once)" if report.nudged else "")]
    if report.fired:
        lines.append(f"  faults fired: {', '.join(report.fired)}")
    for o in report.outcomes:
        lines.append(f"  {o.status.upper():4}  {o.check} {o.params}".rstrip())
        lines.append(f"        {o.detail}")
    passed = sum(o.status == "pass" for o in report.outcomes)
    lines.append(f"{'FAIL' if report.failed else 'OK'}: {passed} passed, "
                 f"{sum(o.status == 'fail' for o in report.outcomes)} failed, "
                 f"{sum(o.status == 'skip' for o in report.outcomes)} skipped")
    return "\n".join(lines)


__all__ = ["Outcome", "RunReport", "Status", "format_report"]
