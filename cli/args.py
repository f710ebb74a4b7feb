"""The command-line options of ``diagnose``, ``record`` and ``scenario from-trace``.

Kept apart from the code they run so ``cli/main.py`` can build its parser without
importing the probe, asyncio clients or aiosmtplib (its subcommands import lazily).
"""

from __future__ import annotations

import argparse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0")
    return value


def add_oauth_arguments(p: argparse.ArgumentParser) -> None:
    """OAuth 2.0 login instead of a password (``connect`` and ``diagnose``)."""
    g = p.add_argument_group("OAuth 2.0 (instead of a password)")
    g.add_argument("--oauth", choices=("XOAUTH2", "OAUTHBEARER"), type=str.upper,
                   help="log in with this SASL mechanism and an access token")
    g.add_argument("--token-command", metavar="CMD",
                   help="a command printing a fresh access token, re-run when the token "
                   "is rejected (like mbsync's PassCmd), e.g. 'oama access me@example.com'")
    g.add_argument("--token-env", metavar="VAR",
                   help="read the access token from this environment variable "
                   "(default INBOXLAB_OAUTH_TOKEN)")
    g.add_argument("--token-keyring", action="store_true",
                   help="read the access token from the keyring (service inboxlab-oauth)")


def add_diagnose_arguments(p: argparse.ArgumentParser) -> None:
    """The ``diagnose`` options (cli/main.py builds its subparser with this)."""
    p.add_argument("--imap", required=True, metavar="URL",
                   help="imaps://host[:port], imap://host:143 (STARTTLS) or host[:port]")
    p.add_argument("--user", required=True, help="the mailbox login")
    p.add_argument("--smtp", metavar="URL", help="smtps://host[:465] or smtp://host:587")
    p.add_argument("--bcc", help="the CRM's BCC logging address")
    p.add_argument("--send-test", action="store_true",
                   help="send a test message to the BCC address")
    p.add_argument("--cafile", help="extra CA certificate(s) to trust (PEM)")
    p.add_argument("--timeout", type=_seconds, default=15.0,
                   help="seconds for each step: DNS, TCP, TLS, the greeting, each command "
                   "(default 15); a step slower than half of it is a warning")
    p.add_argument("--deadline", type=_seconds, default=None,
                   help="seconds for the whole run (default: none); every step's limit is "
                   "cut to what is left")
    p.add_argument("--no-login", action="store_true",
                   help="stop before LOGIN: DNS, TCP, TLS, greeting, capabilities, SMTP "
                   "connect, no password needed (automatic when none can be had without a "
                   "terminal)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--db", metavar="FILE",
                   help="the engine database: report folders whose UIDVALIDITY changed")
    p.add_argument("--bundle", metavar="FILE",
                   help="also write a diagnostic bundle (JSON: report, redacted trace, "
                   "timeline from --db, settings without secrets)")
    p.add_argument("--bodies", action="store_true",
                   help="keep message bodies in the trace (default: sizes only)")
    add_oauth_arguments(p)



def add_record_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--listen", required=True, metavar="HOST:PORT",
                   help="where the client connects (plain text; keep it on loopback)")
    p.add_argument("--upstream", required=True, metavar="HOST:PORT", help="the real server")
    p.add_argument("--tls", action="store_true", help="speak TLS to the upstream server")
    p.add_argument("--cafile", help="extra CA certificate(s) for the upstream (PEM)")
    p.add_argument("--out", default="session.trace.jsonl",
                   help="the trace file (JSON lines, redacted; default session.trace.jsonl)")
    p.add_argument("--bodies", action="store_true",
                   help="keep message bodies (default: only their size)")
    p.add_argument("--once", action="store_true", help="stop after the first session ends")
    p.add_argument("--allow-remote-listen", action="store_true",
                   help="allow a --listen address other than loopback (warned: the client "
                        "side is plain text)")


def add_fromtrace_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="a trace written by `inboxlab record`")
    p.add_argument("--out", help="write the scenario here (default: print it)")
    p.add_argument("--name", default="from-trace", help="the scenario's name")


__all__ = ["add_diagnose_arguments", "add_fromtrace_arguments", "add_record_arguments"]
