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
import socket
import sqlite3
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from engine.account_options import LARGE_FOLDER  # the engine's own threshold (>=)
from engine.diag.classify import Diagnosis, diagnose, diagnose_event
from engine.diag.probe_smtp import smtp_steps
from engine.diag.tracering import TraceLine, TraceRing
from engine.errors import EngineError, ProtocolViolation
from engine.exitcodes import Exit
from engine.imap.client import ImapClient
from engine.imap.failures import connect_error, tls_error
from engine.imap.results import Credentials
from engine.roles import ListMethod, Role, detect_roles, folders_from_list
from engine.secrets import Secret
from engine.settings import AccountSettings, detect_greeting

Status = Literal["ok", "warning", "failed", "skipped"]
EXIT = {"ok": Exit.OK, "warning": Exit.WARNING, "failed": Exit.FAILED}


@dataclass(frozen=True)
class ProbeOptions:
    connect_timeout: float = 15.0
    command_timeout: float = 30.0
    cafile: str | None = None
    smtp: bool = True
    send_test: bool = False  # a test message to the account's BCC address
    large_folder: int = LARGE_FOLDER
    bodies: bool = False  # trace message literals, or only their size
    db: str | None = None  # the engine database: compare UIDVALIDITY with its checkpoints


@dataclass(frozen=True)
class Step:
    name: str
    status: Status
    summary: str
    elapsed_ms: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"step": self.name, "status": self.status, "summary": self.summary,
                "elapsed_ms": round(self.elapsed_ms, 1), "data": self.data}


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
        return "warning" if any(s.status == "warning" for s in self.steps) else "ok"

    @property
    def exit_code(self) -> int:
        return int(EXIT[self.status])

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def as_dict(self) -> dict[str, object]:
        return {"status": self.status, "exit_code": self.exit_code, "at": self.at.isoformat(),
                "target": self.target, "steps": [s.as_dict() for s in self.steps],
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


class Probe:
    """One run; ``await Probe(settings, secret).run()`` -> ``ProbeReport``."""

    def __init__(self, settings: AccountSettings, secret: Secret,
                 options: ProbeOptions | None = None, *, ssl_context: ssl.SSLContext | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.settings = settings
        self.secret = secret
        self.options = options or ProbeOptions()
        self.ring = TraceRing(secrets=(secret.reveal(),), bodies=self.options.bodies)
        self._ctx = ssl_context
        self._clock = clock
        self.steps: list[Step] = []
        self.findings: list[Diagnosis] = []

    def _context(self) -> ssl.SSLContext:
        if self._ctx is None:
            self._ctx = self.settings.tls_context(self.options.cafile)
        return self._ctx

    def _trace(self, name: str, **info: Any) -> None:
        self.ring.record(name, {**info, "conn": "imap"})

    def _add(self, name: str, status: Status, summary: str, started: float,
             **data: Any) -> None:
        self.steps.append(Step(name, status, summary, (self._clock() - started) * 1000, data))

    async def run(self) -> ProbeReport:
        imap = self.settings.imap
        target = {"username": self.settings.username, "imap": imap.url(),
                  "smtp": None if self.settings.smtp is None else self.settings.smtp.url()}
        diagnosis = None
        try:
            await self._imap()
            if self.options.smtp and self.settings.smtp is not None:
                await smtp_steps(self)
        except _Failed as failed:
            diagnosis = diagnose(failed.error)
        return ProbeReport(target, tuple(self.steps), diagnosis, tuple(self.ring.lines()),
                           datetime.now(UTC), tuple(self.findings))

    def fail(self, name: str, started: float, error: BaseException) -> _Failed:
        summary = (str(error) if isinstance(error, EngineError)
                   else f"{type(error).__name__}: {error}")
        self._add(name, "failed", summary, started,
                  **(error.as_dict() if isinstance(error, EngineError) else {}))
        return _Failed(error)

    # -- IMAP ------------------------------------------------------------------------------

    async def _imap(self) -> None:
        imap = self.settings.imap
        host, port, limit = imap.host, imap.port, self.options.connect_timeout
        t = self._clock()
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise self.fail("dns", t, connect_error(exc, host, port, host, limit)) from None
        addresses = sorted({str(i[4][0]) for i in infos})
        self._add("dns", "ok", f"{host} -> {', '.join(addresses)}", t, addresses=addresses)

        t = self._clock()
        try:
            async with asyncio.timeout(limit):
                reader, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError) as exc:
            raise self.fail("tcp", t, connect_error(exc, host, port, host, limit)) from None
        peer = writer.get_extra_info("peername")
        self._add("tcp", "ok", f"connected to {peer[0]}:{peer[1]}", t, peer=list(peer[:2]))

        if imap.security == "tls":
            t = self._clock()
            try:
                await writer.start_tls(self._context(), server_hostname=host,
                                       ssl_handshake_timeout=limit)
            except ssl.SSLError as exc:
                writer.close()
                raise self.fail("tls", t, tls_error(exc, host)) from None
            except (OSError, TimeoutError) as exc:
                writer.close()
                raise self.fail("tls", t, connect_error(exc, host, port, host, limit)) from None
            obj = writer.get_extra_info("ssl_object")
            info = _cert_info(writer.get_extra_info("peercert"))
            info["version"] = obj.version() if obj is not None else None
            self._add("tls", "ok", f"{info.get('version')}, certificate for "
                      f"{', '.join(info.get('names') or [])} issued by {info.get('issuer')}, "
                      f"valid until {info.get('not_after')}", t, **info)
        else:
            self.steps.append(Step("tls", "skipped" if imap.security == "plain" else "ok",
                                   "plain connection (no TLS)" if imap.security == "plain"
                                   else "STARTTLS after the greeting"))

        client = ImapClient(host, port, security=imap.security,
                            ssl_context=self._context() if imap.security != "plain" else None,
                            timeout=self.options.command_timeout, connect_timeout=limit,
                            allow_plaintext_login=self.settings.allow_plaintext_login,
                            trace=self._trace, tag_prefix="P")
        try:
            await self._session(client, reader, writer)
        finally:
            await client.close()

    async def _session(self, client: ImapClient, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
        t = self._clock()
        try:
            greeting = await client.attach(reader, writer, tls=self.settings.imap.security == "tls")
        except ProtocolViolation as exc:
            found = detect_greeting(exc.data or (exc.server_text or "").encode()) \
                if exc.code == "bad_greeting" else None
            raise self.fail("greeting", t, found.error if found else exc) from None
        except EngineError as exc:
            raise self.fail("greeting", t, exc) from None
        line = f"* {greeting.status} {greeting.text}"
        found = detect_greeting(line.encode())
        if found is not None:
            raise self.fail("greeting", t, found.error)
        self._add("greeting", "ok", line, t, text=greeting.text)

        t = self._clock()
        try:
            caps = await client.capability()
        except EngineError as exc:
            raise self.fail("capability", t, exc) from None
        self._add("capability", "ok", " ".join(sorted(caps)), t, capabilities=sorted(caps))

        t = self._clock()
        try:
            await client.login(Credentials(self.settings.username, self.secret))
        except EngineError as exc:
            raise self.fail("login", t, exc) from None
        self._add("login", "ok", f"logged in as {self.settings.username}", t)

        t = self._clock()
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
            found = diagnose_event("scan.folder", {
                "folder": folder, "reason": f"UIDVALIDITY changed {stored} -> {now}"})
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


async def probe(settings: AccountSettings, secret: Secret, options: ProbeOptions | None = None,
                *, ssl_context: ssl.SSLContext | None = None) -> ProbeReport:
    """Run the probe once (the engine API behind ``inboxlab diagnose``)."""
    return await Probe(settings, secret, options, ssl_context=ssl_context).run()


__all__ = ["LARGE_FOLDER", "Probe", "ProbeOptions", "ProbeReport", "Step", "probe"]
