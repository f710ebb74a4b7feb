"""``inboxlab fakeserver serve`` and ``inboxlab scenario ...`` (called by tui/cli.py).

Serving runs until Ctrl-C or SIGTERM and exits 0; it prints everything a client needs:
host, ports, the CA file to trust, and the demo credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

from inboxlab.fakeserver.config import DEMO_PASSWORD

# The CLI's exit codes (the table is engine/exitcodes.py; this room may not import it,
# tests/test_exitcodes.py holds the numbers together).
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 2, 3


def serve_main(scenario: str | None, host: str, imap_port: int, imaps_port: int) -> int:
    """Serve a scenario (bundled name or TOML file; the demo when None) until Ctrl-C.

    The scenario is loaded and validated first: an invalid one prints the file, line,
    key and problem and returns 3 (usage) before any socket opens. 0 on a clean stop.
    """
    from inboxlab.fakeserver.errors import ScenarioError
    from inboxlab.fakeserver.scenario.load import load
    from inboxlab.fakeserver.scenario.serve import ScenarioServer
    from inboxlab.scenarios import DEFAULT, path_of

    try:
        loaded = load(path_of(scenario or DEFAULT))
    except (FileNotFoundError, ScenarioError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        async with ScenarioServer(loaded, host=host, port=imap_port,
                                  tls_port=imaps_port) as srv:
            ends = srv.endpoints()
            lines = [
                f"inboxlab fake servers: scenario {loaded.name!r}",
                f"  {loaded.description}" if loaded.description else "",
                f"  profile:    {loaded.profile.name}",
                f"  host:       {ends['host']}",
                f"  IMAP:       {ends['imap_port']}  (plain, STARTTLS when the profile has it)",
                f"  IMAPS:      {ends['imaps_port']}  (implicit TLS)",
            ]
            if "smtp_port" in ends:
                lines.append(f"  SMTP:       {ends['smtp_port']}  (submission, STARTTLS)")
                lines.append(f"  SMTPS:      {ends['smtps_port']}  (implicit TLS)")
            lines.append(f"  CA file:    {ends['ca_file']}  (trust this to verify the servers)")
            if "control" in ends:
                lines.append(f"  control:    {ends['control']}  (JSON: /sessions /counters "
                             "/events, POST /actions)")
                lines.append(f"  token:      {ends['control_token']}  (send it as "
                             "'Authorization: Bearer TOKEN')")
            if "token_endpoint" in ends:
                lines.append(f"  OAuth:      {ends['token_endpoint']}  (POST /token, "
                             "/introspect; XOAUTH2/OAUTHBEARER on IMAP and SMTP)")
                commands = ends["token_commands"]
                assert isinstance(commands, dict)
                for user, command in commands.items():
                    lines.append(f"  token cmd:  {user}: {command}")
            for account in loaded.accounts:
                shown = DEMO_PASSWORD if account.password == DEMO_PASSWORD else "(see scenario)"
                lines.append(f"  account:    {account.username} / {shown}")
            lines.append("Press Ctrl-C to stop.")
            print("\n".join(line for line in lines if line), flush=True)
            await stop.wait()
        print("stopped", flush=True)

    try:
        asyncio.run(run())
    except OSError as exc:  # port in use, bad address
        print(f"error: cannot serve on {host}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        pass
    return 0


def scenario_main(action: str, file: str | None) -> int:
    """``list``: bundled scenarios with their descriptions; ``check FILE``: validate one.

    Exit codes: 0 valid, 3 invalid (the error names file, line, key and problem), 2 a
    bundled scenario does not load.
    """
    from inboxlab.fakeserver.errors import ScenarioError
    from inboxlab.fakeserver.scenario.load import load
    from inboxlab.scenarios import DEFAULT, bundled, path_of

    if action == "list":
        status = 0
        for name, path in bundled().items():
            try:
                loaded = load(path)
            except ScenarioError as exc:
                print(f"{name:24} INVALID: {exc}")
                status = EXIT_FAILED
                continue
            mark = " (default)" if name == DEFAULT else ""
            print(f"{name:24} [{loaded.profile.name}] {loaded.description}{mark}")
        return status
    if action == "check":
        if not file:
            print("error: scenario check needs a FILE (or a bundled name)", file=sys.stderr)
            return EXIT_USAGE
        try:
            loaded = load(path_of(file))
        except (FileNotFoundError, ScenarioError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"ok: {loaded.name} (profile {loaded.profile.name}, "
              f"{len(loaded.accounts)} account(s), {len(loaded.timeline)} timeline event(s), "
              f"{len(loaded.expect)} expectation(s))")
        return 0
    print(f"error: unknown scenario action {action!r} (list, check)", file=sys.stderr)
    return EXIT_USAGE
