"""What a fake IMAP server is: capabilities, accounts, folders, limits (frozen settings).

The scenario loader builds these from TOML; ``default_config()`` is the demo. Every
capability toggle changes both what is advertised and how the session behaves, so a
test of "server without MOVE" exercises the client's fallback, not just its parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inboxlab.fakeserver.generate import GenSpec

DEMO_USER = "user@example.com"
DEMO_PASSWORD = "inboxlab-demo"  # a published demo password for a loopback toy, not a secret


@dataclass(frozen=True)
class Capabilities:
    """Extension toggles. IMAP4rev1, LITERAL+/SASL-IR etc. are derived from these."""

    special_use: bool = True
    condstore: bool = True
    qresync: bool = True
    idle: bool = True
    move: bool = True
    uidplus: bool = True
    literal_plus: bool = True
    sasl_ir: bool = True
    enable: bool = True
    id: bool = True
    namespace: bool = True
    unselect: bool = True
    children: bool = True
    starttls: bool = True
    logindisabled_before_tls: bool = False
    xlist: bool = False
    esearch: bool = False
    # RFC 5256 SORT (with RFC 5957 SORT=DISPLAY) and THREAD=ORDEREDSUBJECT/REFERENCES
    sort: bool = False
    thread: bool = False
    # OAuth 2.0 SASL (fakeserver.oauth): advertised before login as AUTH=XOAUTH2 /
    # AUTH=OAUTHBEARER. basic_auth = false refuses LOGIN and AUTHENTICATE PLAIN with the
    # provider's words (Microsoft 365 once basic auth is switched off).
    xoauth2: bool = False
    oauthbearer: bool = False
    basic_auth: bool = True
    extra: tuple[str, ...] = ()

    def advertised(self, *, authenticated: bool, tls_active: bool) -> tuple[str, ...]:
        """The CAPABILITY list in the current state; real servers shrink it before login."""
        caps = ["IMAP4rev1"]
        if self.literal_plus:
            caps.append("LITERAL+")
        if self.sasl_ir:
            caps.append("SASL-IR")
        if self.id:
            caps.append("ID")
        if self.enable:
            caps.append("ENABLE")
        if self.idle:
            caps.append("IDLE")
        if not authenticated:
            if self.starttls and not tls_active:
                caps.append("STARTTLS")
            if self.logindisabled_before_tls and not tls_active:
                caps.append("LOGINDISABLED")
            else:
                caps.append("AUTH=PLAIN")
            if self.xoauth2:
                caps.append("AUTH=XOAUTH2")
            if self.oauthbearer:
                caps.append("AUTH=OAUTHBEARER")
            return tuple(caps)
        if self.namespace:
            caps.append("NAMESPACE")
        if self.unselect:
            caps.append("UNSELECT")
        if self.children:
            caps.append("CHILDREN")
        if self.uidplus:
            caps.append("UIDPLUS")
        if self.move:
            caps.append("MOVE")
        if self.condstore:
            caps.append("CONDSTORE")
        if self.qresync:
            caps.append("QRESYNC")
        if self.esearch:
            caps.append("ESEARCH")
        if self.sort:
            caps.extend(("SORT", "SORT=DISPLAY"))
        if self.thread:
            caps.extend(("THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES"))
        if self.special_use:
            caps.append("SPECIAL-USE")
            caps.append("LIST-EXTENDED")
        if self.xlist:
            caps.append("XLIST")
        caps.extend(self.extra)
        return tuple(caps)

    def enabled(self, name: str) -> bool:
        """Whether an ENABLE-able extension (CONDSTORE, QRESYNC) exists on this server."""
        return {"CONDSTORE": self.condstore, "QRESYNC": self.qresync}.get(name.upper(), False)


@dataclass(frozen=True)
class FolderConfig:
    """One mailbox: explicit messages are appended after the generated ones."""

    name: str
    special_use: tuple[str, ...] = ()
    generated: GenSpec | None = None
    messages: tuple[bytes, ...] = ()
    subscribed: bool = True


@dataclass(frozen=True)
class AccountConfig:
    username: str
    password: str = field(repr=False)
    folders: tuple[FolderConfig, ...] = ()
    # how the scenario's clients log in: "password", or an OAuth mechanism with a token
    # from the scenario's token endpoint (fakeserver.oauth_http)
    login: str = "password"

    def __repr__(self) -> str:
        names = ", ".join(f.name for f in self.folders)
        return f"AccountConfig(username={self.username!r}, password=[secure], folders=[{names}])"


@dataclass(frozen=True)
class ServerConfig:
    """A whole server. Limits apply per connection; ``None`` means unlimited."""

    accounts: tuple[AccountConfig, ...]
    greeting: str = "inboxlab fake IMAP ready"
    capabilities: Capabilities = field(default_factory=Capabilities)
    hostname: str = "localhost"  # also a name in the minted TLS certificate
    max_connections_per_user: int | None = None
    idle_timeout_s: float = 30 * 60.0
    max_line: int = 64 * 1024
    max_literal: int = 64 * 1024 * 1024
    oauth_errors: str = "rfc7628"  # how a refused token is worded (fakeserver.oauth_errors)
    # \Recent per RFC 3501 2.3.2, as Dovecot; False: never set, RECENT always 0 (RFC 9051
    # dropped it, and providers such as Gmail report 0). Profiles say which, with a source.
    recent: bool = True
    # Whether CREATE also subscribes the new mailbox. Dovecot 2.3 does not (RFC 3501 keeps
    # subscriptions a separate list); profiles say otherwise with a source.
    create_subscribes: bool = False

    def account(self, username: str) -> AccountConfig | None:
        for acc in self.accounts:
            if acc.username == username:
                return acc
        return None


def default_config(inbox_count: int = 200, seed: int = 1) -> ServerConfig:
    """The demo: one account with the usual special-use folders and a generated INBOX."""
    folders = (
        FolderConfig("INBOX", generated=GenSpec(count=inbox_count, seed=seed, owner=DEMO_USER)),
        FolderConfig(
            "Sent",
            special_use=("\\Sent",),
            generated=GenSpec(count=20, seed=seed + 1, owner=DEMO_USER, thread_ratio=0.5),
        ),
        FolderConfig("Drafts", special_use=("\\Drafts",)),
        FolderConfig("Trash", special_use=("\\Trash",)),
        FolderConfig("Junk", special_use=("\\Junk",)),
        FolderConfig("Archive", special_use=("\\Archive",)),
    )
    return ServerConfig(accounts=(AccountConfig(DEMO_USER, DEMO_PASSWORD, folders),))
