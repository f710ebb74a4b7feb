"""The throwaway Dovecot fixture behaves like the server the other interop tests assume.

These talk to it with stdlib imaplib only, so a failure here is the fixture's, not the engine's.
"""

from __future__ import annotations

import grp
import imaplib
import importlib.util
import itertools
import os
import pwd
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
from dovecot import Account, DovecotError, DovecotHandle, find_dovecot, scratch_dir
from dovecot_setup import Ids, free_port, render_config, ssha256, write_tls
from waiting import wait_until

pytestmark = [pytest.mark.dovecot, pytest.mark.interop]

_names = itertools.count()


@pytest.fixture
def account(dovecot: DovecotHandle) -> Account:
    """A fresh user on the shared Dovecot, so tests do not see each other's mail."""
    return dovecot.add_user(f"fixture{next(_names)}@example.com", f"pw-{next(_names)}-x")


def login(handle: DovecotHandle, who: Account) -> imaplib.IMAP4:
    client = imaplib.IMAP4(handle.host, handle.port, timeout=30)
    client.login(who.name, who.password)
    return client


def make_messages(count: int, seed: int) -> list[tuple[bytes, str, datetime]]:
    rng = random.Random(seed)
    start = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
    flag_choices = ["", "\\Seen", "\\Seen \\Flagged", "\\Answered \\Seen", "\\Draft"]
    out = []
    for i in range(count):
        body = "".join(rng.choice("abcdefgh ") for _ in range(rng.randint(10, 400)))
        raw = (f"Message-ID: <m{i}.{seed}@example.com>\r\nFrom: a{i}@example.com\r\n"
               f"To: user@example.com\r\nSubject: message {i}\r\nX-Seq: {i}\r\n\r\n{body}\r\n")
        out.append((raw.encode(), rng.choice(flag_choices), start + timedelta(minutes=i)))
    return out


def uidvalidity(client: imaplib.IMAP4, folder: str = "INBOX") -> int:
    typ, data = client.status(folder, "(UIDVALIDITY)")
    assert typ == "OK"
    found = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
    assert found is not None, data
    return int(found.group(1))


def test_plain_login_and_wrong_password(dovecot: DovecotHandle, account: Account) -> None:
    client = login(dovecot, account)
    assert client.state == "AUTH"
    client.logout()
    bad = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=30)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        bad.login(account.name, "not-the-password")
    bad.shutdown()


def test_starttls_verifies_against_the_ca(dovecot: DovecotHandle, account: Account) -> None:
    client = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=30)
    assert "STARTTLS" in client.capabilities
    client.starttls(ssl_context=ssl.create_default_context(cafile=str(dovecot.ca_pem)))
    assert isinstance(client.sock, ssl.SSLSocket)
    client.login(account.name, account.password)
    client.logout()


def test_starttls_without_the_ca_fails_verification(dovecot: DovecotHandle) -> None:
    client = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=30)
    with pytest.raises(ssl.SSLCertVerificationError):
        client.starttls(ssl_context=ssl.create_default_context())
    client.sock.close()


def test_imaps_listener(dovecot: DovecotHandle, account: Account) -> None:
    ctx = ssl.create_default_context(cafile=str(dovecot.ca_pem))
    client = imaplib.IMAP4_SSL(dovecot.host, dovecot.tls_port, ssl_context=ctx, timeout=30)
    client.login(account.name, account.password)
    assert client.select("INBOX")[0] == "OK"
    client.logout()
    with pytest.raises(ssl.SSLCertVerificationError):
        imaplib.IMAP4_SSL(dovecot.host, dovecot.tls_port, timeout=30,
                          ssl_context=ssl.create_default_context())


def _attributes(client: imaplib.IMAP4) -> dict[str, set[str]]:
    typ, lines = client.list()
    assert typ == "OK"
    found: dict[str, set[str]] = {}
    for line in lines:
        assert isinstance(line, bytes)
        match = re.match(rb'\(([^)]*)\) "[^"]*" "?([^"]+)"?$', line)
        assert match is not None, line
        found[match.group(2).decode()] = set(match.group(1).decode().split())
    return found


def test_list_shows_special_use(dovecot: DovecotHandle, account: Account) -> None:
    client = login(dovecot, account)
    attrs = _attributes(client)
    client.logout()
    for folder in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
        assert f"\\{folder}" in attrs[folder], attrs
    assert not attrs["INBOX"] & {"\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive"}


def test_special_use_off_keeps_folders_without_attributes(
    dovecot_factory: Callable[..., DovecotHandle],
) -> None:
    plain = dovecot_factory(special_use=False)
    client = login(plain, plain.users[0])
    attrs = _attributes(client)
    client.logout()
    assert {"Sent", "Drafts", "Trash", "Junk", "Archive", "INBOX"} <= set(attrs)
    for folder, flags in attrs.items():
        assert not flags & {"\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive"}, folder


def test_extra_config_reaches_dovecot(dovecot_factory: Callable[..., DovecotHandle]) -> None:
    limited = dovecot_factory(extra_config="imap_capability = IMAP4rev1 IDLE")
    client = login(limited, limited.users[0])
    typ, data = client.capability()
    client.logout()
    assert typ == "OK"
    assert data[0].split() == [b"IMAP4rev1", b"IDLE"]


def test_a_bad_config_is_a_typed_error_with_dovecots_words(
    dovecot_factory: Callable[..., DovecotHandle], monkeypatch: pytest.MonkeyPatch,
) -> None:
    private = Path(tempfile.mkdtemp(prefix="inboxlab-scratch-", dir=scratch_dir()))
    private.chmod(0o755)
    monkeypatch.setenv("INBOXLAB_DOVECOT_TMPDIR", str(private))
    try:
        with pytest.raises(DovecotError, match="did not come up") as caught:
            dovecot_factory(extra_config="no_such_setting = 1")
        assert "no_such_setting" in caught.value.log_tail  # Dovecot's own complaint
        assert not list(private.iterdir()), "the failed instance's directory was left behind"
    finally:
        shutil.rmtree(private, ignore_errors=True)


def test_load_1000_and_fetch_them_back(dovecot: DovecotHandle, account: Account) -> None:
    messages = make_messages(1000, seed=7)
    assert dovecot.load_messages(account.name, "INBOX", messages) == 1000
    client = login(dovecot, account)
    typ, data = client.select("INBOX", readonly=True)
    assert (typ, data) == ("OK", [b"1000"])
    typ, rows = client.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])")
    client.logout()
    assert typ == "OK"
    fetched = [row for row in rows if isinstance(row, tuple)]
    assert len(fetched) == 1000
    for i, (meta, body) in enumerate(fetched):
        raw, flags, when = messages[i]
        assert body == raw, f"message {i} came back different (UID order != load order?)"
        assert int(re.search(rb"UID (\d+)", meta).group(1)) == i + 1  # type: ignore[union-attr]
        size = int(re.search(rb"RFC822\.SIZE (\d+)", meta).group(1))  # type: ignore[union-attr]
        assert size == len(raw)
        got = set(re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode().split())  # type: ignore[union-attr]
        assert got - {"\\Recent"} == set(flags.split())
        stamp = re.search(rb'INTERNALDATE "([^"]+)"', meta).group(1).decode()  # type: ignore[union-attr]
        assert datetime.strptime(stamp, "%d-%b-%Y %H:%M:%S %z") == when


def test_load_into_a_new_folder_and_index_it(dovecot: DovecotHandle, account: Account) -> None:
    dovecot.load_messages(account.name, "Projects.Alpha", make_messages(5, seed=1), index=True)
    out = dovecot.doveadm("mailbox", "status", "-u", account.name, "messages", "Projects.Alpha")
    assert out.split() == ["Projects.Alpha", "messages=5"]


def test_uidvalidity_is_stable(dovecot: DovecotHandle, account: Account) -> None:
    dovecot.load_messages(account.name, "INBOX", make_messages(10, seed=2))
    first = login(dovecot, account)
    before = uidvalidity(first)
    first.logout()
    dovecot.load_messages(account.name, "INBOX", make_messages(10, seed=3))
    second = login(dovecot, account)
    assert uidvalidity(second) == before
    second.select("INBOX", readonly=True)
    typ, data = second.uid("SEARCH", "ALL")
    second.logout()
    assert typ == "OK"
    assert data[0].split() == [str(n).encode() for n in range(1, 21)]


def test_set_uidvalidity_and_kick(dovecot: DovecotHandle, account: Account) -> None:
    client = login(dovecot, account)
    before = uidvalidity(client)
    dovecot.set_uidvalidity(account.name, "INBOX", before + 1 if before < 2**32 - 1 else 1)
    assert uidvalidity(client) != before
    client.select("INBOX")
    dovecot.kick(account.name)
    assert client.readline().startswith(b"* BYE Server shutting down")  # unprompted
    client.shutdown()
    with pytest.raises(DovecotError, match="UIDVALIDITY must be"):
        dovecot.set_uidvalidity(account.name, "INBOX", 0)


def test_bad_input_is_a_clear_error(dovecot: DovecotHandle, account: Account) -> None:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(DovecotError, match="keywords are not supported"):
        dovecot.load_messages(account.name, "INBOX", [(b"x", "$Label1", when)])
    with pytest.raises(DovecotError, match="no timezone"):
        dovecot.load_messages(account.name, "INBOX", [(b"x", "", datetime(2024, 1, 1))])
    with pytest.raises(DovecotError, match="unusable folder name"):
        dovecot.load_messages(account.name, "../escape", [(b"x", "", when)])
    with pytest.raises(DovecotError, match="no user"):
        dovecot.maildir("nobody@example.com")
    with pytest.raises(DovecotError, match="already exists"):
        dovecot.add_user(account.name, "again")


def test_secrets_stay_out_of_reprs_and_disk(dovecot: DovecotHandle, account: Account) -> None:
    assert account.password not in repr(account)
    assert account.password not in repr(dovecot)
    assert account.password not in (dovecot.root / "passwd.d" / account.name).read_text()


def test_stop_closes_ports_and_removes_the_directory(
    dovecot_factory: Callable[..., DovecotHandle],
) -> None:
    handle = dovecot_factory()
    root, port = handle.root, handle.port
    handle.stop()
    assert not root.exists()
    with pytest.raises(OSError):
        socket.create_connection((handle.host, port), timeout=5).close()


_ORPHAN_SCRIPT = """
import sys, time
sys.path.insert(0, sys.argv[1])
from dovecot import start_dovecot
handle = start_dovecot()
print(handle.root, handle.port, flush=True)
time.sleep(600)  # killed by the test long before
"""


def test_no_orphans_when_the_owner_is_killed(dovecot: DovecotHandle) -> None:
    """A test run killed with SIGKILL must not leave a daemon or a maildir in /dev/shm."""
    owner = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT, str(Path(__file__).parents[1])],
                             stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    root, port = owner.stdout.readline().split()
    assert Path(root).exists()
    owner.kill()
    owner.wait()
    wait_until(lambda: not Path(root).exists(), timeout=30, what=f"{root} to be removed")
    with pytest.raises(OSError):
        socket.create_connection((dovecot.host, int(port)), timeout=5).close()


def _load_rawdrain() -> ModuleType:
    """bench/ is not on the test path (tests/ is not a package); load the module by file."""
    path = Path(__file__).resolve().parents[2] / "bench" / "rawdrain.py"
    spec = importlib.util.spec_from_file_location("inboxlab_bench_rawdrain", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


def test_bench_raw_drain_sees_every_message(dovecot: DovecotHandle, account: Account) -> None:
    """The bench's raw client finds the tagged OK (after a ~600-byte LOGIN reply, too)."""
    rawdrain = _load_rawdrain()
    dovecot.load_messages(account.name, "INBOX", make_messages(300, seed=5))
    raw = rawdrain.raw_drain(dovecot.host, dovecot.port, account.name, account.password,
                             timeout=30)
    ref = rawdrain.imaplib_drain(dovecot.host, dovecot.port, account.name, account.password,
                                 timeout=30)
    assert raw.messages == ref.messages == 300
    assert raw.nbytes > ref.nbytes > 300 * 100  # wire bytes include what imaplib strips
    with pytest.raises(rawdrain.DrainError, match="LOGIN failed"):
        rawdrain.raw_drain(dovecot.host, dovecot.port, account.name, "wrong", timeout=30)


@pytest.mark.slow
def test_100k_messages_load_and_drain(dovecot: DovecotHandle, account: Account) -> None:
    """The bench's scale: 100k maildir files load, index and drain completely."""
    rawdrain = _load_rawdrain()
    start = datetime(2020, 1, 1, tzinfo=UTC)
    messages = ((f"Message-ID: <{i}@bulk>\r\nSubject: bulk {i}\r\n\r\nbody {i}\r\n".encode(),
                 "\\Seen" if i % 3 else "", start + timedelta(seconds=i)) for i in range(100_000))
    assert dovecot.load_messages(account.name, "INBOX", messages, index=True) == 100_000
    got = rawdrain.raw_drain(dovecot.host, dovecot.port, account.name, account.password)
    assert got.messages == 100_000


def test_unprivileged_config_runs_without_root() -> None:
    """The non-root branch of the config (no chroot, own groups) really starts a Dovecot.

    Run as root here, so drop to ``nobody`` with setpriv to exercise it for real.
    """
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None or find_dovecot() is None:
        pytest.skip("needs root, setpriv and dovecot to impersonate an unprivileged user")
    nobody = pwd.getpwnam("nobody")
    ids = Ids(nobody.pw_uid, nobody.pw_gid, "nobody", "nobody", as_root=False,
              internal_group=grp.getgrgid(nobody.pw_gid).gr_name)
    root = Path(tempfile.mkdtemp(prefix="inboxlab-unpriv-", dir=scratch_dir()))
    root.chmod(0o755)
    for sub in ("run", "state", "home", "passwd.d"):
        (root / sub).mkdir()
    write_tls(root)
    (root / "passwd.d" / "solo@example.com").write_text(f"solo@example.com:{ssha256('pw-1')}\n")
    port = free_port()
    config = root / "dovecot.conf"
    config.write_text(render_config(root, ids, port=port, tls_port=free_port(), special_use=True))
    subprocess.run(["chown", "-R", f"{nobody.pw_uid}:{nobody.pw_gid}", str(root)], check=True)
    proc = subprocess.Popen(
        [setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
         str(find_dovecot()), "-F", "-c", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def greets() -> imaplib.IMAP4 | None:
            assert proc.poll() is None, (root / "dovecot.log").read_text()
            try:
                return imaplib.IMAP4("127.0.0.1", port, timeout=10)
            except OSError:
                return None

        client = wait_until(greets, timeout=30, what="the unprivileged Dovecot to greet")
        assert client is not None
        client.login("solo@example.com", "pw-1")
        assert "\\Sent" in _attributes(client)["Sent"]
        client.logout()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        shutil.rmtree(root, ignore_errors=True)
