"""``inboxlab fakeserver serve``, on the public lab API (called by cli/main.py).

Serving runs until Ctrl-C or SIGTERM and exits 0; it prints everything a client needs:
host, ports, the CA file to trust, the control endpoint and its token, and the logins.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import signal
import sys

from inboxlab.fakeserver.config import DEMO_PASSWORD
from inboxlab.lab.api import Lab
from inboxlab.lab.errors import LabStartError, ScenarioInvalid
from inboxlab.scenarios import DEFAULT

# The CLI's exit codes (the table is engine/exitcodes.py; this room may not import it,
# tests/test_exitcodes.py holds the numbers together).
EXIT_OK, EXIT_USAGE = 0, 3


def describe(lab: Lab) -> list[str]:
    """The endpoint lines ``serve`` prints (the README's "serve" output)."""
    lines = [f"inboxlab fake servers: scenario {lab.scenario!r}",
             f"  {lab.description}" if lab.description else "",
             f"  profile:    {lab.profile}",
             f"  host:       {lab.host}",
             f"  IMAP:       {lab.imap.port}  (plain, STARTTLS when the profile has it)",
             f"  IMAPS:      {lab.imaps.port}  (implicit TLS)"]
    if lab.smtp is not None:
        lines.append(f"  SMTP:       {lab.smtp.port}  (submission, STARTTLS)")
    if lab.smtps is not None:
        lines.append(f"  SMTPS:      {lab.smtps.port}  (implicit TLS)")
    lines.append(f"  CA file:    {lab.ca_file}  (trust this to verify the servers)")
    control = lab.control
    lines.append(f"  control:    {control.url}/  (JSON: /sessions /counters /events, "
                 "POST /actions)")
    lines.append(f"  token:      {control.token}  (send it as 'Authorization: Bearer TOKEN')")
    if lab.token_endpoint is not None:
        lines.append(f"  OAuth:      {lab.token_endpoint}  (POST /token, /introspect; "
                     "XOAUTH2/OAUTHBEARER on IMAP and SMTP)")
        for login in lab.logins:
            command = shlex.join(lab.token_command(login.username))
            lines.append(f"  token cmd:  {login.username}: {command}")
    for login in lab.logins:
        shown = DEMO_PASSWORD if login.password == DEMO_PASSWORD else "(see scenario)"
        lines.append(f"  account:    {login.username} / {shown}")
    return [line for line in lines if line]


def serve_main(scenario: str | None, host: str, imap_port: int, imaps_port: int) -> int:
    """Serve a scenario (bundled name or TOML file; the demo when None) until Ctrl-C.

    The scenario is loaded and validated first: an invalid one prints the file, line,
    key and problem and returns 3 (usage) before any socket opens. 0 on a clean stop.
    """

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        async with Lab(scenario or DEFAULT, host=host, imap_port=imap_port,
                       imaps_port=imaps_port) as lab:
            print("\n".join([*describe(lab), "Press Ctrl-C to stop."]), flush=True)
            await stop.wait()
        print("stopped", flush=True)

    try:
        asyncio.run(run())
    except ScenarioInvalid as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LabStartError as exc:  # port in use, bad address
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        pass
    return EXIT_OK
