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

- The CRM runs when a scenario sends (``[[send]]``) or checks it (``crm_*``,
  ``sent_copies``): its logger is the account's sink, tracked set and ``after_pass``
  hook (bodies read on the scanner's connection), driven by
  ``harness.crm_drive``. The run settles only once the CRM has too.

The checks themselves live in ``harness.checks``; an expectation no check answers
is reported as skip, never as pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
from pathlib import Path
from typing import Literal

from inboxlab.engine.account import Account, AccountOptions
from inboxlab.engine.backoff import BackoffPolicy
from inboxlab.engine.errors import ConfigError, EngineError
from inboxlab.engine.exitcodes import Exit
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer
from inboxlab.engine.states import State
from inboxlab.engine.tokens import CommandToken, TokenProvider
from inboxlab.fakeserver.config import AccountConfig
from inboxlab.fakeserver.scenario.model import Close, Scenario
from inboxlab.fakeserver.scenario.serve import ScenarioServer
from inboxlab.harness.checks import CHECKS, RunState, judge, left_behind, no_crash, params
from inboxlab.harness.crm_checks import CRM_CHECKS
from inboxlab.harness.crm_drive import CrmDrive, templates, wants_crm
from inboxlab.harness.report import Outcome, RunReport, format_report

FULL_SCAN_LIMIT = 5_000
NOT_YET = 2**62  # a pass mark no account reaches: "not settled until the next login"
# Judged once the run is over, never early (so they do not end a run before its faults).
FINAL_ONLY = frozenset({"no_duplicates", "message_count", "logins", *CRM_CHECKS})
RUN_BACKOFF = BackoffPolicy(base_min=0.05, base_max=0.15, factor=1.5, cap=1.0,
                            short_session=60.0, strike_factor=2.0, strike_cap=2.0)


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


def credential_for(srv: ScenarioServer, account: AccountConfig) -> Secret | TokenProvider:
    """The password, or (``login = "XOAUTH2"``/``"OAUTHBEARER"``) a provider whose token
    command asks the scenario's token endpoint, re-run on refresh like a real one."""
    if account.login == "password":
        return Secret(account.password)
    if srv.oauth is None:
        raise ConfigError(f"account {account.username} logs in with {account.login}, but the "
                          "server offers no OAuth mechanism", code="oauth_mechanism_missing",
                          remediation="set [server.capabilities] xoauth2 / oauthbearer = true")
    return TokenProvider(CommandToken(srv.token_command(account.username)),
                         account.login)  # type: ignore[arg-type]


async def run_scenario(scenario: Scenario, *, deadline: float = 30.0,
                       initial_scan: Literal["new", "full"] | None = None,
                       workdir: Path | None = None) -> RunReport:
    """Serve ``scenario``, run an Account against it, judge its expectations."""
    scan = initial_scan or choose_initial_scan(scenario)
    templates(scenario)  # a bad placeholder is a TemplateError before anything starts
    account_config = scenario.accounts[0]
    expects = scenario.expect
    outcomes: dict[int, Outcome] = {}
    for i, e in enumerate(expects):
        if e.check not in CHECKS:
            outcomes[i] = Outcome(e.check, params(e), "skip",
                                  "not a check the engine can answer", e.description)
    with contextlib.ExitStack() as stack:
        where = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(
            prefix="inboxlab-run-")))
        async with ScenarioServer(scenario, control_port=None,
                                  smtp=bool(scenario.sends)) as srv:
            settings = AccountSettings(username=account_config.username,
                                       imap=ImapServer(srv.host, srv.tls_port, "tls"))
            options = AccountOptions(initial_scan=scan, poll_interval=0.3, idle_refresh=5.0,
                                     connect_timeout=3.0, command_timeout=5.0, batch=100,
                                     backoff=RUN_BACKOFF, cafile=str(srv.ca_pem_path))
            run = RunState(srv, options.batch)  # small batches: "nth FETCH" faults fire
            crm = run.crm = await CrmDrive.open(srv, where) if wants_crm(scenario) else None
            account = Account(settings, credential_for(srv, account_config),
                              where / "engine.db",
                              rng=random.Random(scenario.seed), options=options,
                              sink=run.sink if crm is None else crm.sink_for(run.sink),
                              tracked=None if crm is None else crm.logger.tracked_ids,
                              after_pass=None if crm is None else crm.logger.fetch_and_log)
            run.account = account
            account.subscribe(run.on_event)
            others: list[ImapClient] = []
            limit = scenario.config.max_connections_per_user
            nudged = False
            try:
                if limit is not None and limit <= options.max_connections:
                    others = await _occupy(srv, account_config.username,
                                           account_config.password, limit - 1)
                await account.start()
                stop_at = time.monotonic() + deadline
                fired_seen, stall_until = 0, 0.0
                while True:
                    run.final = time.monotonic() >= stop_at
                    if len(srv.runtime.fired) != fired_seen:
                        fired_seen = len(srv.runtime.fired)
                        if srv.runtime.fired[-1].action == "Tarpit":
                            # a stalled command looks settled until the engine's timeout
                            # says otherwise: wait that long before judging it healthy
                            stall_until = time.monotonic() + options.command_timeout + 1.0
                    if not run.final and run.is_settled() and time.monotonic() >= stall_until:
                        open_checks = {e.check for i, e in enumerate(expects)
                                       if i not in outcomes}
                        fired = {r.event for r in srv.runtime.fired}
                        pending = [t for t in scenario.timeline if t.name not in fired]
                        if nudged or account.state is not State.IDLE or not (
                                open_checks - FINAL_ONLY or pending):
                            run.final = True
                        else:
                            nudged = True
                            run.nudge()
                            run.mark = NOT_YET  # settled again only after a new login
                            srv.runtime.fire(Close())
                    if crm is not None:
                        crm.tick(account)
                    judge(expects, run, outcomes)
                    if run.final or (expects and len(outcomes) == len(expects)):
                        break
                    await asyncio.sleep(0.05)
            finally:
                run.watching_at_end = account.state is State.IDLE
                await account.stop()
                for other in others:
                    await other.close()
                if crm is not None:
                    try:
                        run.crm_facts = await crm.facts(expects)
                    finally:
                        await crm.close()
            judge(expects, run, outcomes)  # the CRM's checks, now that its figures are in
            watching = run.watching_at_end
            report = RunReport(
                scenario=scenario.name,
                outcomes=(*(outcomes[i] for i in range(len(expects))), no_crash(run),
                          *left_behind(run, where, account_config.username, watching)),
                final_state=account.state.value if account.last_error is None
                else f"{account.state.value} ({account.last_error.code})",
                server_logins=srv.runtime.counters["logins"], reconnects=account.reconnects,
                seconds=time.monotonic() - run.began, nudged=nudged, initial_scan=scan,
                fired=tuple(r.event for r in srv.runtime.fired))
    return report


def run_main(file: str, *, deadline: float = 30.0, initial_scan: str | None = None,
             keep_db: str | None = None) -> int:
    """The CLI: 0 all passed (or skipped), 2 a check failed, 3 the scenario is unusable
    (``engine.exitcodes``)."""
    from inboxlab.fakeserver.errors import ScenarioError
    from inboxlab.fakeserver.scenario.load import load
    from inboxlab.scenarios import path_of

    try:
        scenario = load(path_of(file))
    except (ScenarioError, FileNotFoundError, OSError) as exc:
        print(f"error: {exc}")
        return Exit.USAGE
    scan = initial_scan if initial_scan in ("new", "full") else None
    workdir = None
    if keep_db is not None:
        workdir = Path(keep_db).expanduser()
        try:
            workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            print(f"error: --keep-db {keep_db}: {exc}")
            return Exit.USAGE
    try:
        report = asyncio.run(run_scenario(
            scenario, deadline=deadline, initial_scan=scan,  # type: ignore[arg-type]
            workdir=workdir))
    except EngineError as exc:
        print(f"error: {exc}")
        return Exit.USAGE
    print(format_report(report))
    if workdir is not None:
        print(f"kept: {workdir / 'engine.db'}, {workdir / 'crm.db'} and {workdir / 'files'}")
    return Exit.FAILED if report.failed else Exit.OK


__all__ = ["CHECKS", "Outcome", "RunReport", "choose_initial_scan", "format_report",
           "run_main", "run_scenario"]
