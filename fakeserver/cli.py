"""``inboxlab fakeserver serve`` and ``inboxlab scenario ...`` (called by tui/cli.py).

Serving runs until Ctrl-C or SIGTERM and exits 0; it prints everything a client needs:
host, ports, the CA file to trust, and the demo credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

from fakeserver.config import DEMO_PASSWORD, DEMO_USER, ServerConfig, default_config
from fakeserver.imap.server import FakeImapServer


def _describe(srv: FakeImapServer, config: ServerConfig) -> str:
    lines = [
        "inboxlab fake IMAP server",
        f"  host:       {srv.host}",
        f"  IMAP:       {srv.port}  (plain, STARTTLS available)",
        f"  IMAPS:      {srv.tls_port}  (implicit TLS)",
        f"  CA file:    {srv.ca_pem_path}  (trust this to verify the server)",
    ]
    for account in config.accounts:
        shown = DEMO_PASSWORD if account.username == DEMO_USER else "(see scenario)"
        lines.append(f"  account:    {account.username} / {shown}")
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


async def _serve(config: ServerConfig, host: str, imap_port: int, imaps_port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with FakeImapServer(config, host=host, port=imap_port, tls_port=imaps_port) as srv:
        print(_describe(srv, config), flush=True)
        await stop.wait()
    print("stopped", flush=True)


def serve_main(scenario: str | None, host: str, imap_port: int, imaps_port: int) -> int:
    """Serve the demo (or, later, a scenario) on ``host``; 0 on a clean stop."""
    if scenario not in (None, "demo"):
        print(f"error: scenario {scenario!r}: only the built-in demo can be served yet",
              file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(default_config(), host, imap_port, imaps_port))
    except OSError as exc:  # port in use, bad address
        print(f"error: cannot serve on {host}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def scenario_main(action: str, file: str | None) -> int:
    """Placeholder until the scenario package provides list/check."""
    print("scenarios are not implemented yet", file=sys.stderr)
    return 2
