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

    from inboxlab.fakeserver.scenario.load import load
    from inboxlab.fakeserver.scenario.serve import ScenarioServer
    from inboxlab.scenarios import path_of

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


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _emails(screen: str, email: str) -> int | None:
    """The Emails column of a contact's row on Records (the left pane, before the bar)."""
    import re

    for line in screen.splitlines():
        left = line.split("│")[0]
        found = re.search(rf"{re.escape(email)}\s+\S.*?\s(\d+)\s*$", left)
        if found:
            return int(found.group(1))
    return None


def test_inboxlab_connect_crm_add_send_reply_and_bcc(tmp_path: Path) -> None:
    """Issue 20, in a real terminal on ``inboxlab connect``: add a contact on Records,
    send to it from Compose, the persona's reply lands on the record; a mail BCC'd to the
    logging endpoint (started by ``--bcc``, shown on the dashboard) for two people is
    logged on both records."""
    import asyncio
    import smtplib
    import threading
    from email.message import EmailMessage

    from inboxlab.fakeserver.scenario.load import load
    from inboxlab.fakeserver.scenario.serve import ScenarioServer
    from inboxlab.scenarios import path_of

    if not INBOXLAB.exists():
        pytest.skip(f"the inboxlab console script is not installed at {INBOXLAB}")
    loop = asyncio.new_event_loop()
    server = ScenarioServer(load(path_of("demo")))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    assert server.smtp is not None
    bcc_port = _free_port()
    term = Terminal(f"inboxlab-test-{uuid.uuid4().hex[:8]}")
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "TERM": "xterm-256color",
           "PATH": os.environ.get("PATH", ""), "INBOXLAB_PASSWORD": "inboxlab-demo"}
    command = (f"{INBOXLAB} connect imaps://127.0.0.1:{server.tls_port} "
               f"--smtp smtps://127.0.0.1:{server.smtp.tls_port} --user user@example.com "
               f"--cafile {server.ca_pem_path} --bcc log@bcc.example.com "
               f"--bcc-listen 127.0.0.1:{bcc_port}; echo EXIT=$?; sleep 60")
    try:
        term.tmux("new-session", "-d", "-s", "app", "-x", "140", "-y", "40", command, env=env)
        term.wait_for("BCC/forward logging: log@bcc.example.com")
        term.wait_for("\\Sent")
        term.keys("r")
        term.wait_for("Timeline")
        term.keys("a")
        term.wait_for("Add a contact")
        # Text and a key in one burst read as a paste (the Enter would be lost): each
        # key goes once the screen shows what came before it.
        term.keys("dana@acme.example")
        term.wait_for("dana@acme.example")
        term.keys("Enter")  # saves (the name can be added later with e)
        term.wait_for("Timeline of dana@acme.example")  # the new record, selected
        term.keys("m")
        term.wait_for("To: dana@acme.example")
        term.keys("g")
        term.keys("Enter")
        term.wait_for("Subject: Checking in")  # the preview of the picked template
        term.keys("x")
        term.wait_for("logged", timeout=40)
        term.keys("r")
        wait_until(lambda: _emails(term.screen(), "dana@acme.example") == 2,
                   timeout=60, what="the persona's reply logged on Dana's record")
        msg = EmailMessage()
        msg["From"], msg["Subject"] = "user@example.com", "Visit"
        msg["To"] = "dana@acme.example, Lee <lee@globex.example>"
        msg["Message-ID"] = "<tmux-visit-1@example.com>"
        msg.set_content("See you both on Tuesday.")
        with smtplib.SMTP("127.0.0.1", bcc_port, timeout=20) as smtp:
            smtp.send_message(msg, to_addrs=["log@bcc.example.com"])
        wait_until(lambda: _emails(term.screen(), "lee@globex.example") == 1
                   and _emails(term.screen(), "dana@acme.example") == 3,
                   timeout=30, what="the BCC'd mail on both records")
        term.keys("q", "q")
        screen = term.wait_for("EXIT=", timeout=20)
        assert "EXIT=0" in screen and "Traceback" not in screen
    except AssertionError:
        print(term.screen())
        raise
    finally:
        term.tmux("kill-server")
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_an_outage_in_a_real_terminal_is_one_incident_with_a_countdown_and_a_healed_notice(
        tmp_path: Path) -> None:
    """The demo's own outage (``[[timeline]]`` in demo.toml, moved to 6 s and made 8 s long
    in a copy, run as written by ``inboxlab demo FILE``): the dashboard shows one outage
    with the next retry's countdown; INBOX opened while the server is down says so, with
    the countdown, and opens with its rows once the account is back ("Reconnected after");
    the dashboard then says it healed, and Diagnostics has one row for it."""
    from inboxlab.scenarios import path_of

    if not INBOXLAB.exists():
        pytest.skip(f"the inboxlab console script is not installed at {INBOXLAB}")
    text = path_of("demo").read_text()
    outage = 'trigger = { at = 40 }\naction = { type = "down", seconds = 3 }'
    assert outage in text
    copy = tmp_path / "outage.toml"
    copy.write_text(text.replace(outage, outage.replace("40", "6").replace("3 }", "8 }"))
                    .replace('name = "demo"', 'name = "outage"', 1))
    term = Terminal(f"inboxlab-test-{uuid.uuid4().hex[:8]}")
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "TERM": "xterm-256color",
           "PATH": os.environ.get("PATH", "")}
    command = f"{INBOXLAB} demo {copy}; echo EXIT=$?; sleep 60"
    try:
        term.tmux("new-session", "-d", "-s", "app", "-x", "120", "-y", "36", command, env=env)
        term.wait_for("Watching")
        screen = term.wait_for("ctrl+r reconnects now", timeout=30)
        assert "Outage since" in screen
        term.wait_for("next retry in", timeout=20)  # the countdown is on the screen
        term.keys("Enter")  # INBOX, while the server is down
        screen = term.wait_for("INBOX: opening...", timeout=10)

        def countdown_on_status_line() -> str:  # the line under the title, not a toast
            line = term.screen().splitlines()[1]
            return line if "Retry " in line and "(ctrl+r: now)" in line else ""

        wait_until(countdown_on_status_line, timeout=20, what="the browser's countdown")
        term.wait_for("Reconnected after", timeout=60)  # the healed notice
        term.wait_for("INBOX: 50", timeout=20)  # opened by itself once back
        def rows_read() -> str:
            now = term.screen()
            return now if "…" not in now else ""

        screen = wait_until(rows_read, timeout=20, what="INBOX's rows read (no '…' left)")
        assert "      1 " in screen and "ctrl+r" not in screen.splitlines()[1]
        term.keys("q")
        screen = term.wait_for("Reconnected at", timeout=20)
        assert "1 outage this session" in screen
        term.keys("t")
        screen = term.wait_for("healed after", timeout=10)
        assert "Outages (one row each)" in screen and "ongoing" not in screen
        term.keys("q")
        term.wait_for("Read to UID")
        term.keys("q")
        assert "EXIT=0" in term.wait_for("EXIT=", timeout=20)
    except AssertionError:
        print(term.screen())
        raise
    finally:
        term.tmux("kill-server")
