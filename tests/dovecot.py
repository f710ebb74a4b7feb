"""A throwaway real Dovecot: the interop reference the engine and the fake server are judged by.

Why a real one: the fake server is only as good as the things it is compared with, and Dovecot
is what most "generic IMAP" customers actually run. Each instance is self-contained under one
temporary directory (config, sockets, state, logs, TLS material, maildirs) and is started with
``dovecot -F -c <config>`` so nothing from /etc/dovecot leaks in.

Why it loads maildir files directly instead of APPENDing: 100k messages over IMAP take
minutes; writing ``cur/`` files with the mtime as INTERNALDATE takes seconds, and Dovecot
indexes them on first access exactly as it would a migrated mailbox.

Setup (config, TLS, identities) is in tests/dovecot_setup.py, the maildir writer in
tests/dovecot_maildir.py. Used by tests/conftest.py (fixtures) and by bench/dovecot.py
(which imports this module: there is one implementation).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType

from dovecot_maildir import MaildirWriter, folder_dir
from dovecot_setup import (
    DEFAULT_USERS,
    Account,
    DovecotError,
    check_traversable,
    check_user_name,
    ensure_ids,
    find_doveadm,
    find_dovecot,
    free_port,
    remove_tree,
    render_config,
    ssha256,
    write_tls,
)


def _read_greeting(host: str, port: int, timeout: float) -> bytes:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        return sock.recv(4096)


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies count as gone)."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True  # no /proc: all we know is that the group exists
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after ")"
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def _wait_group_gone(pgid: int, timeout: float = 15.0) -> None:
    """SIGKILL is delivered, not awaited: imap-login children hold the listening sockets
    until they are really gone, so wait for the whole group before calling it stopped.
    Zombies count as gone: they hold no sockets, and reaping them is init's business."""
    deadline = time.monotonic() + timeout
    while _group_alive(pgid):
        if time.monotonic() >= deadline:
            raise DovecotError(f"Dovecot's process group {pgid} outlived SIGKILL by {timeout}s")
        time.sleep(0.01)  # polling interval of a deadline-bounded condition wait


# Becomes dovecot -F (exec: the master keeps this pid) after forking a watcher of our end
# of its stdin pipe. When that closes (stop(), or this process dying, even by SIGKILL) the
# watcher SIGTERMs the master, waits for it to exit and removes the throwaway root ($3,
# empty when the caller owns it): no orphan daemons, no stray maildirs in /dev/shm.
# Background jobs get /dev/null as stdin, hence fd 3.
_SUPERVISOR = r"""
exec 3<&0
{
  read -r _ <&3
  kill -TERM "$$" 2>/dev/null
  while kill -0 "$$" 2>/dev/null; do sleep 0.1; done
  if [ -n "$3" ]; then rm -rf -- "$3"; fi
} </dev/null &
exec "$1" -F -c "$2" </dev/null 3<&-
"""

__all__ = ["Account", "DovecotError", "DovecotHandle", "find_dovecot", "start_dovecot"]


class DovecotHandle:
    """A running throwaway Dovecot. Use as a context manager or call stop()."""

    host = "127.0.0.1"

    def __init__(self, root: Path, *, special_use: bool, users: Sequence[Account],
                 owns_root: bool, extra_config: str = "", startup_timeout: float = 30.0) -> None:
        dovecot = find_dovecot()
        if dovecot is None:
            raise DovecotError("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
        self.root = root
        self.special_use = special_use
        self.extra_config = extra_config
        self.users: tuple[Account, ...] = tuple(users)
        self.config_path = root / "dovecot.conf"
        self.log_path = root / "dovecot.log"
        self.port = 0
        self.tls_port = 0
        self._dovecot = dovecot
        self._doveadm = find_doveadm(dovecot)
        self._owns_root = owns_root
        self._proc: subprocess.Popen[bytes] | None = None
        self._ids = ensure_ids()
        self._writer = MaildirWriter(self._ids.mail_uid, self._ids.mail_gid)
        self._prepare()
        try:
            self._start(startup_timeout)
        except BaseException:
            self._terminate(graceful=False)  # e.g. no greeting in time: leave no daemon behind
            raise

    # ---- lifecycle -------------------------------------------------------------------------
    def _prepare(self) -> None:
        check_traversable(self.root, self._ids)
        self.root.mkdir(parents=True, exist_ok=True)
        if any(self.root.iterdir()):
            raise DovecotError(f"{self.root} is not empty; give each Dovecot its own directory")
        self.root.chmod(0o755)
        for sub in ("run", "state", "home"):
            (self.root / sub).mkdir(mode=0o755)
        self.ca_pem = write_tls(self.root)
        for account in self.users:
            self._write_passwd(account)
            self._make_home(account.name)

    def _start(self, timeout: float) -> None:
        for _attempt in range(5):
            self.port, self.tls_port = free_port(), free_port()
            if self.port == self.tls_port:
                continue
            self.config_path.write_text(render_config(
                self.root, self._ids, port=self.port, tls_port=self.tls_port,
                special_use=self.special_use) + self.extra_config + "\n")
            stderr = (self.root / "dovecot.stderr").open("ab")
            with stderr:
                self._proc = subprocess.Popen(
                    ["/bin/sh", "-c", _SUPERVISOR, "inboxlab-dovecot", self._dovecot,
                     str(self.config_path), str(self.root) if self._owns_root else ""],
                    stdin=subprocess.PIPE, stdout=stderr, stderr=stderr,
                    start_new_session=True,  # its own process group: stop() can reap it whole
                )
            if self._wait_ready(timeout):
                return
            self._terminate(graceful=False)  # graceful would let the watcher delete root
            if "Address already in use" not in self.log_tail():
                break
        raise DovecotError("dovecot did not come up", log_tail=self.log_tail())

    def _wait_ready(self, timeout: float) -> bool:
        """Poll until both listeners greet; False if the master died (e.g. port collision)."""
        deadline = time.monotonic() + timeout
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                # the master binds every listener before it forks: one greeting covers both
                greeting = _read_greeting(self.host, self.port, timeout=2.0)
            except OSError:
                time.sleep(0.02)  # polling interval of a deadline-bounded condition wait
                continue
            if greeting.startswith(b"* OK"):
                return True
        raise DovecotError(f"dovecot gave no greeting within {timeout:.0f}s",
                           log_tail=self.log_tail())

    def _terminate(self, *, graceful: bool = True) -> None:
        """Graceful: close the supervisor's stdin (it SIGTERMs the master, waits for it).
        Then, or at once, SIGKILL the whole process group (every Dovecot child is in it).

        A graceful stop costs the master's ~1 s shutdown wait, pointless for a directory that
        is about to be deleted, so stop() only asks for it when the directory is kept.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if graceful and proc.poll() is None:
            with contextlib.suppress(OSError):
                assert proc.stdin is not None
                proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        _wait_group_gone(proc.pid)

    def stop(self) -> None:
        """Stop Dovecot (children too) and remove the directory if start_dovecot made it."""
        self._terminate(graceful=not self._owns_root)
        if self._owns_root:
            remove_tree(self.root)

    def __enter__(self) -> DovecotHandle:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (f"DovecotHandle(port={self.port}, tls_port={self.tls_port}, "
                f"special_use={self.special_use}, users={[a.name for a in self.users]})")

    # ---- users -----------------------------------------------------------------------------
    @property
    def user(self) -> str:
        return self.users[0].name

    @property
    def password(self) -> str:
        return self.users[0].password

    def password_of(self, user: str) -> str:
        for account in self.users:
            if account.name == user:
                return account.password
        have = [a.name for a in self.users]
        raise DovecotError(f"no user {user!r} on this Dovecot (have {have})")

    def add_user(self, name: str, password: str) -> Account:
        """Add a login while running: gives each test its own mailboxes on a shared server."""
        if any(a.name == name for a in self.users):
            raise DovecotError(f"user {name!r} already exists")
        account = Account(name, password)
        check_user_name(name)
        self.users = (*self.users, account)
        self._write_passwd(account)
        self._make_home(name)
        return account

    def _write_passwd(self, account: Account) -> None:
        """One passwd-file per user (the path has %u): a new user is a new file Dovecot reads
        fresh, where editing one shared file races its once-a-second change check."""
        check_user_name(account.name)
        folder = self.root / "passwd.d"
        folder.mkdir(mode=0o755, exist_ok=True)
        tmp = folder / f".{account.name}.tmp"
        tmp.write_text(f"{account.name}:{ssha256(account.password)}::::::\n")
        tmp.chmod(0o644)  # a salted hash only; the auth process runs as the internal user
        tmp.replace(folder / account.name)

    def _make_home(self, name: str) -> None:
        home = self.root / "home" / name
        for path in (home, home / "Maildir"):
            path.mkdir(mode=0o700, exist_ok=True)
            os.chown(path, self._ids.mail_uid, self._ids.mail_gid)

    def maildir(self, user: str | None = None) -> Path:
        name = self.user if user is None else user
        self.password_of(name)  # validates the name
        return self.root / "home" / name / "Maildir"

    # ---- tools -----------------------------------------------------------------------------
    def log_tail(self, lines: int = 30) -> str:
        text = ""
        for path in (self.log_path, self.root / "dovecot.stderr"):
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def doveadm(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        """Run ``doveadm -c <our config> ARGS``; returns stdout, raises with stderr on failure."""
        done = subprocess.run([self._doveadm, "-c", str(self.config_path), *args],
                              capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise DovecotError(f"doveadm {' '.join(args)} exited {done.returncode}: "
                               f"{done.stderr.strip()}", log_tail=self.log_tail(10))
        return done.stdout

    def set_uidvalidity(self, user: str, folder: str, value: int) -> None:
        """Give folder a new UIDVALIDITY, as a server does after rebuilding a mailbox."""
        if not 0 < value < 2**32:
            raise DovecotError(f"UIDVALIDITY must be in 1..2**32-1, got {value!r}")
        self.password_of(user)
        self.doveadm("mailbox", "update", "--uid-validity", str(value), "-u", user, folder)

    # ---- failures a test induces (issue 13: stop, kill, SIGSTOP, reconfigure) ---------------
    def _group(self) -> int:
        if self._proc is None:
            raise DovecotError("dovecot is not running")
        return self._proc.pid  # the master; start_new_session made it the group leader

    def pause(self) -> None:
        """SIGSTOP every Dovecot process: the kernel still accepts TCP, nobody answers."""
        os.killpg(self._group(), signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self._group(), signal.SIGCONT)

    def processes(self, name: str) -> list[int]:
        """Pids of this instance's processes whose command name is ``name`` (``imap``...)."""
        group, found = self._group(), []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                comm = stat[stat.index("(") + 1 : stat.rindex(")")]
                fields = stat[stat.rindex(")") + 2 :].split()
                if int(fields[2]) == group and comm == name:
                    found.append(int(entry.name))
        return found

    def kill_imap(self) -> int:
        """kill -9 every ``imap`` process (the sessions die mid-command); how many."""
        pids = self.processes("imap")
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)

    def shutdown(self) -> None:
        """SIGTERM the master, as ``systemctl stop`` does: sessions get
        ``* BYE Server shutting down.``, then nothing listens. ``stop()`` still cleans up."""
        proc = self._proc
        if proc is None:
            return
        # what the master's shutdown_clients does, done first so it does not depend on timing
        for pid in self.processes("imap"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)

    def reconfigure(self, extra_config: str, *, plain_address: str | None = None) -> None:
        """Restart the same instance (same users, maildirs, ports) with more config.

        ``plain_address`` (e.g. ``127.0.0.2``) moves the plain listener there: Dovecot
        counts a connection from its own address as secure, so LOGINDISABLED shows only
        when client and server addresses differ. ``self.host`` follows it."""
        self._terminate(graceful=False)
        if plain_address is not None:
            extra_config += ("\nservice imap-login {\n  inet_listener imap {\n"
                             f"    address = {plain_address}\n  }}\n}}\n")
            self.host = plain_address
        self.extra_config = extra_config
        ports = self.port, self.tls_port
        self.config_path.write_text(render_config(
            self.root, self._ids, port=ports[0], tls_port=ports[1],
            special_use=self.special_use) + extra_config + "\n")
        stderr = (self.root / "dovecot.stderr").open("ab")
        with stderr:
            self._proc = subprocess.Popen(
                ["/bin/sh", "-c", _SUPERVISOR, "inboxlab-dovecot", self._dovecot,
                 str(self.config_path), str(self.root) if self._owns_root else ""],
                stdin=subprocess.PIPE, stdout=stderr, stderr=stderr, start_new_session=True)
        if not self._wait_ready(30.0):
            raise DovecotError("dovecot did not come back", log_tail=self.log_tail())

    def kick(self, user: str) -> None:
        """Disconnect every session of user (Dovecot says ``* BYE Server shutting down.``)."""
        self.password_of(user)
        self.doveadm("kick", user)

    def load_messages(
        self, user: str, folder: str, messages: Iterable[tuple[bytes, str, datetime]],
        *, index: bool = False,
    ) -> int:
        """Write messages straight into the maildir, in order; returns how many were written.

        INTERNALDATE is the file mtime. File names sort in load order, which is the order
        Dovecot assigns UIDs in, so message i of this call gets the i-th new UID. The S=/W=
        sizes in the name spare Dovecot a read to answer RFC822.SIZE.

        See tests/dovecot_maildir.py for how (and how fast).
        """
        count = self._writer.write(folder_dir(self.maildir(user), folder), messages)
        if index:
            self.doveadm("index", "-u", user, folder)
        return count


def scratch_dir() -> str | None:
    """Where throwaway roots go: $INBOXLAB_DOVECOT_TMPDIR, else /dev/shm when it is roomy.

    A RAM-backed directory makes loading 100k maildir files several times faster and keeps
    the disk (shared by parallel test runs) out of the figures; None means the system default.
    """
    chosen = os.environ.get("INBOXLAB_DOVECOT_TMPDIR")
    if chosen:
        return chosen
    with contextlib.suppress(OSError):
        stat = os.statvfs("/dev/shm")
        if stat.f_bavail * stat.f_frsize >= 2 << 30 and os.access("/dev/shm", os.W_OK):
            return "/dev/shm"
    return None


def start_dovecot(
    root: Path | None = None, *, special_use: bool = True,
    users: Iterable[tuple[str, str]] = DEFAULT_USERS, extra_config: str = "",
) -> DovecotHandle:
    """Start a throwaway Dovecot under root (made and removed here when None).

    extra_config is appended to the generated dovecot.conf (later settings win), e.g.
    ``imap_capability = IMAP4rev1 IDLE`` for a server without CONDSTORE, or
    ``mail_max_userip_connections = 2`` to provoke a connection limit.
    """
    accounts = [Account(name, password) for name, password in users]
    if not accounts:
        raise DovecotError("give at least one (user, password)")
    owns = root is None
    where = Path(tempfile.mkdtemp(prefix="inboxlab-dovecot-", dir=scratch_dir())) \
        if root is None else root
    try:
        return DovecotHandle(where, special_use=special_use, users=accounts, owns_root=owns,
                             extra_config=extra_config)
    except BaseException:
        if owns:
            remove_tree(where)
        raise


@contextlib.contextmanager
def running_dovecot(**kwargs: object) -> Iterator[DovecotHandle]:
    handle = start_dovecot(**kwargs)  # type: ignore[arg-type]
    try:
        yield handle
    finally:
        handle.stop()
