"""The headless probe behind ``inboxlab diagnose``: one step at a time, stop at the first failure.

DNS -> TCP -> TLS (certificate subject, issuer, expiry, names) -> greeting (POP3 and
Courier recognised) -> CAPABILITY -> LOGIN -> LIST with the roles chosen and why ->
STATUS and SELECT (timed) of INBOX and Sent -> SMTP connect, login, optional test
message to the BCC address.

Why its own sockets for DNS/TCP/TLS: each layer fails for its own reasons, and a
support engineer needs to know which one ("the name resolves, the port answers, the
certificate is for another host"). The probe opens the transport itself and hands the
streams to the engine's ``ImapClient`` (``attach``), so everything from the greeting
on is the engine's own code path, failures are the engine's own typed errors, and
``engine.diag.classify`` turns the first one into a catalogue cause.

Every IMAP line goes through a ``TraceRing`` (redacted when recorded); the report
carries it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NoReturn

from inboxlab.engine.account_options import LARGE_FOLDER  # the engine's own threshold (>=)
from inboxlab.engine.diag.classify import Diagnosis, diagnose, diagnose_fact
from inboxlab.engine.diag.presented import presented, speaks_tls, summary
from inboxlab.engine.diag.probe_smtp import smtp_steps
from inboxlab.engine.diag.resolve import Resolver, resolve, system_resolver
from inboxlab.engine.diag.steps import ProbeOptions, Status, Step
from inboxlab.engine.diag.tracering import TraceLine, TraceRing
from inboxlab.engine.errors import (
    ConnectError,
    EngineError,
    ProtocolViolation,
    TimedOut,
    TlsError,
    TokenRejected,
)
from inboxlab.engine.exitcodes import Exit
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.failures import connect_error, handshake_timeout, tls_error
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.roles import ListMethod, Role, detect_roles, folders_from_list
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, detect_greeting
from inboxlab.engine.supervise import UidValidityChanged
from inboxlab.engine.tokens import TokenProvider

EXIT = {"ok": Exit.OK, "warning": Exit.WARNING, "failed": Exit.FAILED}


@dataclass(frozen=True)
class ProbeReport:
    target: dict[str, Any]
    steps: tuple[Step, ...]
    diagnosis: Diagnosis | None
    trace: tuple[TraceLine, ...]
    at: datetime
    findings: tuple[Diagnosis, ...] = ()  # causes met without failing (UIDVALIDITY reset)

    @property
    def status(self) -> Literal["ok", "warning", "failed"]:
        if any(s.status == "failed" for s in self.steps):
            return "failed"
        return "warning" if any(s.status == "warning" for s in self.steps) \
            or self.login_skipped else "ok"

    @property
    def login_skipped(self) -> bool:
        login = self.step("login")
        return login is not None and login.status == "skipped"

    @property
    def exit_code(self) -> int:
        return int(EXIT[self.status])

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def as_dict(self) -> dict[str, object]:
        return {"status": self.status, "exit_code": self.exit_code, "at": self.at.isoformat(),
                "target": self.target, "steps": [s.as_dict() for s in self.steps],
                "login_skipped": self.login_skipped,
                "diagnosis": None if self.diagnosis is None else self.diagnosis.as_dict(),
                "findings": [f.as_dict() for f in self.findings],
                "trace": [t.render() for t in self.trace]}


class _Failed(Exception):
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _cert_info(cert: dict[str, Any] | None) -> dict[str, Any]:
    if not cert:
        return {}

    def name(rdns: Any) -> str:
        return ", ".join(f"{k}={v}" for rdn in rdns for k, v in rdn)

    return {"subject": name(cert.get("subject", ())), "issuer": name(cert.get("issuer", ())),
            "not_after": cert.get("notAfter"),
            "names": [v for k, v in cert.get("subjectAltName", ()) if k in ("DNS", "IP Address")]}


def _tls_summary(writer: asyncio.StreamWriter, how: str) -> tuple[str, dict[str, Any]]:
    obj = writer.get_extra_info("ssl_object")
    info = _cert_info(writer.get_extra_info("peercert"))
    info["version"] = obj.version() if obj is not None else None
    return (f"{how}{info.get('version')}, certificate for "
            f"{', '.join(info.get('names') or [])} issued by {info.get('issuer')}, "
            f"valid until {info.get('not_after')}", info)


class Probe:
    """One run; ``await Probe(settings, secret).run()`` -> ``ProbeReport``.

    ``secret`` None: no password could be had, the run stops before LOGIN ("login
    skipped"), as with ``ProbeOptions(login=False)``. ``resolver`` replaces the system's
    ``getaddrinfo`` (tests inject a slow one)."""

    def __init__(self, settings: AccountSettings, secret: Secret | TokenProvider | None,
                 options: ProbeOptions | None = None, *, ssl_context: ssl.SSLContext | None = None,
                 clock: Callable[[], float] = time.perf_counter,
                 resolver: Resolver = system_resolver) -> None:
        self.settings = settings
        self.secret = secret
        self.options = options or ProbeOptions()
        self.login = self.options.login and secret is not None
        # A token is redacted at the source and by the trace's bearer rule; a password is
        # also looked for verbatim.
        self.ring = TraceRing(secrets=(secret.reveal(),) if isinstance(secret, Secret) else (),
                              bodies=self.options.bodies)
        self._ctx = ssl_context
        self._clock = clock
        self._resolver = resolver
        self._ends: float | None = None
        self.steps: list[Step] = []
        self.findings: list[Diagnosis] = []

    def _context(self) -> ssl.SSLContext:
        if self._ctx is None:
            self._ctx = self.settings.tls_context(self.options.cafile)
        return self._ctx

    def _trace(self, name: str, **info: Any) -> None:
        self.ring.record(name, {**info, "conn": "imap"})

    def limit(self, base: float) -> float:
        """``base`` seconds, or what is left of the run's deadline if that is less."""
        if self._ends is None:
            return base
        return max(0.001, min(base, self._ends - self._clock()))

    def _slow(self, base: float) -> float:
        return self.options.slow if self.options.slow is not None else base / 2

    def _add(self, name: str, status: Status, summary: str, started: float,
             slow_after: float | None = None, **data: Any) -> None:
        elapsed = self._clock() - started
        limit = self._slow(self.options.command_timeout) if slow_after is None else slow_after
        if status == "ok" and elapsed > limit:
            status = "warning"
            summary += f" (slow: {elapsed:.1f} s)"
            data["slow"] = True
        self.steps.append(Step(name, status, summary, elapsed * 1000, data))

    async def run(self) -> ProbeReport:
        imap = self.settings.imap
        target = {"username": self.settings.username, "imap": imap.url(),
                  "smtp": None if self.settings.smtp is None else self.settings.smtp.url()}
        diagnosis = None
        deadline = self.options.deadline
        if deadline is not None:
            self._ends = self._clock() + deadline
        try:
            try:
                async with asyncio.timeout(None if deadline is None else deadline + 1.0):
                    await self._imap()
                    if self.options.smtp and self.settings.smtp is not None:
                        await smtp_steps(self)
            except TimeoutError:  # a step that overran its clipped limit anyway
                raise self.fail("deadline", self._clock(), TimedOut(
                    f"the run's deadline of {deadline}s passed", stage="imap_command")) from None
        except _Failed as failed:
            diagnosis = diagnose(failed.error)
        return ProbeReport(target, tuple(self.steps), diagnosis, tuple(self.ring.lines()),
                           datetime.now(UTC), tuple(self.findings))

    def fail(self, name: str, started: float, error: BaseException,
             **extra: Any) -> _Failed:
        summary = (str(error) if isinstance(error, EngineError)
                   else f"{type(error).__name__}: {error}")
        data = {k: v for k, v in error.as_dict().items() if k not in ("permanent", "remediation")} \
            if isinstance(error, EngineError) else {}
        # permanence and remedy are the diagnosis's (the catalogue's), shown once
        self.steps.append(Step(name, "failed", summary, (self._clock() - started) * 1000,
                               {**data, **extra}))
        return _Failed(error)

    # -- IMAP ------------------------------------------------------------------------------

    async def _imap(self) -> None:
        imap = self.settings.imap
        host, port = imap.host, imap.port
        base = self.options.connect_timeout
        slow = self._slow(base)
        t = self._clock()
        limit = self.limit(base)
        try:
            addresses = await resolve(host, port, limit, self._resolver)
        except TimeoutError:
            raise self.fail("dns", t, ConnectError(
                f"no answer from the resolver for {host!r} within {limit:.3g}s",
                code="dns", stage="imap_connect")) from None
        except OSError as exc:
            raise self.fail("dns", t, connect_error(exc, host, port, host, limit)) from None
        self._add("dns", "ok", f"{host} -> {', '.join(addresses)}", t, slow, addresses=addresses)

        t = self._clock()
        limit = self.limit(base)
        try:
            async with asyncio.timeout(limit):
                reader, writer = await asyncio.open_connection(addresses[0], port)
        except (OSError, TimeoutError) as exc:
            raise self.fail("tcp", t, connect_error(exc, addresses[0], port, host,
                                                    limit)) from None
        peer = writer.get_extra_info("peername")
        self._add("tcp", "ok", f"connected to {peer[0]}:{peer[1]}", t, slow, peer=list(peer[:2]))
        self._address = addresses[0]

        if imap.security == "tls":
            t = self._clock()
            limit = self.limit(base)
            try:
                async with asyncio.timeout(limit + 0.5):
                    await writer.start_tls(self._context(), server_hostname=host,
                                           ssl_handshake_timeout=limit)
            except ssl.SSLError as exc:
                writer.close()
                await self._tls_failed("tls", t, tls_error(exc, host), "tls")
            except (OSError, TimeoutError) as exc:
                writer.close()
                raise self.fail("tls", t, handshake_timeout(exc, host, port, limit)
                                or connect_error(exc, host, port, host, limit)) from None
            summary, info = _tls_summary(writer, "")
            self._add("tls", "ok", summary, t, slow, **info)
        elif imap.security == "plain":
            self.steps.append(Step("tls", "skipped", "plain connection (no TLS)"))

        client = ImapClient(host, port, security=imap.security,
                            ssl_context=self._context() if imap.security != "plain" else None,
                            timeout=self.limit(self.options.command_timeout),
                            connect_timeout=self.limit(base),
                            allow_plaintext_login=self.settings.allow_plaintext_login,
                            trace=self._trace, tag_prefix="P")
        try:
            await self._session(client, reader, writer)
        finally:
            await client.close()

    async def _tls_failed(self, name: str, t: float, err: TlsError,
                          mode: Literal["tls", "starttls"]) -> NoReturn:
        """Fail the TLS step, saying what the server presented (second, unverified look)."""
        imap = self.settings.imap
        seen = await presented(self._address, imap.port, imap.host,
                               self.limit(min(self.options.connect_timeout, 5.0)), mode)
        if seen is not None:
            err.message += f"; the server presented: {summary(seen)}"
            if err.code == "tls_hostname_mismatch":
                names = ", ".join(seen["names"]) or "no names"
                err.message += f". It covers: {names}"
        raise self.fail(name, t, err, presented=seen)

    async def _session(self, client: ImapClient, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
        imap = self.settings.imap
        t = self._clock()
        try:
            greeting = await client.attach(reader, writer, tls=imap.security == "tls")
        except ProtocolViolation as exc:
            found = detect_greeting(exc.data or (exc.server_text or "").encode()) \
                if exc.code == "bad_greeting" else None
            raise self.fail("greeting", t, found.error if found else exc) from None
        except TlsError as exc:
            if exc.stage == "imap_starttls" and exc.code in ("tls_hostname_mismatch",
                                                             "tls_untrusted", "tls_expired",
                                                             "tls_verify_failed"):
                await self._tls_failed("starttls", t, exc, "starttls")
            raise self.fail("starttls" if exc.stage == "imap_starttls" else "greeting", t,
                            exc) from None
        except TimedOut as exc:
            if exc.stage == "imap_greeting" and imap.security != "tls" and await speaks_tls(
                    self._address, imap.port, imap.host,
                    self.limit(min(self.options.connect_timeout, 5.0))):
                raise self.fail("greeting", t, ConnectError(
                    f"no IMAP greeting on {imap.host}:{imap.port}, but a TLS handshake there "
                    "succeeds: this port expects TLS from the first byte",
                    code="tls_expected", permanent=True, stage="imap_greeting")) from None
            raise self.fail("starttls" if exc.stage == "imap_starttls" else "greeting", t,
                            exc) from None
        except EngineError as exc:
            raise self.fail("starttls" if exc.stage == "imap_starttls" else "greeting", t,
                            exc) from None
        line = f"* {greeting.status} " + (f"[{greeting.code}] " if greeting.code else "") \
            + greeting.text
        found = detect_greeting(line.encode())
        if found is not None:
            raise self.fail("greeting", t, found.error)
        alert = (greeting.code or "").upper() == "ALERT"
        self._add("greeting", "warning" if alert else "ok",
                  line + (" (the server asks that this be shown to the user)" if alert else ""),
                  t, self._slow(self.options.connect_timeout), text=greeting.text,
                  code=greeting.code)
        if imap.security == "starttls":
            text, info = _tls_summary(writer, "upgraded with STARTTLS: ")
            self._add("starttls", "ok", text, t, self._slow(self.options.connect_timeout), **info)

        t = self._clock()
        client.timeout = self.limit(self.options.command_timeout)
        try:
            caps = await client.capability()
        except EngineError as exc:
            raise self.fail("capability", t, exc) from None
        self._add("capability", "ok", " ".join(sorted(caps)), t, capabilities=sorted(caps))

        t = self._clock()
        if not self.login:
            why = "--no-login" if self.secret is not None or not self.options.login \
                else "no password could be had without a terminal"
            self.steps.append(Step("login", "skipped", f"login skipped ({why})"))
            return
        assert self.secret is not None
        client.timeout = self.limit(self.options.command_timeout)
        try:
            if isinstance(self.secret, TokenProvider):
                await oauth_login(client, self.secret, self.settings.username)
            else:
                await client.login(Credentials(self.settings.username, self.secret))
        except EngineError as exc:
            raise self.fail("login", t, exc) from None
        self._add("login", "ok", f"logged in as {self.settings.username}", t)

        t = self._clock()
        client.timeout = self.limit(self.options.command_timeout)
        try:
            after = await client.ensure_capabilities()
        except EngineError as exc:
            raise self.fail("capability after login", t, exc) from None
        self._add("capability after login", "ok", " ".join(sorted(after)), t,
                  capabilities=sorted(after), added=sorted(after - caps),
                  removed=sorted(caps - after))

        t = self._clock()
        client.timeout = self.limit(self.options.command_timeout)
        try:
            items = await client.list()
        except EngineError as exc:
            raise self.fail("list", t, exc) from None
        method = ListMethod.SPECIAL_USE if "SPECIAL-USE" in client.caps else ListMethod.LIST
        try:
            roles = detect_roles(folders_from_list(items), method, self.settings.overrides)
        except EngineError as exc:
            raise self.fail("list", t, exc) from None
        chosen = {r.value: {"folder": c.folder, "reason": c.reason, "source": c.source}
                  for r, c in roles.items()}
        sent = roles[Role.SENT]
        self._add("list", "ok" if sent.folder else "warning",
                  f"{len(items)} folders via {method.value}; Sent = {sent.folder!r} "
                  f"({sent.reason})", t, folders=[i.name for i in items], roles=chosen,
                  method=method.value)

        for role in (Role.INBOX, Role.SENT):
            folder = roles[role].folder
            if folder:
                await self._folder(client, role, folder)

    async def _folder(self, client: ImapClient, role: Role, folder: str) -> None:
        t = self._clock()
        client.timeout = self.limit(self.options.command_timeout)
        try:
            status = (await client.status(folder, ("MESSAGES", "UIDNEXT", "UIDVALIDITY"))).items
        except EngineError as exc:
            raise self.fail(f"status {role.value}", t, exc) from None
        messages = status.get("MESSAGES")
        big = isinstance(messages, int) and messages >= self.options.large_folder
        self._compare_uidvalidity(folder, status.get("UIDVALIDITY"))
        self._add(f"status {role.value}", "warning" if big else "ok",
                  f"{folder!r}: {messages} messages" + (
                      f" (at least {self.options.large_folder:,}: the first sync starts at the "
                      "newest mail and providers may throttle)" if big else ""), t,
                  folder=folder, **{k.lower(): v for k, v in status.items()})
        t = self._clock()
        client.timeout = self.limit(self.options.command_timeout)
        try:
            box = await client.select(folder, readonly=True)
        except EngineError as exc:
            raise self.fail(f"select {role.value}", t, exc) from None
        self._add(f"select {role.value}", "warning" if big else "ok",
                  f"{folder!r}: EXAMINE answered in {(self._clock() - t) * 1000:.0f} ms, "
                  f"{box.exists} messages", t, folder=folder, exists=box.exists,
                  uidvalidity=box.uidvalidity)

    def _compare_uidvalidity(self, folder: str, now: object) -> None:
        """A UIDVALIDITY other than the engine's checkpoint: the folder was renumbered."""
        if self.options.db is None or not isinstance(now, int):
            return
        stored = stored_uidvalidity(self.options.db, self.settings.username, folder)
        if stored is not None and stored != now:
            found = diagnose_fact(UidValidityChanged(self.settings.username, folder, stored,
                                                     now, datetime.now(UTC)))
            if found is not None:
                self.findings.append(found)
                self.steps.append(Step(f"uidvalidity {folder}", "warning",
                                       f"{folder!r}: UIDVALIDITY {stored} in the engine's "
                                       f"database, {now} on the server: it will be rescanned",
                                       data={"stored": stored, "server": now}))


def stored_uidvalidity(db: str, account: str, folder: str) -> int | None:
    """The checkpointed UIDVALIDITY, read-only (a missing file or table is simply None).

    Plain ``sqlite3`` on purpose: one indexed read, and opening through
    ``engine.db.Database`` would run migrations, i.e. write to a file we only inspect.
    """
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute("SELECT uidvalidity FROM checkpoints WHERE account = ? AND "
                           "folder = ?", (account, folder)).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return None if row is None else int(row[0])


async def oauth_login(client: ImapClient, provider: TokenProvider, username: str) -> None:
    """AUTHENTICATE with the provider's token; once rejected, one refresh and one retry
    (the account's rule, so the probe names the cause the account would stop on)."""
    used = await provider.token()
    try:
        await client.authenticate_oauth(provider.mechanism, username, used)
    except TokenRejected:
        fresh = await provider.refresh(used)
        await client.authenticate_oauth(provider.mechanism, username, fresh)


async def probe(settings: AccountSettings, secret: Secret | TokenProvider | None,
                options: ProbeOptions | None = None,
                *, ssl_context: ssl.SSLContext | None = None) -> ProbeReport:
    """Run the probe once (the engine API behind ``inboxlab diagnose``)."""
    return await Probe(settings, secret, options, ssl_context=ssl_context).run()


__all__ = ["LARGE_FOLDER", "Probe", "ProbeOptions", "ProbeReport", "Step", "probe"]
