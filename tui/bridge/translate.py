"""Engine facts -> plain views, and account settings from what a person typed.

The translations the bridge applies before anything crosses to the UI thread: a state
from the engine's STATE_INFO table, a failure with the engine's own diagnosis
(``engine.diag``), validation of the Connect form and of ``inboxlab connect``. Sees
the engine, never Textual, so it is testable without a terminal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from inboxlab.engine.catalogue import UNKNOWN
from inboxlab.engine.crm.ingest import Headers, parse_headers
from inboxlab.engine.crm.records import EmailRow
from inboxlab.engine.crm.rules import LoggingRules, Mode
from inboxlab.engine.crm.tracking import ThreadView
from inboxlab.engine.diag.classify import bye_code, diagnose
from inboxlab.engine.errors import EngineError
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, parse_server
from inboxlab.engine.states import STATE_INFO, State
from inboxlab.engine.tokens import TokenProvider
from inboxlab.tui import views as m
from inboxlab.tui.bridge.browse import RawMessage


def state_view(state: State, at: datetime | None = None, detail: str = "") -> m.StateView:
    """The badge's view of a state, read from the engine's one STATE_INFO table."""
    info = STATE_INFO[state]
    return m.StateView(state.value, info.label, info.colour, info.tone, info.description,
                       at, detail)


def disconnect_view(error: BaseException, at: datetime,
                    recent_trace: Iterable[str] = ()) -> m.DisconnectView:
    """The error's own fields, plus the engine's diagnosis (``engine.diag``): the cause
    from its catalogue and the evidence that picked it. Nothing is re-guessed here."""
    diagnosis = diagnose(error, response_code=bye_code(recent_trace))
    cause = diagnosis.cause
    if isinstance(error, EngineError):
        fix = (cause.owner_fix if cause.code != UNKNOWN.code else None) \
            or error.remediation or _default_remedy(error)
        view = m.DisconnectView(
            at=at, code=error.code, kind=type(error).__name__, permanent=error.permanent,
            stage=error.stage, message=error.message, server_text=error.server_text,
            remediation=fix, heals=not error.permanent)
    else:
        view = m.DisconnectView(at=at, code="unexpected", kind=type(error).__name__,
                                permanent=False, stage="unknown", message=str(error),
                                remediation="retried automatically; report it if it repeats")
    return replace(view, cause=cause.code, cause_title=cause.title,
                   matched_by=diagnosis.matched_by, it_fix=cause.it_fix or None)


def _default_remedy(error: EngineError) -> str:
    if error.permanent:
        return "fix the cause named above, then reconnect (c)"
    return "nothing to do: the connector reconnects after a backoff"


def validate_account(server: str, username: str, sent_folder: str | None = None, *,
                     security: str = "", smtp: str = "", cafile: str = "",
                     ) -> tuple[AccountSettings | None, str | None]:
    """Live validation for the Connect form: (settings, None) or (None, what is wrong).
    ``security`` (tls, starttls, plain; empty: what the address implies), ``smtp`` (an
    SMTP address; empty: logging replies only) and ``cafile`` (must exist) are optional."""
    try:
        bare = "://" not in server and ":" not in server.strip()
        if security and bare:  # a bare host: the chosen security's own port
            server = {"tls": "imaps://", "starttls": "imap://"}.get(security, "imap://") \
                + server.strip() + ("?security=plain" if security == "plain" else "")
        imap = parse_server(server, "imap")
        if security:
            imap = replace(imap, security=cast(Any, security))
        overrides = (("sent", sent_folder),) if sent_folder else ()
        outgoing = parse_server(smtp, "smtp") if smtp.strip() else None
        if cafile.strip() and not Path(cafile.strip()).expanduser().is_file():
            return None, f"CA file: {cafile.strip()!r} is not a readable file"
        return AccountSettings(username=username, imap=imap, smtp=outgoing,
                               folder_overrides=overrides), None
    except EngineError as exc:
        fix = f" - {exc.remediation}" if exc.remediation else ""
        return None, f"{exc.message}{fix}"


def trace_line(name: str, info: Mapping[str, Any], at: datetime) -> str:
    """One display line per trace event; protocol lines keep their direction arrow."""
    stamp = at.strftime("%H:%M:%S.%f")[:-3]
    if name in ("imap.line.out", "imap.line.in"):
        arrow = ">" if name.endswith("out") else "<"
        line = str(info.get("line", "")).replace("\r\n", " ⏎ ").replace("\n", " ⏎ ")
        return f"{stamp} {arrow} {line}"
    detail = " ".join(f"{k}={v}" for k, v in info.items())
    return f"{stamp} {name} {detail}"


class StageClock:
    """Connection stages with their times, from the client's own trace events."""

    STAGES: Mapping[str, str] = {"imap.connect": "connect", "imap.tls": "tls"}

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    def event(self, name: str, info: Mapping[str, Any], now: float) -> m.StageView | None:
        base, _, phase = name.rpartition(".")
        stage = self.STAGES.get(base)
        if base == "imap.send" and str(info.get("command", "")) in ("LOGIN", "AUTHENTICATE"):
            stage = "login"
        if stage is None or phase not in ("started", "complete", "failed"):
            return None
        if phase == "started":
            self._started[stage] = now
            return m.StageView(stage, "started")
        began = self._started.pop(stage, None)
        took = None if began is None else (now - began) * 1000
        ok = phase == "complete" and info.get("status", "OK") == "OK"
        detail = "" if ok else str(info.get("error") or info.get("text") or "")
        return m.StageView(stage, "ok" if ok else "failed", took, detail)


def account_from_cli(server: str, username: str, smtp: str | None = None, *,
                     oauth: str | None = None, token_command: str | None = None,
                     token_env: str | None = None, token_keyring: bool = False,
                     ) -> tuple[AccountSettings, Secret | TokenProvider]:
    """``inboxlab connect``: validated settings and the password from env, keyring or a
    prompt, or (``--oauth``) the token provider; raises EngineError (ConfigError) naming
    what is wrong. ``smtp`` (e.g. ``smtps://host:465``) lets the CRM send; without it the
    account only logs replies."""
    import getpass
    import sys

    from inboxlab.engine.errors import ConfigError
    from inboxlab.engine.secrets import find_secret
    from inboxlab.engine.tokens import provider_from_options

    settings, problem = validate_account(server, username)
    if settings is None:
        raise ConfigError(problem or "invalid account", code="config")
    if smtp:
        settings = replace(settings, smtp=parse_server(smtp, "smtp"))
    provider = provider_from_options(username, oauth, token_command=token_command,
                                     token_env=token_env, token_keyring=token_keyring)
    if provider is not None:
        return settings, provider
    # No terminal (a pipe, cron, CI): no prompt at all, rather than getpass falling back
    # to echoing on stdin with a GetPassWarning.
    tty = sys.stdin is not None and sys.stdin.isatty()
    found = find_secret(username, ask=(lambda prompt: getpass.getpass(prompt)) if tty else None)
    if found is None:
        where = "type it at the prompt" if tty else "no terminal to prompt on"
        raise ConfigError(f"no password for {username}: not in INBOXLAB_PASSWORD or the "
                          f"keyring, and {where}", code="no_password",
                          remediation="set INBOXLAB_PASSWORD, store it in the keyring "
                          "(pip install 'inboxlab[keyring]'), or run in a terminal")
    return settings, found.secret


def message_view(raw: RawMessage | None, headers: Headers | None, decision: tuple[str, str],
                 *, problem: str = "") -> m.MessageView:
    """The message view from the fetched fields and the CRM's decision."""
    h = headers or Headers(message_id=None)
    sender = "" if h.from_ is None else (
        f"{h.from_.name} <{h.from_.email}>" if h.from_.name else h.from_.email)
    return m.MessageView(
        folder=raw.folder if raw else "", uid=raw.uid if raw else None,
        message_id=h.message_id, in_reply_to=h.in_reply_to, references=h.references,
        sender=sender, subject=h.subject, date=h.date or "",
        size=raw.size if raw else None, flags=raw.flags if raw else (),
        decision=decision[0], reason=decision[1], problem=problem)


def read_headers(raw: RawMessage) -> tuple[Headers | None, str]:
    """The threading headers, or why they cannot be read (hostile input never raises)."""
    try:
        return parse_headers(raw.headers), ""
    except EngineError as exc:
        return None, f"the headers cannot be read: {exc}"


# -- CRM records -> views (tui.bridge.crm) ---------------------------------------------------------


def email_view(row: EmailRow) -> m.EmailView:
    files = tuple(f"{name} ({size:,} B)" for name, _sha, size in row.attachments)
    return m.EmailView(row.id, row.message_id, row.thread_id, row.direction, row.sender,
                       row.subject, row.join_reason, row.notes or "", files)


def thread_lines(view: ThreadView) -> m.ThreadLinesView:
    return m.ThreadLinesView(view.thread_id, view.subject, tuple(
        m.ThreadEntryView(e.message_id, e.status, e.who, e.subject, e.reason)
        for e in view.entries))


# The TUI saves the engine's own mode names (settings_store.LOGGING_MODES) plus "off",
# which is the engine's inbox-disconnected switch: nothing from the inbox is logged.
def crm_rules(mode: str, never_log: Iterable[str], log_attachments: bool) -> LoggingRules:
    """The person's saved settings as the engine's ``LoggingRules`` (raises BadInput)."""
    # LoggingRules checks the mode itself: an unknown one is its typed BadInput.
    engine_mode = Mode.REPLIES_ONLY if mode == "off" else mode
    return LoggingRules(cast(Mode, engine_mode), frozenset(never_log),
                        log_attachments, inbox_connected=mode != "off")
