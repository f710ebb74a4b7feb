"""Account settings: frozen, validated on construction, with errors that say the fix.

Every rule raises ``ConfigError`` whose message names the field (``imap.port``)
and whose ``remediation`` says what to change, because the person reading it is
setting up a mailbox, not debugging Python. The password is not here: it is a
``engine.secrets.Secret`` fetched at login time, so settings can be logged,
stored and shown freely.

POP3 is refused, with the reason: a connected inbox must leave mail on the server
so the CRM can match replies to the emails it logged, and POP3 downloads mail (and
usually deletes it). It is recognised by a ``pop3://``/``pop://`` scheme, by the
POP3 ports 110/995, and - when it slips through - by its ``+OK`` greeting
(``detect_greeting``). Courier-IMAP is refused by greeting too: it is not
supported by the CRM this connector models (HubSpot lists it as unsupported).
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from dataclasses import dataclass, field
from typing import ClassVar, Literal, cast, get_args, overload
from urllib.parse import urlsplit

from inboxlab.engine.errors import ConfigError, truncate
from inboxlab.engine.roles import Role

Security = Literal["tls", "starttls", "plain"]
SECURITIES: tuple[str, ...] = get_args(Security)

POP3_PORTS = frozenset({110, 995})
POP3_SCHEMES = frozenset({"pop", "pop3", "pops", "pop3s"})
POP3_WHY = (
    "POP3 is not supported: the connector needs IMAP. Mail must stay on the server so "
    "the CRM can match replies to the emails it logged; POP3 downloads messages and "
    "usually deletes them from the server."
)
POP3_FIX = (
    "Ask your IT team to enable IMAP for this mailbox and for the IMAP host name and "
    "port (usually port 993 with TLS)."
)

# (scheme) -> (protocol, security, default port)
SCHEMES: dict[str, tuple[str, Security, int]] = {
    "imaps": ("imap", "tls", 993),
    "imap": ("imap", "starttls", 143),
    "smtps": ("smtp", "tls", 465),
    "smtp": ("smtp", "starttls", 587),
    "submission": ("smtp", "starttls", 587),
}
DEFAULT_PORTS: dict[tuple[str, str], int] = {
    ("imap", "tls"): 993, ("imap", "starttls"): 143, ("imap", "plain"): 143,
    ("smtp", "tls"): 465, ("smtp", "starttls"): 587, ("smtp", "plain"): 25,
}
# Well-known ports whose security is fixed: using another one hangs or fails the handshake.
IMPLICIT_TLS_PORTS = {"imap": 993, "smtp": 465}
CLEARTEXT_START_PORTS = {"imap": {143}, "smtp": {25, 587}}
OTHER_PROTOCOL_PORTS = {"imap": {25, 465, 587}, "smtp": {143, 993}}

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _fail(field_name: str, problem: str, fix: str, code: str = "config") -> ConfigError:
    return ConfigError(f"{field_name}: {problem}", code=code, remediation=fix)


def pop3_refusal(detail: str, server_text: str | None = None,
                 stage: str = "config") -> ConfigError:
    return ConfigError(f"{POP3_WHY} ({detail})", code="pop3_unsupported",
                       remediation=POP3_FIX, server_text=server_text, stage=stage)


def is_loopback(host: str) -> bool:
    """Loopback by name or literal address; never resolves DNS (settings stay offline)."""
    if host.lower() in {"localhost", "localhost.localdomain"} or host.lower().endswith(
        ".localhost"
    ):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_host(field_name: str, host: object) -> str:
    if not isinstance(host, str) or not host.strip():
        raise _fail(field_name, "the host name is empty", "enter the server name, e.g. "
                    "imap.example.com")
    if "://" in host:
        scheme = host.split("://", 1)[0].lower()
        if scheme in POP3_SCHEMES:
            raise pop3_refusal(f"{field_name} is {host!r}")
        raise _fail(field_name, f"{host!r} is a URL, not a host name",
                    "give only the server name (use parse_server() for URLs)")
    if any(ch.isspace() or ord(ch) < 32 for ch in host) or "/" in host or "@" in host:
        raise _fail(field_name, f"{host!r} is not a host name (spaces, '/' or '@')",
                    "enter only the server name, e.g. imap.example.com")
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise _fail(field_name, f"{host!r} is not a valid host name",
                    "check the spelling of the server name") from None
    labels = ascii_host.rstrip(".").split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise _fail(field_name, f"{host!r} is not a valid host name",
                    "check the spelling of the server name")
    return host


@dataclass(frozen=True)
class Server:
    """Host, port and transport security of one server."""

    protocol: ClassVar[str] = ""
    host: str
    port: int
    security: Security = "tls"

    def __post_init__(self) -> None:
        name = self.protocol
        _check_host(f"{name}.host", self.host)
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not (
            0 < self.port < 65536
        ):
            raise _fail(f"{name}.port", f"{self.port!r} is not a port number",
                        f"use a number from 1 to 65535 (usually {DEFAULT_PORTS[(name, 'tls')]})")
        if self.security not in SECURITIES:
            raise _fail(f"{name}.security", f"{self.security!r} is not one of "
                        f"{', '.join(SECURITIES)}", "use 'tls' unless your IT team says otherwise")
        if self.port in POP3_PORTS:
            raise pop3_refusal(f"{name}.port {self.port} is a POP3 port")
        if self.port in OTHER_PROTOCOL_PORTS[name]:
            other = "SMTP" if name == "imap" else "IMAP"
            raise _fail(f"{name}.port", f"{self.port} is an {other} port, not {name.upper()}",
                        f"use the {name.upper()} port (usually "
                        f"{DEFAULT_PORTS[(name, 'tls')]})")
        if self.port == IMPLICIT_TLS_PORTS[name] and self.security != "tls":
            raise _fail(f"{name}.security", f"port {self.port} speaks TLS from the first byte, "
                        f"so {self.security!r} would hang", "set security to 'tls'")
        if self.port in CLEARTEXT_START_PORTS[name] and self.security == "tls":
            raise _fail(f"{name}.security", f"port {self.port} starts in cleartext, so 'tls' "
                        "would fail the handshake",
                        f"set security to 'starttls' or use port {IMPLICIT_TLS_PORTS[name]}")

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def url(self) -> str:
        scheme = {"tls": f"{self.protocol}s", "starttls": self.protocol}.get(self.security)
        host = f"[{self.host}]" if ":" in self.host else self.host
        if scheme is None:
            return f"{self.protocol}://{host}:{self.port}?security=plain"
        return f"{scheme}://{host}:{self.port}"


@dataclass(frozen=True)
class ImapServer(Server):
    protocol: ClassVar[str] = "imap"


@dataclass(frozen=True)
class SmtpServer(Server):
    protocol: ClassVar[str] = "smtp"


@dataclass(frozen=True)
class AccountSettings:
    """One connected inbox. No password here: see ``engine.secrets``."""

    username: str
    imap: ImapServer
    smtp: SmtpServer | None = None
    bcc_address: str | None = None
    allow_insecure_certificate: bool = False
    allow_plaintext_login: bool = False
    folder_overrides: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.username, str) or not self.username.strip():
            raise _fail("username", "the user name is empty",
                        "enter the mailbox login, usually the full email address")
        if any(ch in self.username for ch in "\r\n\0"):
            raise _fail("username", "the user name contains a line break or NUL",
                        "re-type the user name on one line")
        if not isinstance(self.imap, ImapServer):
            raise _fail("imap", f"expected IMAP server settings, got {self.imap!r}",
                        "build it with ImapServer(...) or parse_server('imaps://host')")
        if self.smtp is not None and not isinstance(self.smtp, SmtpServer):
            raise _fail("smtp", f"expected SMTP server settings, got {self.smtp!r}",
                        "build it with SmtpServer(...) or parse_server(url, 'smtp')")
        if self.bcc_address is not None and (
            not isinstance(self.bcc_address, str) or not _EMAIL.match(self.bcc_address)
        ):
            raise _fail("bcc_address", f"{self.bcc_address!r} is not an email address",
                        "copy the BCC logging address from the CRM's settings page")
        roles = {r.value for r in Role}
        for entry in self.folder_overrides:
            if (not isinstance(entry, tuple) or len(entry) != 2
                    or not all(isinstance(x, str) and x for x in entry)):
                raise _fail("folder_overrides", f"{entry!r} is not a (role, folder) pair",
                            'write pairs like ("sent", "Sent Items")')
            if entry[0] not in roles:
                raise _fail("folder_overrides", f"{entry[0]!r} is not a folder role",
                            f"use one of {', '.join(sorted(roles))}")
        for server in (self.imap, self.smtp):
            if server is not None and server.security == "plain" and not server.loopback \
                    and not self.allow_plaintext_login:
                raise _fail(
                    f"{server.protocol}.security",
                    f"'plain' would send the password unencrypted to {server.host}",
                    "use 'tls' or 'starttls'; if you really must, set "
                    "allow_plaintext_login = true",
                    code="plaintext_login_refused",
                )

    @property
    def overrides(self) -> dict[Role, str]:
        """The folder overrides in the shape ``engine.roles.detect_roles`` takes."""
        return {Role(role): folder for role, folder in self.folder_overrides}

    def tls_context(self, cafile: str | None = None) -> ssl.SSLContext:
        """The TLS context for this account's connections: verified unless opted out.

        ``allow_insecure_certificate`` is for self-signed lab servers only: it turns
        off both chain and host-name checks, so anyone on the path can read the mail.
        """
        context = ssl.create_default_context(cafile=cafile)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.allow_insecure_certificate:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


@overload
def parse_server(text: str, protocol: Literal["imap"] = "imap") -> ImapServer: ...
@overload
def parse_server(text: str, protocol: Literal["smtp"]) -> SmtpServer: ...
def parse_server(text: str, protocol: Literal["imap", "smtp"] = "imap") -> Server:
    """Parse ``imaps://host:993``, ``imap://host?security=plain`` or ``host[:port]``.

    A bare host gets the protocol's TLS port; a bare ``host:port`` gets the security
    that port implies. Passwords in URLs are refused (they would end up in shell history).
    """
    cls: type[Server] = ImapServer if protocol == "imap" else SmtpServer
    field_name = f"{protocol}.host"
    raw = text.strip() if isinstance(text, str) else ""
    if not raw:
        raise _fail(field_name, "no server given", f"e.g. {protocol}s://mail.example.com")
    has_scheme = "://" in raw
    try:
        parts = urlsplit(raw if has_scheme else f"//{raw}")
        port = parts.port
    except ValueError as exc:
        raise _fail(field_name, f"{raw!r} cannot be read as a server address ({exc})",
                    f"write it as {protocol}s://host:port") from None
    scheme = parts.scheme.lower()
    if scheme in POP3_SCHEMES:
        raise pop3_refusal(f"{raw!r} is a POP3 address")
    if parts.password is not None:
        raise _fail(field_name, "the address contains a password",
                    "remove it; the password comes from a prompt, "
                    "INBOXLAB_PASSWORD or the keyring", code="password_in_url")
    if parts.username is not None:
        raise _fail(field_name, "the address contains a user name",
                    "give the user name separately (--user)")
    if parts.path not in ("", "/"):
        raise _fail(field_name, f"unexpected path {parts.path!r} in {raw!r}",
                    f"write it as {protocol}s://host:port")
    host = parts.hostname or ""
    security: Security
    if has_scheme:
        if scheme not in SCHEMES or SCHEMES[scheme][0] != protocol:
            known = ", ".join(f"{s}://" for s, v in SCHEMES.items() if v[0] == protocol)
            raise _fail(field_name, f"unknown scheme {scheme!r} for {protocol.upper()}",
                        f"use one of {known}")
        _, security, default_port = SCHEMES[scheme]
        if port is None:
            port = default_port
    elif port is None:
        security, port = "tls", DEFAULT_PORTS[(protocol, "tls")]
    else:
        security = "starttls" if port in CLEARTEXT_START_PORTS[protocol] else "tls"
    if parts.query:
        if parts.query not in {f"security={s}" for s in SECURITIES}:
            raise _fail(f"{protocol}.security", f"unknown option {parts.query!r}",
                        f"the only option is security=({'|'.join(SECURITIES)})")
        security = cast(Security, parts.query.split("=", 1)[1])
    if port in POP3_PORTS:
        raise pop3_refusal(f"port {port} is a POP3 port")
    return cls(host=host, port=port, security=security)


@dataclass(frozen=True)
class GreetingRefusal:
    """Returned (not raised) by ``detect_greeting``; ``error`` is ready to raise."""

    error: ConfigError

    @property
    def code(self) -> str:
        return self.error.code


def detect_greeting(line: bytes) -> GreetingRefusal | None:
    """Recognise a first line that means "this is not an IMAP server we can use"."""
    text = (truncate(line.rstrip(b"\r\n")) or "").strip()
    if text.startswith("+OK") or text.startswith("-ERR"):
        return GreetingRefusal(pop3_refusal("the server greeted like POP3",
                                            server_text=text, stage="imap_greeting"))
    if re.match(r"^220[ -]", text):
        return GreetingRefusal(ConfigError(
            "the server greeted like SMTP, not IMAP", code="smtp_on_imap_port",
            server_text=text, stage="imap_greeting",
            remediation="check imap.port: 993 (TLS) or 143 (STARTTLS) are usual"))
    if text.startswith("* ") and "courier-imap" in text.lower():
        return GreetingRefusal(ConfigError(
            "Courier-IMAP is not supported by the CRM's connected inbox "
            "(observed greeting names Courier-IMAP)",
            code="courier_unsupported", server_text=text, stage="imap_greeting",
            remediation="ask your IT team for another IMAP server for this mailbox, "
            "or connect the account through its provider (Gmail/Office 365) instead"))
    return None
