"""What ``scenario run`` watches while it runs, and the checks that judge it.

``RunState`` collects what the engine did (errors with their time, catalogue facts,
deliveries, a sample of Message-IDs, warnings); each check of ``CHECKS`` reads it and
answers pass / fail, or None while it cannot tell yet. Apart from the run loop
(``harness.run``) so that adding a check never touches how a run is steered.

Which checks this answers (the format is fakeserver.scenario.model.EXPECT_CHECKS):
sent_folder, message_count, error, state, login_fails, reconnects, no_duplicates,
client_timeout, response, and the CRM's (``harness.crm_checks``). Unknown ones are
reported as skip by the runner, never as pass.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from inboxlab.engine.account import Account
from inboxlab.engine.diag.classify import Diagnosis, diagnose, diagnose_fact
from inboxlab.engine.errors import AuthFailed, TimedOut
from inboxlab.engine.roles import Role
from inboxlab.engine.states import State, StateChanged
from inboxlab.engine.supervise import AccountEvent, LargeFolderWarning, cause_matches
from inboxlab.engine.sync import ScannedMessage
from inboxlab.fakeserver.imap import mutf7
from inboxlab.fakeserver.scenario.expect import evaluate
from inboxlab.fakeserver.scenario.model import Expect
from inboxlab.fakeserver.scenario.serve import ScenarioServer
from inboxlab.harness import implicit
from inboxlab.harness.crm_checks import CRM_CHECKS, CrmFacts
from inboxlab.harness.crm_drive import SETTLE_POLLS, CrmDrive
from inboxlab.harness.report import Outcome, Status

MESSAGE_ID_SAMPLE = 5_000


class RunState:
    """What the checks look at while the scenario runs."""

    account: Account

    def __init__(self, srv: ScenarioServer, batch: int) -> None:
        self.srv = srv
        self.batch = batch
        self.began = time.monotonic()
        self.errors: list[tuple[float, BaseException]] = []
        self.facts: list[Diagnosis] = []  # catalogue causes of events (FolderGone...)
        self.deliveries: Counter[tuple[str, int, int]] = Counter()
        self.message_ids: set[bytes] = set()  # of scanned messages (a sample)
        self.warned: set[str] = set()
        self.watching_at_end = False
        self.mark = 0  # account.polls at the latest login
        self.nudges = 0  # reconnects the runner caused itself (not the scenario's doing)
        # The failure each nudge caused: never evidence for a check (a drop the runner made
        # must not pass "error cause=connection_reset" for a scenario that never drops).
        self.nudge_errors: list[tuple[float, BaseException]] = []
        self._nudging = False
        self.final = False
        self.crm: CrmDrive | None = None
        self.crm_facts: CrmFacts | None = None  # read once the run is over

    def nudge(self) -> None:
        """The runner is about to drop the connections itself: the next failure is its own."""
        self.nudges += 1
        self._nudging = True

    def on_event(self, event: AccountEvent) -> None:
        fact = diagnose_fact(event)
        if fact is not None:
            self.facts.append(fact)
        if isinstance(event, LargeFolderWarning):
            self.warned.add(event.folder)
        if isinstance(event, StateChanged):
            if event.error is not None:
                seen = (time.monotonic() - self.began, event.error)
                # what the runner's Close makes is a dropped connection; anything else
                # (a timeout, a refusal) met meanwhile is the scenario's own doing
                if self._nudging and diagnose(event.error).code == "connection_reset":
                    self._nudging = False
                    self.nudge_errors.append(seen)
                else:
                    self.errors.append(seen)
            if event.new is State.CONNECTED:
                self.mark = self.account.polls

    def sink(self, message: ScannedMessage) -> None:
        self.deliveries[(message.folder, message.uidvalidity, message.uid)] += 1
        found = implicit.message_id(message.headers)
        if found is not None and len(self.message_ids) < MESSAGE_ID_SAMPLE:
            self.message_ids.add(found)

    def is_settled(self) -> bool:
        if not self.account.running:
            return True
        return (self.account.state is State.IDLE
                and self.account.polls - self.mark >= SETTLE_POLLS
                and (self.crm is None or self.crm.settled(self.account.polls)))


Verdict = tuple[Status, str] | None


def _seen(run: RunState) -> str:
    codes = [f"{getattr(e, 'code', type(e).__name__)} (cause {diagnose(e).code})"
             for _, e in run.errors]
    return f"errors seen: {', '.join(codes) or 'none'}"


def _sent_folder(e: Expect, run: RunState) -> Verdict:
    choice = run.account.roles.get(Role.SENT)
    if choice is None:
        return ("fail", "the engine never listed the folders") if run.final else None
    want = str(e.get("folder"))
    status: Status = "pass" if choice.folder == want else "fail"
    return status, f"the engine chose {choice.folder!r}: {choice.reason}"


def _message_count(e: Expect, run: RunState) -> Verdict:
    if not run.final:
        return None
    folder, want = str(e.get("folder")), e.get("count")
    stats = {f.folder: f for f in run.account.stats.folders}
    have = stats[folder].messages if folder in stats else None
    status: Status = "pass" if have == want else "fail"
    return status, f"{folder}: the engine counts {have} messages (expected {want})"


def _error(e: Expect, run: RunState) -> Verdict:
    cause, permanent, code = str(e.get("cause")), e.get("permanent"), e.get("code")
    errors = run.errors[:1] if e.get("first") else run.errors
    if e.get("first") and errors:
        first = errors[0][1]
        if not cause_matches(first, cause) and diagnose(first).code != cause:
            return "fail", (f"the first failure was {getattr(first, 'code', '?')} (cause "
                            f"{diagnose(first).code}), not {cause}; {_seen(run)}")
    for _, err in errors:
        # The engine's own code, or the diagnostics catalogue's cause for the error.
        if cause_matches(err, cause):
            is_permanent = getattr(err, "permanent", None)
        else:
            found = diagnose(err)
            if found.code != cause:
                continue
            is_permanent = found.permanent
        if permanent is not None and is_permanent != permanent:
            continue
        if code is not None and str(code).upper() not in (
                str(getattr(err, "response_code", "") or "").upper(),
                str(getattr(err, "code", "")).upper()):
            continue
        return "pass", f"{err}"
    for fact in run.facts:
        if fact.code == cause and (permanent is None or fact.permanent == permanent):
            return "pass", f"{fact.message} ({fact.matched_by})"
    return ("fail", f"no {cause} error (permanent={permanent}); {_seen(run)}") \
        if run.final else None


def _state(e: Expect, run: RunState) -> Verdict:
    want = str(e.get("value"))
    reached = sorted(s.value for s in run.account.reached)
    if want in reached:
        return "pass", f"the engine reached {want!r}"
    return ("fail", f"the engine never reached {want!r} (reached: {', '.join(reached)})") \
        if run.final else None


def _login_fails(e: Expect, run: RunState) -> Verdict:
    code = e.get("code")
    for _, err in run.errors:
        if isinstance(err, AuthFailed) and (
                code is None or str(err.response_code or "").upper() == str(code).upper()):
            return "pass", f"the engine's login was refused: {err}"
    return ("fail", f"no refused login{f' with {code}' if code else ''}; {_seen(run)}") \
        if run.final else None


def _reconnects(e: Expect, run: RunState) -> Verdict:
    low, high = e.get("min"), e.get("max")
    n = max(0, run.account.reconnects - run.nudges)
    if high is None and low is not None and n >= int(low):
        return "pass", f"{n} reconnect(s)"
    if not run.final:
        return None
    ok = (low is None or n >= int(low)) and (high is None or n <= int(high))
    return ("pass" if ok else "fail"), (f"{n} reconnect(s) not caused by the runner, "
                                        f"expected {low}..{high or 'any'}")


def _logins(e: Expect, run: RunState) -> Verdict:
    """Login attempts the server saw (LOGIN or AUTHENTICATE, accepted or not): a bounded
    count is how "one refresh, one retry, never a storm" is checked."""
    if not run.final:
        return None
    low, high = e.get("min"), e.get("max")
    n = run.srv.runtime.counters["logins"]
    ok = (low is None or n >= int(low)) and (high is None or n <= int(high))
    return ("pass" if ok else "fail"), f"the server saw {n} login(s), expected " \
        f"{low or 0}..{high or 'any'}"


def _no_duplicates(e: Expect, run: RunState) -> Verdict:
    if not run.final:
        return None
    folder = str(e.get("folder"))
    server = next(v for v in evaluate(run.srv.scenario, run.srv.store) if v.expect is e)
    delivered = sum(n for (f, _, _), n in run.deliveries.items() if f == folder)
    if delivered == 0:  # nothing delivered proves nothing about duplicates
        return "fail", f"the engine delivered nothing from {folder!r}: nothing to judge"
    replays = sum(n - 1 for (f, _, _), n in run.deliveries.items() if f == folder)
    allowed = run.batch * max(1, run.account.reconnects)
    ok = server.ok is not False and replays <= allowed
    return ("pass" if ok else "fail"), (
        f"server: {server.detail}; the engine re-delivered {replays} message(s) after "
        f"failures (at most one batch per reconnect: {allowed})")


def _client_timeout(e: Expect, run: RunState) -> Verdict:
    within = float(e.get("within_s") or 30.0)
    for at, err in run.errors:
        # a silent TLS handshake (TCP accepted, no answer) is a client timeout too
        if isinstance(err, TimedOut) or getattr(err, "code", "") in ("connect_timeout",
                                                                     "tls_timeout"):
            status: Status = "pass" if at <= within else "fail"
            return status, f"timed out after {at:.1f}s (limit {within:g}s): {err}"
    return ("fail", f"no timeout; {_seen(run)}") if run.final else None


def _response(e: Expect, run: RunState) -> Verdict:
    text, code = str(e.get("text")), e.get("code")
    for _, err in run.errors:
        said = getattr(err, "server_text", None) or ""
        if text not in said:
            continue
        carried = getattr(err, "response_code", None)
        # a code asked for must be carried: an error without one does not match
        if code is not None and str(carried or "").upper() != str(code).upper():
            continue
        return "pass", f"the engine saw the server say {said!r}"
    return ("fail", f"the engine never saw {text!r}; {_seen(run)}") if run.final else None


def no_crash(run: RunState) -> Outcome:
    """Implicit in every run: every failure the engine met was typed (no stray exception)."""
    stray = [e for _, e in [*run.errors, *run.nudge_errors]
             if getattr(e, "code", "") == "unexpected"]
    if stray:
        return Outcome("no_crash", "", "fail", f"untyped failure(s): {stray[0]}")
    return Outcome("no_crash", "", "pass", f"{len(run.errors)} failure(s), all typed; "
                   f"states reached: {', '.join(sorted(s.value for s in run.account.reached))}")


def left_behind(run: RunState, where: Path, user: str, watching: bool) -> list[Outcome]:
    """The implicit checks on what the engine left: database, checkpoints, warnings."""
    store_account = run.srv.store.accounts.get(user)
    server: dict[str, int] = {}
    sizes: dict[str, int | None] = {}
    for stats in run.account.stats.folders:
        sizes[stats.folder] = stats.messages
    if store_account is not None:
        for folder in list(sizes) + [c.folder for c in run.account.roles.values() if c.folder]:
            found = store_account.folder(mutf7.encode(folder)) if folder else None
            if found is not None:
                server[folder] = found.uidvalidity
    return [
        implicit.nothing_stored(where / "engine.db", run.message_ids),
        implicit.checkpoints(where / "engine.db", run.account.name, server, watching),
        implicit.warnings(run.warned, sizes, run.account.options.large_folder),
    ]


def _crm(e: Expect, run: RunState) -> Verdict:
    """The CRM's checks, judged from its figures once the run is over."""
    return None if run.crm_facts is None else CRM_CHECKS[e.check](e, run.crm_facts)


CHECKS: dict[str, Callable[[Expect, RunState], Verdict]] = {
    "sent_folder": _sent_folder, "message_count": _message_count, "error": _error,
    "state": _state, "login_fails": _login_fails, "reconnects": _reconnects,
    "logins": _logins,
    "no_duplicates": _no_duplicates, "client_timeout": _client_timeout,
    "response": _response, **dict.fromkeys(CRM_CHECKS, _crm),
}


def judge(expects: tuple[Expect, ...], run: RunState, outcomes: dict[int, Outcome]) -> None:
    for i, e in enumerate(expects):
        if i not in outcomes:
            verdict = CHECKS[e.check](e, run)
            if verdict is not None:
                outcomes[i] = Outcome(e.check, params(e), *verdict, description=e.description)


def params(e: Expect) -> str:
    return " ".join(f"{k}={v}" for k, v in e.params)

