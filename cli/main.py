"""The ``inboxlab`` command line: one entry point that dispatches into the three rooms.

Each subcommand imports its room lazily, so ``inboxlab fakeserver serve`` never loads
Textual and ``inboxlab`` (the demo) never pays for what it does not use.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

from inboxlab.engine.exitcodes import Exit, table


class UsageError(Exception):
    """The command line cannot be used; ``main`` turns it into exit 3 (and JSON with --json)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is ``Exit.USAGE`` (argparse's own 2 means FAILED here)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}")


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _port(text: str) -> int:
    """A TCP port for argparse: 0 (pick a free one) to 65535, named when it is not."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (0-65535; 0 = any free)")
    return port


def _loopback(text: str) -> str:
    """The fake servers are a lab: they listen on loopback only (their control endpoint
    can break sessions, and the demo password is public)."""
    if text.strip().lower() not in LOOPBACK and not text.startswith("127."):
        raise argparse.ArgumentTypeError(
            f"{text!r}: the fake servers listen on loopback only (127.0.0.1, ::1, localhost)")
    return text


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("inboxlab")
    except PackageNotFoundError:  # run from a checkout without an install
        return "unknown (not installed)"


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="inboxlab",
        description=(
            "A CRM connected-inbox connector and the lab to test and diagnose it. "
            "With no arguments, opens the demo on the bundled fake servers."
        ),
        epilog="exit codes (the same for every command):\n" + table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"inboxlab {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    fake = sub.add_parser("fakeserver", help="run the bundled fake IMAP/SMTP servers")
    fake_sub = fake.add_subparsers(dest="fake_command", metavar="ACTION", required=True)
    serve = fake_sub.add_parser("serve", help="serve a scenario on loopback until Ctrl-C")
    serve.add_argument("scenario", nargs="?", default=None,
                       help="bundled scenario name or TOML file (default: the demo scenario)")
    serve.add_argument("--host", default="127.0.0.1", type=_loopback,
                       help="loopback address to bind (default 127.0.0.1)")
    serve.add_argument("--imap-port", type=_port, default=0,
                       help="IMAP port (default: a free port)")
    serve.add_argument("--imaps-port", type=_port, default=0,
                       help="implicit-TLS IMAP port (default: a free port)")

    demo = sub.add_parser("demo", help="the TUI on a bundled scenario (the default command)")
    demo.add_argument("scenario", nargs="?", default=None,
                      help="bundled scenario name or TOML file (default: the demo scenario)")

    conn = sub.add_parser("connect", help="the TUI on a real mailbox (password from "
                          "INBOXLAB_PASSWORD, the keyring or a prompt)")
    conn.add_argument("server", help="imaps://host:993, host, or host:port")
    conn.add_argument("--user", required=True, help="the login, usually the email address")
    conn.add_argument("--cafile", default=None,
                      help="a CA certificate to trust (e.g. the fake servers' ca.pem)")
    conn.add_argument("--smtp", default=None,
                      help="SMTP server for sending from records, e.g. smtps://host:465 or "
                           "smtp://host:587 (STARTTLS); without it replies are logged, "
                           "nothing is sent")
    conn.add_argument("--bcc", default=None, metavar="ADDRESS",
                      help="start the BCC/forward logging endpoint for this address (BCC it "
                           "on mail sent from any client, or forward mail to it)")
    conn.add_argument("--bcc-listen", default="127.0.0.1:2525", metavar="HOST:PORT",
                      help="where the logging endpoint listens (default 127.0.0.1:2525; "
                           "port 0 picks a free one)")

    bcc = sub.add_parser("bcc", help="run only the BCC/forward logging endpoint (SMTP), on "
                         "the same CRM database as 'connect --user'; until Ctrl-C")
    bcc.add_argument("--user", required=True, help="the connected user (their mail only)")
    bcc.add_argument("--address", required=True, help="the logging address to accept")
    bcc.add_argument("--listen", default="127.0.0.1:2525", metavar="HOST:PORT",
                     help="default 127.0.0.1:2525; port 0 picks a free one")
    bcc.add_argument("--data-dir", default=None,
                     help="the CRM data directory (default: the one 'connect' uses)")
    from inboxlab.cli.args import add_oauth_arguments

    add_oauth_arguments(conn)

    scen = sub.add_parser("scenario", help="list, check or run scenarios")
    scen_sub = scen.add_subparsers(dest="scenario_command", metavar="ACTION", required=True)
    scen_sub.add_parser("list", help="list the bundled scenarios")
    check = scen_sub.add_parser("check", help="validate a scenario file")
    check.add_argument("file", help="bundled scenario name or TOML file")
    run = scen_sub.add_parser("run", help="run the engine headless against a scenario and "
                              "check its [[expect]] blocks (exit 1 on a failed check)")
    run.add_argument("file", help="bundled scenario name or TOML file")
    run.add_argument("--deadline", type=float, default=30.0,
                     help="seconds to wait for the expectations to be decided (default 30)")
    run.add_argument("--keep-db", default=None, metavar="DIR",
                     help="keep the run's databases (engine.db, crm.db) and attachment "
                          "files in DIR to inspect afterwards (default: a temporary "
                          "directory, deleted)")
    run.add_argument("--initial-scan", choices=("new", "full"), default=None,
                     help="first sync: start at UIDNEXT or read every header "
                     "(default: full unless a folder is over 5000 messages)")
    from inboxlab.cli.args import add_fromtrace_arguments, add_record_arguments

    add_fromtrace_arguments(scen_sub.add_parser(
        "from-trace", help="turn a recorded trace into a scenario that fails the same way"))
    add_record_arguments(sub.add_parser(
        "record", help="proxy a real session to a real server and write a redacted trace"))
    diag = sub.add_parser("diagnose", help="probe an inbox step by step (DNS, TCP, TLS, IMAP, "
                          "SMTP) and name the cause of a failure; exit 0 ok, 1 warning, 2 "
                          "failed, 3 usage")
    from inboxlab.cli.args import add_diagnose_arguments

    add_diagnose_arguments(diag)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code is from ``engine.exitcodes`` (one table for all)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(argv)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if "--json" in argv:
            json.dump({"status": "usage", "exit_code": int(Exit.USAGE), "error": str(exc)},
                      sys.stdout)
            sys.stdout.write("\n")
        return Exit.USAGE
    except BrokenPipeError:
        # The reader went away (``inboxlab scenario list | head``): not an error. Point
        # stdout at devnull so the interpreter's final flush does not raise again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return Exit.OK
    except OSError as exc:  # a port in use, an address that cannot be bound...
        words = str(exc.strerror or exc).removeprefix("error while ")
        print(f"error: {words}" + (f": {exc.filename}" if exc.filename else ""),
              file=sys.stderr)
        return Exit.USAGE
    except KeyboardInterrupt:
        if "--json" in argv:
            json.dump({"status": "interrupted", "exit_code": int(Exit.INTERRUPTED)}, sys.stdout)
            sys.stdout.write("\n")
        return Exit.INTERRUPTED


def _dispatch(argv: list[str]) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None or args.command == "demo":
        from inboxlab.tui.app import run_demo

        return run_demo(getattr(args, "scenario", None))
    if args.command == "connect":
        from inboxlab.tui.app import run_connect

        return run_connect(args.server, args.user, cafile=args.cafile, smtp=args.smtp,
                           bcc=args.bcc, bcc_listen=_host_port(args.bcc_listen),
                           oauth=args.oauth, token_command=args.token_command,
                           token_env=args.token_env, token_keyring=args.token_keyring)
    if args.command == "bcc":
        return _run_bcc(args.user, args.address, _host_port(args.listen), args.data_dir)
    if args.command == "fakeserver":
        from inboxlab.lab.cli import serve_main

        return serve_main(
            scenario=getattr(args, "scenario", None),
            host=getattr(args, "host", "127.0.0.1"),
            imap_port=getattr(args, "imap_port", 0),
            imaps_port=getattr(args, "imaps_port", 0),
        )
    if args.command == "diagnose":
        from inboxlab.cli.diagnose import run_diagnose

        return run_diagnose(args)
    if args.command == "record":
        import asyncio

        from inboxlab.engine.diag.record import record_main

        return asyncio.run(record_main(args.listen, args.upstream, args.out, tls=args.tls,
                                       cafile=args.cafile, bodies=args.bodies, once=args.once,
                                       allow_remote_listen=args.allow_remote_listen))
    if args.command == "scenario" and args.scenario_command == "from-trace":
        from inboxlab.harness.fromtrace import fromtrace_main

        return fromtrace_main(args.trace, args.out, args.name)
    if args.command == "scenario" and args.scenario_command == "run":
        from inboxlab.harness.run import run_main

        return run_main(args.file, deadline=args.deadline, initial_scan=args.initial_scan,
                        keep_db=args.keep_db)
    if args.command == "scenario":
        from inboxlab.fakeserver.cli import scenario_main

        return scenario_main(args.scenario_command, getattr(args, "file", None))
    parser.error(f"unknown command {args.command!r}")


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:2525)")
    return host.strip("[]"), int(port)


def _run_bcc(user: str, address: str, listen: tuple[str, int], data: str | None) -> int:
    """``inboxlab bcc``: the logging endpoint alone, headless, until Ctrl-C."""
    import asyncio
    from pathlib import Path

    from inboxlab.engine.crm.attachments import AttachmentStore
    from inboxlab.engine.crm.bcc import BccEndpoint, BccIngest
    from inboxlab.engine.crm.records import CrmStore
    from inboxlab.engine.db import Database
    from inboxlab.tui.settings_store import data_dir

    where = Path(data) if data else data_dir() / "accounts" / user.replace("/", "_")

    async def serve() -> None:
        async with await Database.open(where / "engine.db") as db:
            store = CrmStore(db, AttachmentStore(where / "files"))
            ingest = BccIngest(store, [user], addresses=[address])
            async with BccEndpoint(ingest, address, host=listen[0], port=listen[1]) as ep:
                print(f"BCC/forward logging for {address}: SMTP on {listen[0]}:{ep.port} "
                      f"(database {where / 'engine.db'}); Ctrl-C stops", flush=True)
                await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except OSError as exc:
        print(f"error: cannot listen on {listen[0]}:{listen[1]}: {exc}", file=sys.stderr)
        return Exit.FAILED
    return Exit.OK


if __name__ == "__main__":
    sys.exit(main())
