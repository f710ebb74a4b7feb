"""``inboxlab diagnose``: settings from the command line, the probe, a report, an exit code.

Text for people, ``--json`` for scripts (the same ``ProbeReport.as_dict``). The exit
code is the verdict: 0 everything worked, 1 it works with warnings (a folder over
100,000 messages, no Sent folder found...), 2 a step failed (the cause is named), 3 the
command line itself was unusable.

The password comes from ``INBOXLAB_PASSWORD``, the keyring or a prompt
(``engine.secrets.find_secret``), never from an argument: it would sit in the shell's
history and the process list.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Callable
from typing import TextIO

from inboxlab.engine.diag.probe import ProbeOptions, ProbeReport, probe
from inboxlab.engine.errors import ConfigError
from inboxlab.engine.exitcodes import Exit
from inboxlab.engine.secrets import Secret, find_secret
from inboxlab.engine.settings import AccountSettings, parse_server
from inboxlab.engine.tokens import TokenProvider, provider_from_options

USAGE_ERROR = Exit.USAGE
_MARK = {"ok": "ok  ", "warning": "WARN", "failed": "FAIL", "skipped": "skip"}


def render(report: ProbeReport) -> str:
    """The report as a person reads it: one line per step, then the cause and what to do."""
    out = [f"inboxlab diagnose: {report.target['username']} at {report.target['imap']}"
           + (f", {report.target['smtp']}" if report.target.get("smtp") else "")]
    for s in report.steps:
        out.append(f"  [{_MARK[s.status]}] {s.name:<22} {s.summary}  ({s.elapsed_ms:.0f} ms)")
        if s.name == "list":
            for role, choice in (s.data.get("roles") or {}).items():
                if role in ("inbox", "sent"):
                    out.append(f"         {role}: {choice['folder']!r} - {choice['reason']}")
    for f in report.findings:
        out.append(f"  finding: {f.cause.title} [{f.code}] - {f.message}; {f.cause.owner_fix}")
    d = report.diagnosis
    if d is not None:
        c = d.cause
        out += ["", f"Cause: {c.title} [{c.code}] - " + permanence(d.permanent),
                f"  evidence: {d.matched_by}; stage {d.stage}",
                # only the server's own words are quoted as such (never OpenSSL's, ours)
                f"  server said: {d.server_text}" if d.server_text else "  server said nothing",
                f"  mailbox owner: {c.owner_fix}", f"  IT: {c.it_fix}"]
    result = f"Result: {report.status.upper()} (exit {report.exit_code})"
    out += ["", result + (" - login skipped" if report.login_skipped else "")]
    return "\n".join(out)


def permanence(permanent: bool) -> str:
    """The words for the catalogue's one answer (the JSON carries the same boolean)."""
    return ("permanent: a person must act" if permanent else
            "transient: the engine retries on its own")


def _has_terminal() -> bool:
    """Whether a person can be asked: stdin exists, is open and is a terminal."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # closed or detached stdin
        return False


def run_diagnose(args: argparse.Namespace, *, out: TextIO | None = None,
                 ask: Callable[[str], str] | None = None) -> int:
    """Run from parsed arguments; returns the exit code (``engine.exitcodes``).

    Without ``--no-login`` the password comes from INBOXLAB_PASSWORD, the keyring or a
    prompt; with none of them and no terminal the run stops before LOGIN ("login
    skipped") instead of failing. ``--json`` prints JSON on every path."""
    out = out or sys.stdout
    try:
        imap = parse_server(args.imap, "imap")
        smtp = parse_server(args.smtp, "smtp") if args.smtp else None
        settings = AccountSettings(username=args.user, imap=imap, smtp=smtp,
                                   bcc_address=args.bcc)
    except ConfigError as exc:
        return _usage(args, out, str(exc), exc.remediation)
    try:
        provider = provider_from_options(
            args.user, getattr(args, "oauth", None),
            token_command=getattr(args, "token_command", None),
            token_env=getattr(args, "token_env", None),
            token_keyring=getattr(args, "token_keyring", False))
    except ConfigError as exc:
        return _usage(args, out, str(exc), exc.remediation)
    secret: Secret | TokenProvider | None = provider
    if provider is None and not getattr(args, "no_login", False):
        terminal = _has_terminal()
        try:
            found = find_secret(args.user, ask=ask if ask is not None else (
                getpass.getpass if terminal else None))
        except (EOFError, OSError):  # the prompt's terminal went away
            found = None
        if found is None and (ask is not None or terminal):
            return _usage(args, out, "no password", "set INBOXLAB_PASSWORD, store it in the "
                          "keyring, log in with --oauth, or use --no-login")
        secret = None if found is None else found.secret
    options = ProbeOptions(connect_timeout=args.timeout, command_timeout=args.timeout,
                           deadline=getattr(args, "deadline", None),
                           login=not getattr(args, "no_login", False),
                           cafile=args.cafile, smtp=smtp is not None,
                           send_test=args.send_test, bodies=args.bodies,
                           db=args.db)
    try:
        report = asyncio.run(_probe_and_bundle(settings, secret, options, args))
    except OSError as exc:  # the bundle could not be written (the probe itself never raises)
        return _usage(args, out, f"cannot write the bundle: {exc}", "check --bundle's path")
    if args.json:
        json.dump(report.as_dict(), out, indent=2, default=str)
        out.write("\n")
    else:
        out.write(render(report) + "\n")
    return report.exit_code


def _usage(args: argparse.Namespace, out: TextIO, error: str, fix: str | None) -> int:
    """A command line that cannot run: the reason on stderr, and JSON too with --json."""
    print(f"error: {error}" + (f"\n  fix: {fix}" if fix else ""), file=sys.stderr)
    if getattr(args, "json", False):
        json.dump({"status": "usage", "exit_code": int(USAGE_ERROR), "error": error,
                   "fix": fix}, out)
        out.write("\n")
    return USAGE_ERROR


async def _probe_and_bundle(settings: AccountSettings, secret: Secret | TokenProvider | None,
                            options: ProbeOptions,
                            args: argparse.Namespace) -> ProbeReport:
    report = await probe(settings, secret, options)
    if getattr(args, "bundle", None):
        from inboxlab.engine.db import Database
        from inboxlab.engine.diag.bundle import export_bundle

        db = await Database.open(args.db) if args.db else None
        try:
            await export_bundle(args.bundle, settings=settings, report=report, db=db,
                                secrets=_known_secrets(secret))
        finally:
            if db is not None:
                await db.close()
    return report


def _known_secrets(secret: Secret | TokenProvider | None) -> tuple[str, ...]:
    """What the bundle must not contain, verbatim: the password, or every token the
    provider handed out (the bundle's redactor also hides any bearer token it sees)."""
    if isinstance(secret, Secret):
        return (secret.reveal(),)
    return () if secret is None else secret.handed_out()


__all__ = ["USAGE_ERROR", "render", "run_diagnose"]
