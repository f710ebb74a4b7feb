"""The command line as a support engineer meets it: clear errors instead of tracebacks,
one exit code for usage errors, ``--version``, a quiet broken pipe; and ``connect``
keeping its CA, refusing without a terminal, one database per account and server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input
from waiting import async_wait_until

from inboxlab.engine.exitcodes import Exit
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer
from inboxlab.fakeserver.scenario.load import load
from inboxlab.fakeserver.scenario.serve import ScenarioServer
from inboxlab.scenarios import path_of
from inboxlab.tui.app import InboxLabApp
from inboxlab.tui.bridge import EngineBridge, account_dir
from inboxlab.tui.bridge.translate import validate_account

INBOXLAB = Path(sys.executable).parent / "inboxlab"


def run(*args: str, env: dict[str, str] | None = None, shell: str | None = None,
        ) -> subprocess.CompletedProcess[str]:
    if not INBOXLAB.exists():
        pytest.skip(f"the inboxlab console script is not installed at {INBOXLAB}")
    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    if shell is not None:
        return subprocess.run(["sh", "-c", shell.replace("inboxlab", str(INBOXLAB))],
                              capture_output=True, text=True, timeout=60, env=base | (env or {}),
                              stdin=subprocess.DEVNULL)
    return subprocess.run([str(INBOXLAB), *args], capture_output=True, text=True, timeout=60,
                          env=base | (env or {}), stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("args", "words"), [
    (("fakeserver", "serve", "--imap-port", "70000"), "70000 is not a TCP port"),
    (("fakeserver", "serve", "--host", "0.0.0.0"), "loopback only"),
])
def test_bad_serve_arguments_are_usage_errors_not_tracebacks(args: tuple[str, ...],
                                                            words: str) -> None:
    done = run(*args)
    assert done.returncode == Exit.USAGE
    assert words in done.stderr and "Traceback" not in done.stderr


def test_record_on_a_port_in_use_says_so() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run("record", "--listen", f"127.0.0.1:{port}", "--upstream", "127.0.0.1:1")
    assert done.returncode == Exit.USAGE
    assert "address already in use" in done.stderr and "Traceback" not in done.stderr


def test_version_and_a_broken_pipe() -> None:
    done = run("--version")
    assert done.returncode == 0 and done.stdout.startswith("inboxlab ")
    piped = run(shell="inboxlab scenario list | head -1")
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr
    assert len(piped.stdout.splitlines()) == 1


def test_demo_refuses_a_bad_scenario_file_like_scenario_check(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[server]\nprofile = "nope"\n')
    check = run("scenario", "check", str(bad))
    demo = run("demo", str(bad))
    assert demo.returncode == check.returncode == Exit.USAGE
    assert "nope" in demo.stderr and "Traceback" not in demo.stderr


def test_connect_without_a_terminal_names_the_missing_password(tmp_path: Path) -> None:
    done = run("connect", "imaps://127.0.0.1:1", "--user", "me@example.com",
               env={"HOME": str(tmp_path), "PYTHON_KEYRING_BACKEND":
                    "keyring.backends.null.Keyring"})
    assert done.returncode == Exit.USAGE
    assert "no terminal to prompt on" in done.stderr and "INBOXLAB_PASSWORD" in done.stderr
    assert "GetPassWarning" not in done.stderr and "Traceback" not in done.stderr


def test_one_database_per_account_and_server(tmp_path: Path) -> None:
    one = AccountSettings(username="admin", imap=ImapServer("imap.acme.example", 993))
    two = AccountSettings(username="admin", imap=ImapServer("imap.globex.example", 993))
    assert account_dir(tmp_path, one) != account_dir(tmp_path, two)
    assert account_dir(tmp_path, one) == account_dir(tmp_path, one)


def test_the_connect_form_validates_its_optional_fields(tmp_path: Path) -> None:
    ok, problem = validate_account("imap.example.com", "me", security="starttls",
                                   smtp="smtps://smtp.example.com:465")
    assert problem is None and ok is not None
    assert ok.imap.security == "starttls" and ok.smtp is not None and ok.smtp.port == 465
    assert "not a readable file" in str(validate_account("h", "me", cafile="/nope.pem")[1])
    assert "smtp" in str(validate_account("h", "me", smtp="smtp://a b")[1]).lower()


async def test_reconnecting_from_the_form_keeps_the_command_lines_cafile(
        tmp_path: Path) -> None:
    """``inboxlab connect --cafile ca.pem``: typing the credentials again in the form
    reconnects to the same server, still trusting ca.pem (it used to drop it and fail
    as an untrusted certificate)."""
    scenario = load(path_of("demo"))
    async with ScenarioServer(scenario, control_port=None, smtp=False) as srv:
        account = scenario.accounts[0]
        settings = AccountSettings(username=account.username,
                                   imap=ImapServer(srv.host, srv.tls_port, "tls"))
        bridge = EngineBridge(settings=settings, secret=Secret(account.password or ""),
                              scenario=None, data_dir=tmp_path / "db",
                              cafile=str(srv.ca_pem_path))
        bridge.real_data_dir = tmp_path / "data"
        app = InboxLabApp(bridge, cursor_blink=False)

        def state() -> Any:
            return app.model.state.state if app.model.state else None

        async with app.run_test(size=(120, 40)) as pilot:
            await async_wait_until(lambda: state() == "idle", timeout=20, what="watching")
            first = bridge.account
            await pilot.press("c")
            screen = app.screen
            screen.query_one("#server", Input).value = f"imaps://{srv.host}:{srv.tls_port}"
            screen.query_one("#username", Input).value = account.username
            screen.query_one("#password", Input).value = account.password or ""
            screen.query_one("#password", Input).focus()
            await pilot.pause()
            await pilot.press("enter")
            await async_wait_until(lambda: bridge.account is not first, timeout=10,
                                   what="the form's account to start")
            await async_wait_until(lambda: state() in ("idle", "connect_error"), timeout=20,
                                   what="the account settled or refused")
            assert state() == "idle", [d.message for d in app.model.disconnects]
        bridge.stop()
