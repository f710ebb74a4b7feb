"""Everything a throwaway Dovecot needs before it starts: identities, config, TLS, passwords.

Kept apart from tests/dovecot.py (the running handle) and tests/dovecot_maildir.py (the
loader) so each file holds one idea. Nothing here starts processes except ``useradd`` for
the mail user, once, as root.
"""

from __future__ import annotations

import base64
import grp
import hashlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import trustme

DOVECOT_CANDIDATES = ("/usr/sbin/dovecot",)
MAIL_USER = "inboxlab-mail"
SPECIAL_FOLDERS = (("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"),
                   ("Junk", "\\Junk"), ("Archive", "\\Archive"))
DEFAULT_USERS: tuple[tuple[str, str], ...] = (("user@example.com", "secret-pass"),)


class DovecotError(RuntimeError):
    """Dovecot could not be set up, started, or driven; the message names what and why.

    ``log_tail`` carries Dovecot's own words (the end of its log) when there are any.
    """

    def __init__(self, message: str, *, log_tail: str = "") -> None:
        tail = f"\n--- dovecot log (tail) ---\n{log_tail}" if log_tail else ""
        super().__init__(message + tail)
        self.log_tail = log_tail


@dataclass(frozen=True)
class Account:
    """A login on the throwaway server; the password stays out of reprs and logs."""

    name: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Account(name={self.name!r}, password=[secure])"


def find_dovecot() -> str | None:
    """Path of the dovecot binary, or None (callers skip with a reason)."""
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if found:
        return found
    return next((c for c in DOVECOT_CANDIDATES if os.access(c, os.X_OK)), None)


def find_doveadm(dovecot: str) -> str:
    sibling = Path(dovecot).with_name("doveadm")
    for cand in (shutil.which("doveadm"), str(sibling), "/usr/bin/doveadm"):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise DovecotError("doveadm not found next to dovecot nor on PATH")


def free_port() -> int:
    """A port the kernel just handed out; racy by nature, so start() retries on collision."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Ids:
    """Who owns what: the mail files, Dovecot's internal and login processes."""

    mail_uid: int
    mail_gid: int
    internal_user: str
    login_user: str
    as_root: bool
    internal_group: str = "dovecot"  # group of Dovecot's internal sockets (stats-writer...)


def ensure_ids() -> Ids:
    """Pick the unix identities. Dovecot refuses uid 0 for mail, so as root we make a user."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(os.getegid()).gr_name
        return Ids(os.geteuid(), os.getegid(), me, me, as_root=False, internal_group=group)
    try:
        entry = pwd.getpwnam(MAIL_USER)
    except KeyError:
        try:
            done = subprocess.run(
                ["useradd", "--system", "--user-group", "--no-create-home",
                 "--shell", "/usr/sbin/nologin", MAIL_USER],
                capture_output=True, text=True, check=False,
            )
        except OSError as exc:
            raise DovecotError(f"cannot create the mail user {MAIL_USER}: {exc}") from exc
        # exit 9: someone else (a parallel test process) created it first
        if done.returncode not in (0, 9):
            raise DovecotError(f"useradd {MAIL_USER} failed: {done.stderr.strip()}") from None
        entry = pwd.getpwnam(MAIL_USER)
    internal = _existing_user("dovecot", fallback="root")
    login = _existing_user("dovenull", fallback=internal)
    return Ids(entry.pw_uid, entry.pw_gid, internal, login, as_root=True)


def _existing_user(name: str, *, fallback: str) -> str:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return fallback
    return name


def ssha256(password: str) -> str:
    """Dovecot's {SSHA256} scheme, so the passwd-file on disk holds no cleartext secret."""
    salt = secrets.token_bytes(8)
    digest = hashlib.sha256(password.encode() + salt).digest()
    return "{SSHA256}" + base64.b64encode(digest + salt).decode()


def check_user_name(name: str) -> None:
    if not name or any(c in name for c in ":/\n\r\0 ") or name.startswith("."):
        raise DovecotError(f"unusable user name {name!r}: no ':', '/', spaces or leading '.'")


def render_config(
    root: Path, ids: Ids, *, port: int, tls_port: int, special_use: bool
) -> str:
    """The whole dovecot.conf; nothing is included from /etc/dovecot."""
    folders = "\n".join(
        f"  mailbox {name} {{\n    auto = subscribe\n"
        + (f"    special_use = {use}\n" if special_use else "")
        + "  }"
        for name, use in SPECIAL_FOLDERS
    )
    dh = Path("/usr/share/dovecot/dh.pem")
    # without root there is no chroot; see Dovecot's "running without root" notes
    chroot = "" if ids.as_root else "  chroot =\n"
    return f"""# generated by inboxlab tests/dovecot.py; throwaway, self-contained
base_dir = {root}/run
state_dir = {root}/state
instance_name = inboxlab-{port}
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/tls/cert.pem
ssl_key = <{root}/tls/key.pem
{f"ssl_dh = <{dh}" if dh.exists() else ""}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {ids.internal_user}
default_login_user = {ids.login_user}
{"" if ids.as_root else f"default_internal_group = {ids.internal_group}"}
first_valid_uid = {min(ids.mail_uid, 500)}
first_valid_gid = {min(ids.mail_gid, 500)}
mail_location = maildir:~/Maildir
mail_max_userip_connections = 500
passdb {{
  driver = passwd-file
  args = {root}/passwd.d/%u
}}
userdb {{
  driver = static
  args = uid={ids.mail_uid} gid={ids.mail_gid} home={root}/home/%u
}}
namespace inbox {{
  inbox = yes
{folders}
}}
service imap-login {{
{chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
# Tests fail logins on purpose. Dovecot would then slow every later login from 127.0.0.1
# (per-IP penalty, up to 15 s) and delay each failure by 2 s; a test server needs neither.
auth_failure_delay = 0
service anvil {{
{chroot}  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def write_tls(root: Path) -> Path:
    """A throwaway CA and a leaf for 127.0.0.1/localhost; returns the CA PEM path."""
    tls = root / "tls"
    tls.mkdir(mode=0o700)
    ca = trustme.CA(organization_name="inboxlab throwaway Dovecot CA")
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(tls / "ca.pem"))
    leaf.private_key_pem.write_to_path(str(tls / "key.pem"))
    with (tls / "cert.pem").open("wb") as out:
        for blob in leaf.cert_chain_pems:
            out.write(blob.bytes())
    (tls / "key.pem").chmod(0o600)
    (tls / "ca.pem").chmod(0o644)
    tls.chmod(0o755)  # the CA must be readable by unprivileged test clients; the key stays 0600
    return tls / "ca.pem"


def check_traversable(root: Path, ids: Ids) -> None:
    """Mail processes run as the mail user: every parent of root must let it through."""
    if not ids.as_root:
        return
    for parent in root.parents:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise DovecotError(
                f"{parent} is not traversable by others (mode {parent.stat().st_mode & 0o777:o}); "
                f"the mail user {MAIL_USER} could not reach {root}; chmod o+x it or pass root=None"
            )


def remove_tree(root: Path, timeout: float = 10.0) -> None:
    """rmtree, again while killed children may still be flushing a last file into it."""
    deadline = time.monotonic() + timeout
    while root.exists() and time.monotonic() < deadline:
        shutil.rmtree(root, ignore_errors=True)
    if root.exists():
        raise DovecotError(f"could not remove {root}")
