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
  hook (bodies read on the scanner's connection), its database is ``crm.db`` beside
  the engine's (which must stay free of mail). Sends start after the engine's first
  pass, through the scenario's SMTP server, with the Sent folder the engine chose
  and no hint about auto-save (the copier detects it). The run settles only once
  every send is done, no persona answer is pending and a few polls have passed.

Which checks this answers (the format is fakeserver.scenario.model.EXPECT_CHECKS):
sent_folder, message_count, error, state, login_fails, reconnects, no_duplicates,
client_timeout, response, and the CRM's (``tui.scenario_crm``). Unknown ones are
reported as skip, never as pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from engine.account import Account, AccountOptions
from engine.backoff import BackoffPolicy
from engine.crm.attachments import AttachmentStore
from engine.crm.inbox import InboxLogger
from engine.crm.ingest import Address
from engine.crm.outbox import Outbox
from engine.crm.records import CrmStore
from engine.crm.rules import LoggingRules
from engine.crm.send import SmtpSubmitter
from engine.crm.sentcopy import CopyPolicy, SentCopier
from engine.crm.summary import crm_summary, sent_copies, sent_message_ids
from engine.crm.templates import Template
from engine.db import Database
from engine.diag.classify import Diagnosis, diagnose, diagnose_event
from engine.errors import AuthFailed, EngineError, TimedOut
from engine.imap.client import ImapClient
from engine.imap.results import Credentials
from engine.roles import Role
from engine.secrets import Secret
from engine.settings import AccountSettings, ImapServer, SmtpServer
from engine.states import State, StateChanged
from engine.supervise import AccountEvent, LargeFolderWarning, cause_matches
from engine.sync import ScannedMessage
from fakeserver.imap import mutf7
from fakeserver.scenario.expect import evaluate
from fakeserver.scenario.model import Close, Expect, Scenario
from fakeserver.scenario.serve import ScenarioServer
from tui import scenario_implicit as implicit
from tui.scenario_crm import CRM_CHECKS, CrmFacts, copy_folders
from tui.scenario_report import Outcome, RunReport, Status, format_report

FULL_SCAN_LIMIT = 5_000
SETTLE_POLLS = 3  # timed polls after a login before the engine counts as settled
NOT_YET = 2**62  # a pass mark no account reaches: "not settled until the next login"
# Judged once the run is over, never early (so they do not end a run before its faults).
FINAL_ONLY = frozenset({"no_duplicates", "message_count", *CRM_CHECKS})
MESSAGE_ID_SAMPLE = 5_000
RUN_BACKOFF = BackoffPolicy(base_min=0.05, base_max=0.15, factor=1.5, cap=1.0,
                            short_session=60.0, strike_factor=2.0, strike_cap=2.0)
DETECT_WINDOW = 2.0  # s the Sent copier watches for the provider's own copy before APPEND


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
        self.crm: _Crm | None = None
        self.crm_facts: CrmFacts | None = None  # read once the run is over

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
                and self.account.polls - self.mark >= SETTLE_POLLS
                and (self.crm is None or self.crm.settled(self.account.polls)))


class _Crm:
    """The CRM of one run: logger on the account, the ``[[send]]`` blocks, the figures."""

    def __init__(self, srv: ScenarioServer, store: CrmStore) -> None:
        self.srv = srv
        self.store = store
        scenario = srv.scenario
        self.user, self.password = scenario.accounts[0].username, scenario.accounts[0].password
        self.templates = templates(scenario)
        self.names = {p.address.lower(): p.name for p in (
            scenario.smtp.personas if scenario.smtp else ())}
        self.logger = InboxLogger(store, LoggingRules(), [self.user])
        self.task: asyncio.Task[None] | None = None
        self.failures: list[str] = []
        self.sent = 0
        self.quiet_since: int | None = None  # account.polls when it last went quiet

    @classmethod
    async def open(cls, srv: ScenarioServer, where: Path) -> _Crm:
        db = await Database.open(where / "crm.db")
        crm = cls(srv, CrmStore(db, AttachmentStore(where / "files")))
        await crm.logger.refresh()
        return crm

    def sink_for(self, run: _Run) -> Callable[[ScannedMessage], Awaitable[None]]:
        """The account's sink: the run's own bookkeeping, then the CRM logger's."""
        async def sink(message: ScannedMessage) -> None:
            run.sink(message)
            await self.logger.sink(message)
        return sink

    async def _stop_sends(self) -> None:
        task = self.task
        if task is not None and not task.done():
            task.cancel()
            self.failures.append("the sends were still running at the deadline")
            await asyncio.gather(task, return_exceptions=True)

    async def close(self) -> None:
        await self._stop_sends()
        await self.store.db.close()

    async def connect(self) -> ImapClient:
        """A connection of its own (the Sent copier's, the final count of copies)."""
        assert self.srv.tls is not None
        client = ImapClient(self.srv.host, self.srv.tls_port, security="tls", timeout=10,
                            connect_timeout=5, ssl_context=self.srv.tls.client_context(),
                            tag_prefix="C")
        await client.connect()
        await client.login(Credentials(self.user, Secret(self.password)))
        return client

    def tick(self, account: Account) -> None:
        """Start the sends once the engine has synced and chosen its Sent folder."""
        if self.task is None and account.passes >= 1 and self.templates:
            choice = account.roles.get(Role.SENT)
            self.task = asyncio.create_task(self._send_all(choice.folder if choice else None),
                                            name="scenario run: CRM sends")

    def settled(self, polls: int) -> bool:
        smtp = self.srv.smtp
        quiet = (not self.templates or (self.task is not None and self.task.done())) and (
            smtp is None or smtp.personas is None or smtp.personas.waiting == 0)
        if not quiet or self.logger.pending:
            self.quiet_since = None
            return False
        if self.quiet_since is None:
            self.quiet_since = polls
        return polls - self.quiet_since >= SETTLE_POLLS

    async def _send_all(self, folder: str | None) -> None:
        assert self.srv.smtp is not None and self.srv.tls is not None
        if folder is None:
            self.failures.append("the engine chose no Sent folder: no copy is made")
        copier = None if folder is None else SentCopier(
            self.connect, folder, CopyPolicy(autosave=None, detect_window=DETECT_WINDOW))
        submitter = SmtpSubmitter(SmtpServer(self.srv.host, self.srv.smtp.port, "starttls"),
                                  self.user, Secret(self.password), timeout=10,
                                  tls_context=self.srv.tls.client_context())
        outbox = Outbox(self.store, submitter, copier, Address(self.user),
                        rng=random.Random(self.srv.scenario.seed))
        try:
            queued = []
            for send, template in zip(self.srv.scenario.sends, self.templates, strict=True):
                for address in send.to:
                    try:
                        cid = await self.store.upsert_contact(
                            address, self.names.get(address.lower(), ""))
                        contact = await self.store.contact(cid)
                        assert contact is not None
                        queued.append(await outbox.enqueue(template.render(contact),
                                                           contact_id=cid))
                    except EngineError as exc:
                        self.failures.append(f"{address}: {exc}")
            # Track the new Message-IDs before anything goes out: a persona that answers
            # at once must find its thread already known to the sink.
            await self.logger.refresh()
            for mid in queued:
                try:
                    await outbox.run(mid)
                    self.sent += 1
                except EngineError as exc:
                    self.failures.append(f"{mid}: {exc}")
        except Exception as exc:  # a run reports, it does not crash
            self.failures.append(f"{type(exc).__name__}: {exc}")
        finally:
            await submitter.close()
            if copier is not None:
                await copier.close()

    async def facts(self, expects: tuple[Expect, ...]) -> CrmFacts:
        await self._stop_sends()
        summary = await crm_summary(self.store)
        copies: dict[str, dict[str, int]] = {}
        folders = copy_folders(expects)
        if folders:
            try:
                ids = await sent_message_ids(self.store)
                client = await self.connect()
                try:
                    for folder in folders:
                        copies[folder] = (await sent_copies(client, folder, ids)).copies
                finally:
                    await client.close()
            except EngineError as exc:
                self.failures.append(f"counting the Sent copies failed: {exc}")
        return CrmFacts(
            {k.lower(): v for k, v in summary.logged_per_contact.items()}, summary.emails,
            summary.threads, summary.attachments_stored, summary.attachments_skipped,
            summary.flagged, summary.refused, summary.malformed, summary.outbox, copies,
            tuple(self.failures), self.sent)


def templates(scenario: Scenario) -> list[Template]:
    """The ``[[send]]`` blocks as CRM templates: a bad placeholder fails before any start."""
    return [Template(s.name or f"send {i + 1}", s.subject, s.body)
            for i, s in enumerate(scenario.sends)]


def wants_crm(scenario: Scenario) -> bool:
    return bool(scenario.sends) or any(e.check in CRM_CHECKS for e in scenario.expect)


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


def _crm(e: Expect, run: _Run) -> Verdict:
    """The CRM's checks, judged from its figures once the run is over."""
    return None if run.crm_facts is None else CRM_CHECKS[e.check](e, run.crm_facts)


CHECKS: dict[str, Callable[[Expect, _Run], Verdict]] = {
    "sent_folder": _sent_folder, "message_count": _message_count, "error": _error,
    "state": _state, "login_fails": _login_fails, "reconnects": _reconnects,
    "no_duplicates": _no_duplicates, "client_timeout": _client_timeout,
    "response": _response, **dict.fromkeys(CRM_CHECKS, _crm),
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
    templates(scenario)  # a bad placeholder is a TemplateError before anything starts
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
        async with ScenarioServer(scenario, control_port=None,
                                  smtp=bool(scenario.sends)) as srv:
            settings = AccountSettings(username=account_config.username,
                                       imap=ImapServer(srv.host, srv.tls_port, "tls"))
            options = AccountOptions(initial_scan=scan, poll_interval=0.3, idle_refresh=5.0,
                                     connect_timeout=3.0, command_timeout=5.0, batch=100,
                                     backoff=RUN_BACKOFF, cafile=str(srv.ca_pem_path))
            run = _Run(srv, options.batch)  # small batches: "nth FETCH" faults fire
            crm = run.crm = await _Crm.open(srv, where) if wants_crm(scenario) else None
            account = Account(settings, Secret(account_config.password), where / "engine.db",
                              rng=random.Random(scenario.seed), options=options,
                              sink=run.sink if crm is None else crm.sink_for(run),
                              tracked=None if crm is None else crm.logger.tracked_ids,
                              after_pass=None if crm is None else crm.logger.fetch_and_log)
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
                    if crm is not None:
                        crm.tick(account)
                    _judge(expects, run, outcomes)
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
            _judge(expects, run, outcomes)  # the CRM's checks, now that its figures are in
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
