"""Run the engine (crash_child.py) in a child process against fake servers in this one,
kill it with SIGKILL at a named point - or from a server hook, mid-command - and restart.

The servers live in the test's event loop, so they keep serving (and keep their state,
the server's truth) across the child's deaths, like a real provider would.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inboxlab.engine.crashpoints import ENV
from inboxlab.fakeserver.config import AccountConfig, FolderConfig, ServerConfig
from inboxlab.fakeserver.imap.hooks import Reply, ServerHooks
from inboxlab.fakeserver.imap.server import FakeImapServer
from inboxlab.fakeserver.imap.session import ImapSession
from inboxlab.fakeserver.imap.syntax.commands import Command
from inboxlab.fakeserver.smtp.config import PersonaSpec, SmtpConfig
from inboxlab.fakeserver.smtp.server import FakeSmtpServer

CHILD = Path(__file__).with_name("crash_child.py")
USER, PASSWORD = "sam@crm.test", "crash-lab-pass"
BOB = "bob@client.test"
KILLED = -signal.SIGKILL


class KillOn(ServerHooks):
    """Kill the child when the server sees command ``name`` (the ``nth`` time), optionally
    after doing the command's work (``land``: the APPEND is stored, the answer never sent)."""

    def __init__(self) -> None:
        self.name: str | None = None
        self.nth = 1
        self.land = False
        self.seen = 0
        self.pid: int | None = None
        self.fired = False

    def arm(self, name: str, pid: int, *, nth: int = 1, land: bool = False) -> None:
        self.name, self.pid, self.nth, self.land, self.seen = name, pid, nth, land, 0

    def on_command(self, session: ImapSession, command: Command) -> Reply | None:
        if self.name is None or command.name != self.name or self.pid is None:
            return None
        self.seen += 1
        if self.seen != self.nth:
            return None
        if self.land and command.name == "APPEND" and session.account is not None:
            args = command.args
            session.account.get(args.mailbox).append(args.message, args.flags)  # type: ignore[attr-defined]
        os.kill(self.pid, signal.SIGKILL)
        self.fired, self.name = True, None
        return Reply(b"", close=True)


@dataclass
class CrashLab:
    imap: FakeImapServer
    smtp: FakeSmtpServer
    tmp: Path
    hooks: KillOn
    runs: list[tuple[str | None, int]] = field(default_factory=list)

    def config(self, job: str, **extra: Any) -> dict[str, Any]:
        return {"job": job, "user": USER, "password": PASSWORD, "db": str(self.tmp / "engine.db"),
                "files": str(self.tmp / "files"), "imap_port": self.imap.port,
                "smtp_port": self.smtp.port, "ca": str(self.imap.ca_pem_path), "sent": "Sent",
                "to": BOB, "subject": "Quote for 12 widgets", **extra}

    async def run(self, job: str, *, crash_at: str | None = None, kill_on: str | None = None,
                  nth: int = 1, land: bool = False, **extra: Any) -> tuple[int, dict[str, Any]]:
        """One life of the engine; returns (exit code, its JSON summary or {})."""
        env = {k: v for k, v in os.environ.items() if k != ENV}
        if crash_at:
            env[ENV] = crash_at
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(CHILD), json.dumps(self.config(job, **extra)),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
        if kill_on:
            self.hooks.arm(kill_on, proc.pid, nth=nth, land=land)
        async with asyncio.timeout(120):
            out, err = await proc.communicate()
        self.hooks.name = None
        code = proc.returncode if proc.returncode is not None else 0
        self.runs.append((crash_at or kill_on, code))
        if code not in (0, KILLED):
            raise AssertionError(f"engine child failed ({code}):\n{err.decode()[-3000:]}")
        text = out.decode().strip()
        return code, (json.loads(text.splitlines()[-1]) if code == 0 and text else {})

    def folder_ids(self, folder: str) -> list[str]:
        account = self.imap.store.authenticate(USER, PASSWORD)
        assert account is not None
        box = account.get(folder)
        out = []
        for uid in box.uids():
            for line in box.raw(uid).split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    out.append(line.split(b":", 1)[1].strip().decode())
                    break
        return out

    def inbox(self) -> Any:
        account = self.imap.store.authenticate(USER, PASSWORD)
        assert account is not None
        return account.get("INBOX")


@asynccontextmanager
async def crash_lab(tmp: Path, *,
                    personas: tuple[PersonaSpec, ...] = ()) -> AsyncIterator[CrashLab]:
    folders = (FolderConfig("INBOX"), FolderConfig("Sent", special_use=("\\Sent",)))
    config = ServerConfig(accounts=(AccountConfig(USER, PASSWORD, folders),))
    hooks = KillOn()
    async with FakeImapServer(config, hooks=hooks) as imap, \
            FakeSmtpServer.for_store(SmtpConfig(personas=personas), imap.store,
                                     tls=imap.tls) as smtp:
        yield CrashLab(imap, smtp, tmp, hooks)
