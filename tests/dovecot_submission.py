"""Dovecot's own submission service (Debian dovecot-submissiond): the real SMTP server.

Why this one: it is a real, widely deployed SMTP submission server that runs as one more
service of the throwaway Dovecot in tests/dovecot.py (same root, same users, same TLS
material, no root daemon, no system MTA), so each test gets a private instance in well
under a second. It speaks SMTP up to AUTH by itself; a message it accepts is relayed to
``submission_relay_host``, which tests that only probe the connection and login never reach.

What it can be made to do, for the diagnose table of issue 13:

- a 421 as its first line: Dovecot sends the greeting only once its login process is
  connected to the auth service. ``greetings_held()`` SIGSTOPs auth, so a new connection
  waits ungreeted; SIGTERMing that login process (``terminate_waiting()``) makes it say
  ``421 4.3.2 <hostname> Shutting down`` before any greeting, as during a restart;
- the other protocol on a port (IMAP pointed at the submission port);
- STARTTLS missing (``tls=False``), the implicit-TLS port (``tls_port``), a stopped server
  (``dovecot.pause()``), a refused AUTH (a password it does not know).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dovecot import DovecotHandle
from dovecot_setup import free_port

SUBMISSION_LOGIN = Path("/usr/lib/dovecot/submission-login")
HOSTNAME = "mx.inboxlab.test"  # in every reply line: proves the words are Dovecot's own
MISSING = ("Dovecot's submission service is not installed (Debian: apt-get install "
           "dovecot-submissiond; .ci/run installs it)")


def have_submission() -> bool:
    return os.access(SUBMISSION_LOGIN, os.X_OK)


def submission_config(port: int, tls_port: int | None) -> str:
    """Config appended to tests/dovecot.py's: a submission listener (STARTTLS when the
    instance has TLS) and, given ``tls_port``, an implicit-TLS one. ``ssl = no`` without
    ``tls_port``: a server that offers no STARTTLS."""
    implicit = ("  inet_listener submissions {\n    address = 127.0.0.1\n"
                f"    port = {tls_port}\n    ssl = yes\n  }}\n") if tls_port else ""
    return f"""
protocols = imap submission
{"" if tls_port else "ssl = no"}
# the login process's title says "[<ip> pre-login]" while it holds a client
verbose_proctitle = yes
hostname = {HOSTNAME}
submission_relay_host = 127.0.0.1
submission_relay_port = 9
service submission-login {{
  inet_listener submission {{
    address = 127.0.0.1
    port = {port}
  }}
{implicit}}}
"""


@dataclass(frozen=True)
class Submission:
    """A throwaway Dovecot whose submission service listens on ``port`` (plain/STARTTLS)
    and ``tls_port`` (implicit TLS; None when the instance has no TLS at all)."""

    dovecot: DovecotHandle
    port: int
    tls_port: int | None

    @property
    def ca_pem(self) -> Path:
        return self.dovecot.ca_pem

    @contextlib.contextmanager
    def greetings_held(self) -> Iterator[None]:
        """SIGSTOP the auth service: new SMTP connections wait for their greeting."""
        pids = self.dovecot.processes("auth")
        if not pids:
            raise RuntimeError("no auth process to hold; " + self.dovecot.log_tail(10))
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    def waiting(self) -> list[int]:
        """Pids of submission-login processes holding a client ("pre-login" in the title;
        the kernel's 15-byte command name cuts the process name to "submission-logi")."""
        found = []
        for pid in self.dovecot.processes("submission-logi"):
            with contextlib.suppress(OSError):
                if b"pre-login" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
        return found

    def terminate_waiting(self) -> int:
        """SIGTERM the login processes holding clients (they answer 421 and close)."""
        pids = self.waiting()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        return len(pids)


def start_submission(start: object, *, tls: bool = True, **kwargs: object) -> Submission:
    """Start a Dovecot with submission through ``start`` (the ``dovecot_factory`` fixture
    or tests/dovecot.py's ``start_dovecot``); ``kwargs`` go to it (e.g. ``users=``)."""
    port = free_port()
    tls_port = free_port() if tls else None
    extra = submission_config(port, tls_port) + str(kwargs.pop("extra_config", ""))
    handle = start(extra_config=extra, **kwargs)  # type: ignore[operator]
    return Submission(handle, port, tls_port)


__all__ = ["MISSING", "Submission", "have_submission", "start_submission"]
