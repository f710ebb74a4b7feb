"""Nobody let in: the security promises, each proven against the real components.

Every test pairs the refusal with the allowed case next to it, so a check that refuses
everything (or nothing) fails here. Unit-level checks of the same policies live with
their modules (tests/engine/test_settings*.py, test_client_scripted.py, test_db.py,
tests/crm/test_units.py); these run the engine's client against the fake servers over
real sockets.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from inboxlab.engine.crm.attachments import AttachmentStore
from inboxlab.engine.crm.ingest import parse_message
from inboxlab.engine.crm.records import CrmStore
from inboxlab.engine.crm.sanitize import MAX_FILENAME, safe_filename
from inboxlab.engine.db import Database
from inboxlab.engine.errors import ConfigError, TlsError
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.settings import AccountSettings, ImapServer
from inboxlab.fakeserver.config import AccountConfig, Capabilities, FolderConfig, ServerConfig
from inboxlab.fakeserver.control import ControlServer
from inboxlab.fakeserver.imap.server import FakeImapServer
from inboxlab.fakeserver.scenario.load import load
from inboxlab.fakeserver.scenario.serve import ScenarioServer
from inboxlab.fakeserver.tls import mint

USER, PASSWORD = "sec@example.com", "sec-Pa55-word"
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def config(**caps: bool) -> ServerConfig:
    return ServerConfig(accounts=(AccountConfig(USER, PASSWORD, (FolderConfig("INBOX"),)),),
                        capabilities=Capabilities(**caps))


async def logged_in(client: ImapClient) -> bool:
    async with client:
        await client.login(Credentials(USER, PASSWORD))
        return client.authenticated


def non_loopback_address() -> str | None:
    """A local address that is not loopback (the machine's own), or None."""
    candidates: set[str] = set()
    try:
        candidates.update(socket.gethostbyname_ex(socket.gethostname())[2])
    except OSError:
        pass
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:  # no packet is sent: connect() on UDP only picks the outgoing address
        probe.connect(("192.0.2.1", 9))
        candidates.add(probe.getsockname()[0])
    except OSError:
        pass
    finally:
        probe.close()
    for addr in sorted(candidates):
        if not addr.startswith("127.") and addr != "0.0.0.0":
            return addr
    return None


# -- TLS ---------------------------------------------------------------------------------


async def test_default_tls_refuses_a_self_signed_server_unless_allowed() -> None:
    async with FakeImapServer(config()) as srv:
        default = AccountSettings(USER, ImapServer("127.0.0.1", srv.tls_port or 0, "tls"))
        with pytest.raises(TlsError) as err:
            await logged_in(ImapClient("127.0.0.1", srv.tls_port, security="tls",
                                       ssl_context=default.tls_context(), timeout=10))
        assert err.value.permanent
        lax = AccountSettings(USER, default.imap, allow_insecure_certificate=True)
        assert await logged_in(ImapClient("127.0.0.1", srv.tls_port, security="tls",
                                          ssl_context=lax.tls_context(), timeout=10))


async def test_starttls_also_verifies_by_default() -> None:
    async with FakeImapServer(config()) as srv:
        with pytest.raises(TlsError):
            await logged_in(ImapClient("127.0.0.1", srv.port, security="starttls", timeout=10))
        assert await logged_in(ImapClient("127.0.0.1", srv.port, security="starttls",
                                          cafile=str(srv.ca_pem_path), timeout=10))


async def test_hostname_mismatch_fails_even_with_the_ca_trusted(tmp_path: Path) -> None:
    material = mint(tmp_path, wrong_hostname="imap.wrong-host.invalid")
    async with FakeImapServer(config(), tls=material) as srv:
        with pytest.raises(TlsError) as err:
            await logged_in(ImapClient("127.0.0.1", srv.tls_port, security="tls",
                                       cafile=str(material.ca_pem_path), timeout=10))
        assert err.value.code == "tls_hostname_mismatch" and err.value.permanent
        # The same chain for the name the certificate carries is accepted.
        assert await logged_in(ImapClient(
            "127.0.0.1", srv.tls_port, security="tls", cafile=str(material.ca_pem_path),
            server_hostname="imap.wrong-host.invalid", timeout=10))


async def test_the_tls_mismatch_scenario_is_refused_by_the_engine_client() -> None:
    scenario = load(SCENARIOS / "tls-mismatch.toml")
    account = scenario.accounts[0]
    async with ScenarioServer(scenario, control_port=None, smtp=False) as srv:
        client = ImapClient(srv.host, srv.tls_port, security="tls",
                            cafile=str(srv.ca_pem_path), timeout=10)
        with pytest.raises(TlsError) as err:
            async with client:
                await client.login(Credentials(account.username, account.password))
        assert err.value.code == "tls_hostname_mismatch"
        assert not client.authenticated


# -- plaintext login ---------------------------------------------------------------------


async def test_no_plaintext_login_to_a_non_loopback_host_without_the_opt_in() -> None:
    host = non_loopback_address()
    if host is None:
        pytest.skip("this machine has no non-loopback address to serve on")
    async with FakeImapServer(config(), host=host, tls_port=None) as srv:
        client = ImapClient(host, srv.port, security="plain", timeout=10)
        with pytest.raises(ConfigError) as err:
            await logged_in(client)
        assert err.value.code == "plaintext_login_refused" and not client.authenticated
        assert await logged_in(ImapClient(host, srv.port, security="plain",
                                          allow_plaintext_login=True, timeout=10))
    # The settings refuse the same configuration before any client is built.
    with pytest.raises(ConfigError) as refused:
        AccountSettings(USER, ImapServer(host, 143, "plain"))
    assert refused.value.code == "plaintext_login_refused"
    assert AccountSettings(USER, ImapServer(host, 143, "plain"), allow_plaintext_login=True)


async def test_plaintext_login_to_loopback_is_allowed_by_default() -> None:
    async with FakeImapServer(config(), tls_port=None) as srv:
        assert await logged_in(ImapClient("127.0.0.1", srv.port, security="plain", timeout=10))


# -- LOGINDISABLED -----------------------------------------------------------------------


async def test_logindisabled_is_honoured_and_starttls_lifts_it() -> None:
    async with FakeImapServer(config(logindisabled_before_tls=True)) as srv:
        client = ImapClient("127.0.0.1", srv.port, security="plain", timeout=10)
        with pytest.raises(ConfigError) as err:
            await logged_in(client)
        assert err.value.code == "login_disabled" and not client.authenticated
        assert await logged_in(ImapClient("127.0.0.1", srv.port, security="starttls",
                                          cafile=str(srv.ca_pem_path), timeout=10))


# -- files on disk -----------------------------------------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A permissive umask, so private modes must come from the code, not the environment."""
    old = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
async def test_database_wal_shm_and_attachments_are_private(tmp_path: Path) -> None:
    db_path = tmp_path / "state" / "engine.db"
    db = await Database.open(db_path)
    try:
        store = CrmStore(db, AttachmentStore(tmp_path / "files"))
        await store.upsert_contact("bob@client.test", "Bob")  # a write: WAL and SHM exist
        sha = store.files.put(b"%PDF-1 private")
        for p in (db_path, db_path.with_name("engine.db-wal"), db_path.with_name("engine.db-shm")):
            assert p.exists(), p
            assert mode(p) == 0o600, (p, oct(mode(p)))
        assert mode(db_path.parent) == 0o700
        files = tmp_path / "files"
        assert mode(files) == 0o700 and mode(store.files.path(sha).parent) == 0o700
        assert mode(store.files.path(sha)) == 0o600
    finally:
        await db.close()


# -- attachment names --------------------------------------------------------------------

EVIL_NAMES = [
    ("../../.bashrc", "bashrc"),  # no hidden files either
    ("..\\..\\Windows\\system.ini", "system.ini"),
    ("/etc/passwd", "passwd"),
    ("C:\\Users\\bob\\evil.exe", "evil.exe"),
    ("\\\\server\\share\\x.doc", "x.doc"),
    ("CON", "_CON"), ("con.txt", "_con.txt"), ("LPT9.log", "_LPT9.log"), ("aux", "_aux"),
    ("NUL .txt", "_NUL .txt"),
    ("COM¹.txt", "_COM¹.txt"), ("lpt³", "_lpt³"),  # Windows treats superscripts as digits
    ("invoice\u202eexe.pdf", "invoice exe.pdf"),  # RTL override shows 'fdp.exe'
    ("a\x00b\x1b[31mc.txt", "a b [31mc.txt"),
    ("zero\u200bwidth.txt", "zero width.txt"),
    ("line\u2028sep.txt", "line sep.txt"),
    ("..", "attachment"), (" . ", "attachment"), ("", "attachment"),
    ("e\u0301.txt", "\u00e9.txt"),  # NFC: one visible name, one stored spelling
]


@pytest.mark.parametrize(("name", "expected"), EVIL_NAMES)
def test_attachment_names_are_sanitized(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_an_overlong_name_keeps_its_extension() -> None:
    out = safe_filename("x" * 500 + ".pdf")
    assert len(out) <= MAX_FILENAME and out.endswith(".pdf")


@pytest.mark.parametrize(("name", "expected"), EVIL_NAMES[:8])
def test_evil_names_through_ingest_never_leave_the_store(
        tmp_path: Path, name: str, expected: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Message-ID"] = "b@x.test", "s@y.test", "<e@x.test>"
    msg.set_content("see attached")
    msg.add_attachment(b"payload " + name.encode("utf-8", "replace"),
                       maintype="application", subtype="octet-stream", filename=name)
    email = parse_message(msg.as_bytes())
    assert [a.filename for a in email.attachments] == [expected]
    files = tmp_path / "files"
    store = AttachmentStore(files)
    store.put(email.attachments[0].data)
    outside = [p for p in tmp_path.rglob("*") if files not in (p, *p.parents)]
    assert outside == []  # nothing was written anywhere but the store


# -- the fake server's control endpoint --------------------------------------------------


async def test_control_endpoint_listens_on_loopback_only() -> None:
    scenario = load(SCENARIOS / "demo.toml")
    async with ScenarioServer(scenario, smtp=False) as srv:
        assert srv.control is not None and srv.control._server is not None
        for sock in srv.control._server.sockets:
            host = sock.getsockname()[0]
            assert host in ("127.0.0.1", "::1"), host
    for host in ("0.0.0.0", "::", "192.0.2.2", "example.com"):
        with pytest.raises(ValueError, match="loopback"):
            ControlServer(srv, host=host)
    other = non_loopback_address()
    if other is not None:  # a scenario served on a public address keeps control refused
        with pytest.raises(ValueError, match="loopback"):
            async with ScenarioServer(scenario, host=other, smtp=False):
                pass
