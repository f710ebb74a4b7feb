"""``inboxlab scenario run FILE``: the engine, headless, against a served scenario.

The scenario's fake servers start in-process (allowed here: ``tui`` sees both rooms,
never Textual in this module), an ``engine.account.Account`` connects to them over
loopback with implicit TLS (trusting the scenario's throwaway CA), and the run lasts
until every ``[[expect]]`` block is decided or the deadline passes. Each block gets
pass / fail / skip with what was seen; the exit status is non-zero on any fail.

How a run is steered, and why:

- ``initial_scan`` is "full" (every header, so FETCH faults fire) unless a folder is
  bigger than ``FULL_SCAN_LIMIT``; the 100k scenarios start at UIDNEXT.
- A scenario whose server allows fewer connections than the engine's budget models
  the person's other mail programs: the runner holds ``limit - 1`` logged-in sessions,
  so the engine's second login meets the provider's refusal.
- Faults that need a *later* login (password changed while connected, UIDVALIDITY
  changed at the next SELECT) would never show in a short run of a healthy session;
  once the engine has settled with expectations still open, the runner drops every
  connection once (a network blip) and watches the engine reconnect. The report
  says so ("nudged").

Which checks this answers (the format is fakeserver.scenario.model.EXPECT_CHECKS):
sent_folder, message_count, error, state, login_fails, reconnects, no_duplicates,
client_timeout, response. Unknown ones are reported as skip, never as pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from engine.account import Account, AccountOptions
from engine.backoff import BackoffPolicy
from engine.diag.classify import Diagnosis, diagnose, diagnose_event
from engine.errors import AuthFailed, EngineError, TimedOut
from engine.imap.client import ImapClient
from engine.imap.results import Credentials
from engine.roles import Role
from engine.secrets import Secret
from engine.settings import AccountSettings, ImapServer
from engine.states import State, StateChanged
from engine.supervise import AccountEvent, LargeFolderWarning, cause_matches
from engine.sync import ScannedMessage
from fakeserver.imap import mutf7
from fakeserver.scenario.expect import evaluate
from fakeserver.scenario.model import Close, Expect, Scenario
from fakeserver.scenario.serve import ScenarioServer
from tui import scenario_implicit as implicit
from tui.scenario_report import Outcome, RunReport, Status, format_report

FULL_SCAN_LIMIT = 5_000
SETTLE_POLLS = 3  # timed polls after a login before the engine counts as settled
NOT_YET = 2**62  # a pass mark no account reaches: "not settled until the next login"
# Judged once the run is over, never early (so they do not end a run before its faults).
FINAL_ONLY = frozenset({"no_duplicates", "message_count"})
MESSAGE_ID_SAMPLE = 5_000
RUN_BACKOFF = BackoffPolicy(base_min=0.05, base_max=0.15, factor=1.5, cap=1.0,
                            short_session=60.0, strike_factor=2.0, strike_cap=2.0)



class _Run:
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
        self.final = False

    def on_event(self, event: AccountEvent) -> None:
        if isinstance(event, LargeFolderWarning):
            self.warned.add(event.folder)
        if isinstance(event, StateChanged):
            if event.error is not None:
                self.errors.append((time.monotonic() - self.began, event.error))
            if event.new is State.CONNECTED:
                self.mark = self.account.polls

    def on_trace(self, name: str, info: Mapping[str, Any]) -> None:
        found = diagnose_event(name, info)
        if found is not None:
            self.facts.append(found)

    def sink(self, message: ScannedMessage) -> None:
        self.deliveries[(message.folder, message.uidvalidity, message.uid)] += 1
        found = implicit.message_id(message.headers)
        if found is not None and len(self.message_ids) < MESSAGE_ID_SAMPLE:
            self.message_ids.add(found)

    def is_settled(self) -> bool:
        if not self.account.running:
            return True
        return (self.account.state is State.IDLE
                and self.account.polls - self.mark >= SETTLE_POLLS)


Verdict = tuple[Status, str] | None


def _seen(run: _Run) -> str:
    codes = [f"{getattr(e, 'code', type(e).__name__)} (cause {diagnose(e).code})"
             for _, e in run.errors]
    return f"errors seen: {', '.join(codes) or 'none'}"


def _sent_folder(e: Expect, run: _Run) -> Verdict:
    choice = run.account.roles.get(Role.SENT)
    if choice is None:
        return ("fail", "the engine never listed the folders") if run.final else None
    want = str(e.get("folder"))
    status: Status = "pass" if choice.folder == want else "fail"
    return status, f"the engine chose {choice.folder!r}: {choice.reason}"


def _message_count(e: Expect, run: _Run) -> Verdict:
    if not run.final:
        return None
    folder, want = str(e.get("folder")), e.get("count")
    stats = {f.folder: f for f in run.account.stats.folders}
    have = stats[folder].messages if folder in stats else None
    status: Status = "pass" if have == want else "fail"
    return status, f"{folder}: the engine counts {have} messages (expected {want})"


def _error(e: Expect, run: _Run) -> Verdict:
    cause, permanent, code = str(e.get("cause")), e.get("permanent"), e.get("code")
    for _, err in run.errors:
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


def _state(e: Expect, run: _Run) -> Verdict:
    want = str(e.get("value"))
    reached = sorted(s.value for s in run.account.reached)
    if want in reached:
        return "pass", f"the engine reached {want!r}"
    return ("fail", f"the engine never reached {want!r} (reached: {', '.join(reached)})") \
        if run.final else None


def _login_fails(e: Expect, run: _Run) -> Verdict:
    code = e.get("code")
    for _, err in run.errors:
        if isinstance(err, AuthFailed) and (
                code is None or str(err.response_code or "").upper() == str(code).upper()):
            return "pass", f"the engine's login was refused: {err}"
    return ("fail", f"no refused login{f' with {code}' if code else ''}; {_seen(run)}") \
        if run.final else None


def _reconnects(e: Expect, run: _Run) -> Verdict:
    low, high = e.get("min"), e.get("max")
    n = max(0, run.account.reconnects - run.nudges)
    if high is None and low is not None and n >= int(low):
        return "pass", f"{n} reconnect(s)"
    if not run.final:
        return None
    ok = (low is None or n >= int(low)) and (high is None or n <= int(high))
    return ("pass" if ok else "fail"), (f"{n} reconnect(s) not caused by the runner, "
                                        f"expected {low}..{high or 'any'}")


def _no_duplicates(e: Expect, run: _Run) -> Verdict:
    if not run.final:
        return None
    folder = str(e.get("folder"))
    server = next(v for v in evaluate(run.srv.scenario, run.srv.store) if v.expect is e)
    replays = sum(n - 1 for (f, _, _), n in run.deliveries.items() if f == folder)
    allowed = run.batch * max(1, run.account.reconnects)
    ok = server.ok is not False and replays <= allowed
    return ("pass" if ok else "fail"), (
        f"server: {server.detail}; the engine re-delivered {replays} message(s) after "
        f"failures (at most one batch per reconnect: {allowed})")


def _client_timeout(e: Expect, run: _Run) -> Verdict:
    within = float(e.get("within_s") or 30.0)
    for at, err in run.errors:
        if isinstance(err, TimedOut) or getattr(err, "code", "") == "connect_timeout":
            status: Status = "pass" if at <= within else "fail"
            return status, f"timed out after {at:.1f}s (limit {within:g}s): {err}"
    return ("fail", f"no timeout; {_seen(run)}") if run.final else None


def _response(e: Expect, run: _Run) -> Verdict:
    text, code = str(e.get("text")), e.get("code")
    for _, err in run.errors:
        said = getattr(err, "server_text", None) or ""
        if text not in said:
            continue
        carried = getattr(err, "response_code", None)
        if code is not None and carried is not None and str(carried).upper() != str(code):
            continue
        return "pass", f"the engine saw the server say {said!r}"
    return ("fail", f"the engine never saw {text!r}; {_seen(run)}") if run.final else None


def _no_crash(run: _Run) -> Outcome:
    """Implicit in every run: every failure the engine met was typed (no stray exception)."""
    stray = [e for _, e in run.errors if getattr(e, "code", "") == "unexpected"]
    if stray:
        return Outcome("no_crash", "", "fail", f"untyped failure(s): {stray[0]}")
    return Outcome("no_crash", "", "pass", f"{len(run.errors)} failure(s), all typed; "
                   f"states reached: {', '.join(sorted(s.value for s in run.account.reached))}")


def _left_behind(run: _Run, where: Path, user: str, watching: bool) -> list[Outcome]:
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
        implicit.nothing_stored(sorted(where.glob("engine.db*")), run.message_ids),
        implicit.checkpoints(where / "engine.db", run.account.name, server, watching),
        implicit.warnings(run.warned, sizes, run.account.options.large_folder),
    ]


CHECKS: dict[str, Callable[[Expect, _Run], Verdict]] = {
    "sent_folder": _sent_folder, "message_count": _message_count, "error": _error,
    "state": _state, "login_fails": _login_fails, "reconnects": _reconnects,
    "no_duplicates": _no_duplicates, "client_timeout": _client_timeout,
    "response": _response,
}


def _judge(expects: tuple[Expect, ...], run: _Run, outcomes: dict[int, Outcome]) -> None:
    for i, e in enumerate(expects):
        if i not in outcomes:
            verdict = CHECKS[e.check](e, run)
            if verdict is not None:
                outcomes[i] = Outcome(e.check, _params(e), *verdict, description=e.description)


def _params(e: Expect) -> str:
    return " ".join(f"{k}={v}" for k, v in e.params)


def choose_initial_scan(scenario: Scenario) -> Literal["new", "full"]:
    sizes = [f.generated.count + len(f.messages) if f.generated else len(f.messages)
             for a in scenario.accounts for f in a.folders]
    return "full" if max(sizes, default=0) <= FULL_SCAN_LIMIT else "new"


async def _occupy(srv: ScenarioServer, user: str, password: str, n: int) -> list[ImapClient]:
    """The person's other mail programs: ``n`` logged-in sessions held for the run."""
    others: list[ImapClient] = []
    for _ in range(n):
        other = ImapClient(srv.host, srv.port, security="plain", timeout=5, connect_timeout=5,
                           tag_prefix="O")
        await other.connect()
        await other.login(Credentials(user, password))
        others.append(other)
    return others


async def run_scenario(scenario: Scenario, *, deadline: float = 30.0,
                       initial_scan: Literal["new", "full"] | None = None,
                       workdir: Path | None = None) -> RunReport:
    """Serve ``scenario``, run an Account against it, judge its expectations."""
    scan = initial_scan or choose_initial_scan(scenario)
    account_config = scenario.accounts[0]
    expects = scenario.expect
    outcomes: dict[int, Outcome] = {}
    for i, e in enumerate(expects):
        if e.check not in CHECKS:
            outcomes[i] = Outcome(e.check, _params(e), "skip",
                                  "not a check the engine can answer", e.description)
    with contextlib.ExitStack() as stack:
        where = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(
            prefix="inboxlab-run-")))
        async with ScenarioServer(scenario, control_port=None, smtp=False) as srv:
            settings = AccountSettings(username=account_config.username,
                                       imap=ImapServer(srv.host, srv.tls_port, "tls"))
            options = AccountOptions(initial_scan=scan, poll_interval=0.3, idle_refresh=5.0,
                                     connect_timeout=3.0, command_timeout=5.0, batch=100,
                                     backoff=RUN_BACKOFF, cafile=str(srv.ca_pem_path))
            run = _Run(srv, options.batch)  # small batches: "nth FETCH" faults fire
            account = Account(settings, Secret(account_config.password), where / "engine.db",
                              rng=random.Random(scenario.seed), options=options,
                              sink=run.sink)
            run.account = account
            account.subscribe(run.on_event)
            account.hub.subscribe(run.on_trace)
            others: list[ImapClient] = []
            limit = scenario.config.max_connections_per_user
            nudged = False
            try:
                if limit is not None and limit <= options.max_connections:
                    others = await _occupy(srv, account_config.username,
                                           account_config.password, limit - 1)
                await account.start()
                stop_at = time.monotonic() + deadline
                while True:
                    run.final = time.monotonic() >= stop_at
                    if not run.final and run.is_settled():
                        open_checks = {e.check for i, e in enumerate(expects)
                                       if i not in outcomes}
                        fired = {r.event for r in srv.runtime.fired}
                        pending = [t for t in scenario.timeline if t.name not in fired]
                        if nudged or account.state is not State.IDLE or not (
                                open_checks - FINAL_ONLY or pending):
                            run.final = True
                        else:
                            nudged = True
                            run.nudges += 1
                            run.mark = NOT_YET  # settled again only after a new login
                            srv.runtime.fire(Close())
                    _judge(expects, run, outcomes)
                    if run.final or (expects and len(outcomes) == len(expects)):
                        break
                    await asyncio.sleep(0.05)
            finally:
                run.watching_at_end = account.state is State.IDLE
                await account.stop()
                for other in others:
                    await other.close()
            watching = run.watching_at_end
            report = RunReport(
                scenario=scenario.name,
                outcomes=(*(outcomes[i] for i in range(len(expects))), _no_crash(run),
                          *_left_behind(run, where, account_config.username, watching)),
                final_state=account.state.value if account.last_error is None
                else f"{account.state.value} ({account.last_error.code})",
                server_logins=srv.runtime.counters["logins"], reconnects=account.reconnects,
                seconds=time.monotonic() - run.began, nudged=nudged, initial_scan=scan,
                fired=tuple(r.event for r in srv.runtime.fired))
    return report


def run_main(file: str, *, deadline: float = 30.0, initial_scan: str | None = None) -> int:
    """The CLI: 0 all passed (or skipped), 1 a check failed, 2 the scenario is unusable."""
    from fakeserver.errors import ScenarioError
    from fakeserver.scenario.load import load
    from scenarios import path_of

    try:
        scenario = load(path_of(file))
    except (ScenarioError, FileNotFoundError, OSError) as exc:
        print(f"error: {exc}")
        return 2
    scan = initial_scan if initial_scan in ("new", "full") else None
    try:
        report = asyncio.run(run_scenario(scenario, deadline=deadline,
                                          initial_scan=scan))  # type: ignore[arg-type]
    except EngineError as exc:
        print(f"error: {exc}")
        return 2
    print(format_report(report))
    return 1 if report.failed else 0


__all__ = ["CHECKS", "Outcome", "RunReport", "choose_initial_scan", "format_report",
           "run_main", "run_scenario"]
