"""``inboxlab`` in a real terminal: tmux runs it, we press keys and read the screen back.

This is the whole product as a person meets it: the console script, the demo's fake
servers in-process, the engine thread, the real terminal driver, and a clean exit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from waiting import wait_until

TMUX = shutil.which("tmux")
INBOXLAB = Path(sys.executable).parent / "inboxlab"

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


class Terminal:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str, env: dict[str, str] | None = None) -> str:
        assert TMUX is not None
        done = subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True,
                              timeout=10, env=env)
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "app")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "app", *keys)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        try:
            return wait_until(lambda: self.screen() if text in self.screen() else "",
                              timeout=timeout, what=f"{text!r} on the screen")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the screen:\n{self.screen()}") from None


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    if not INBOXLAB.exists():
        pytest.skip(f"the inboxlab console script is not installed at {INBOXLAB}")
    term = Terminal(f"inboxlab-test-{uuid.uuid4().hex[:8]}")
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "TERM": "xterm-256color",
           "PATH": os.environ.get("PATH", "")}
    command = f"{INBOXLAB}; echo EXIT=$?; sleep 60"
    # A clean environment: the server (and so the app) must not inherit pytest's
    # COLUMNS/LINES, which would override the pane's size.
    term.tmux("new-session", "-d", "-s", "app", "-x", "120", "-y", "36", command, env=env)
    yield term
    term.tmux("kill-server")


def test_inboxlab_opens_the_demo_and_quits_cleanly(terminal: Terminal) -> None:
    terminal.wait_for("Watching")
    screen = terminal.wait_for("connections in use: 2 / 5")
    assert "Sent" in screen and "\\Sent" in screen
    terminal.keys("Enter")  # open INBOX
    screen = terminal.wait_for("INBOX: 50")
    assert "      1 " in screen
    terminal.keys("t")
    terminal.wait_for("Protocol trace")
    terminal.keys("q")  # back to the browser
    terminal.wait_for("INBOX: 50")
    terminal.keys("d")  # the dashboard
    terminal.wait_for("Read to UID")
    terminal.keys("q")  # quit
    screen = terminal.wait_for("EXIT=", timeout=20)
    assert "EXIT=0" in screen
    assert "Traceback" not in screen and "Error" not in screen


def test_inboxlab_connect_drives_a_served_mailbox(tmp_path: Path) -> None:
    """``inboxlab connect`` against fake servers in another process, as against a real
    mailbox: the password from INBOXLAB_PASSWORD, the fake CA via --cafile."""
    import asyncio
    import threading

    from fakeserver.scenario.load import load
    from fakeserver.scenario.serve import ScenarioServer
    from scenarios import path_of

    if not INBOXLAB.exists():
        pytest.skip(f"the inboxlab console script is not installed at {INBOXLAB}")
    loop = asyncio.new_event_loop()
    server = ScenarioServer(load(path_of("demo")))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    term = Terminal(f"inboxlab-test-{uuid.uuid4().hex[:8]}")
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "TERM": "xterm-256color",
           "PATH": os.environ.get("PATH", ""), "INBOXLAB_PASSWORD": "inboxlab-demo"}
    command = (f"{INBOXLAB} connect imaps://127.0.0.1:{server.tls_port} "
               f"--user user@example.com --cafile {server.ca_pem_path}; echo EXIT=$?; sleep 60")
    try:
        term.tmux("new-session", "-d", "-s", "app", "-x", "120", "-y", "36", command, env=env)
        screen = term.wait_for("Watching")
        assert "user@example.com" in screen
        term.wait_for("\\Sent")
        term.keys("q")
        assert "EXIT=0" in term.wait_for("EXIT=", timeout=20)
        assert (tmp_path / "data" / "inboxlab" / "accounts").is_dir()  # the XDG data dir
    finally:
        term.tmux("kill-server")
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
