"""TOML scenario file -> validated ``Scenario``, or a ``ScenarioError`` naming file, line, key.

Everything is checked here, before any socket opens, so a server never starts
half-configured: unknown keys, wrong types, unknown profiles and folders, triggers
that can never fire or cannot carry their action, and bad seeds are all refused with
the file, the line, the key path and what is wrong. The format is documented in
``scenarios/README.md``. The ``[[timeline]]`` blocks are read by ``load_timeline.py``.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import zlib
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

from inboxlab.fakeserver.config import AccountConfig, FolderConfig, ServerConfig
from inboxlab.fakeserver.errors import ScenarioError
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.oauth_errors import STYLES as OAUTH_STYLES
from inboxlab.fakeserver.profiles import capabilities_from, latency_from, load_profile
from inboxlab.fakeserver.profiles import names as profile_names
from inboxlab.fakeserver.scenario.load_timeline import event
from inboxlab.fakeserver.scenario.model import (
    COUNT_KEYS,
    CRM_LOGGING_MODES,
    EXPECT_ANY_OF,
    EXPECT_CHECKS,
    OUTBOX_STATES,
    CrmRules,
    Expect,
    Scenario,
    Send,
)
from inboxlab.fakeserver.scenario.reader import REQUIRED, Context, Table
from inboxlab.fakeserver.smtp.config import (
    FAULT_KINDS,
    FAULT_STAGES,
    PersonaSpec,
    SmtpConfig,
    SmtpFault,
)

SPECIAL_USE = frozenset({
    "\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash", "\\Important",
})
_ADDRESS = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario: {exc}", file=str(path)) from exc
    return loads(source, file=str(path), default_name=path.stem)


def loads(source: str, *, file: str = "<scenario>", default_name: str = "scenario") -> Scenario:
    """Validate a scenario given as text (``file`` is only used in error messages)."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML: {exc}", file=file) from exc
    ctx = Context(file, source)
    top = Table(data, (), ctx)
    name = top.text("name", default_name)
    description = top.text("description", "")
    seed = top.seed("seed", 1)

    server = top.table("server") or Table({}, ("server",), ctx)
    profile_name = server.text("profile", "dovecot")
    if profile_name not in profile_names():
        raise server.fail(
            f"unknown profile {profile_name!r}; known: {', '.join(profile_names())}", "profile"
        )
    profile = load_profile(profile_name)
    caps = capabilities_from(server.table("capabilities"), profile.capabilities)
    special_use = server.flag("special_use")
    if special_use is not None:
        caps = dataclasses.replace(caps, special_use=special_use)
    latency = latency_from(server.table("latency"), profile.latency)
    max_conn = server.integer("max_connections", profile.max_connections, minimum=1)
    greeting = server.text("greeting", profile.greeting)
    if not greeting.strip() or "\r" in greeting or "\n" in greeting:
        raise server.fail("greeting must be one non-empty line", "greeting")
    autosave = server.text("autosave_sent", profile.autosave_sent or "") or None
    too_many = server.text("too_many_connections_text", profile.too_many_text)
    throttle = server.text("throttle", profile.throttle_style,
                           choices=("gmail", "office365", "none"))
    wrong_hostname = server.text("wrong_hostname", None)
    oauth_errors = server.text("oauth_errors", profile.oauth_errors, choices=OAUTH_STYLES)
    idle_timeout = server.number("idle_timeout_s", 30 * 60.0, minimum=1)
    server.done()

    accounts = tuple(_account(t, i, seed, profile.folders) for i, t in enumerate(
        top.tables("accounts")))
    if not accounts:
        raise top.fail("a scenario needs at least one [[accounts]] entry", "accounts")
    seen_users: set[str] = set()
    for i, acc in enumerate(accounts):
        if acc.username.lower() in seen_users:
            raise ctx.error(("accounts", i, "username"), f"duplicate account {acc.username!r}")
        seen_users.add(acc.username.lower())
        if autosave and not any(f.name == autosave for f in acc.folders):
            raise ctx.error(("server", "autosave_sent"),
                            f"auto-save folder {autosave!r} is not a folder of {acc.username!r}")

    smtp = _smtp(top.table("smtp"), autosave)
    timeline = tuple(event(t, accounts) for t in top.tables("timeline"))
    sends = tuple(_send(t, smtp) for t in top.tables("send"))
    crm = _crm(top.table("crm"))
    expect = tuple(_expect(t) for t in top.tables("expect"))
    top.done()

    config = ServerConfig(
        accounts=accounts,
        greeting=greeting,
        capabilities=caps,
        max_connections_per_user=max_conn,
        idle_timeout_s=idle_timeout,
        oauth_errors=oauth_errors,
        recent=profile.recent,
        create_subscribes=profile.create_subscribes,
    )
    return Scenario(
        name=name, description=description, seed=seed, profile=profile, config=config,
        latency=latency, autosave_sent=autosave, too_many_text=too_many,
        throttle_style=throttle, timeline=timeline, expect=expect,
        source=Path(file) if file != "<scenario>" else None, wrong_hostname=wrong_hostname,
        smtp=smtp, sends=sends, crm=crm,
    )


def _smtp(t: Table | None, autosave: str | None) -> SmtpConfig | None:
    """The ``[smtp]`` table: personas and SMTP faults for the SMTP helper's server."""
    if t is None:
        return SmtpConfig(autosave_sent_folder=autosave)
    if not t.flag("enabled", True):
        t.done()
        return None
    personas = []
    for p in t.tables("personas"):
        fields = dict(
            address=p.text("address", REQUIRED), name=p.text("name", ""),
            action=p.text("action", "reply", choices=("reply", "forward", "reply_from_other")),
            delay_s=p.number("delay_s", 0.0, minimum=0, maximum=86_400),
            attach=p.flag("attach", False), other_address=p.text("other_address", None),
            forward_to=p.text("forward_to", None),
        )
        if p.has("body"):
            fields["body"] = p.text("body")
        p.done()
        personas.append(_build(p, PersonaSpec, fields))
    faults = []
    for f in t.tables("faults"):
        fields = dict(kind=f.text("kind", REQUIRED, choices=FAULT_KINDS),
                      stage=f.text("stage", REQUIRED, choices=FAULT_STAGES),
                      times=f.integer("times", 1, minimum=1), message=f.text("message", None))
        f.done()
        faults.append(_build(f, SmtpFault, fields))
    limit = t.integer("data_size_limit", 10 * 1024 * 1024, minimum=1)
    require_starttls = t.flag("require_starttls", False)
    t.done()
    return _build(t, SmtpConfig, dict(
        autosave_sent_folder=autosave, personas=tuple(personas), faults=tuple(faults),
        data_size_limit=limit, require_starttls=require_starttls))


_DOMAIN = re.compile(r"^@?[a-z0-9-]+(?:\.[a-z0-9-]+)+$", re.IGNORECASE)


def _crm(t: Table | None) -> CrmRules:
    """``[crm]``: logging mode, never-log list, attachment switch for ``scenario run``."""
    if t is None:
        return CrmRules()
    mode = t.text("logging_mode", "replies_only", choices=CRM_LOGGING_MODES)
    never = t.texts("never_log", ())
    for k, entry in enumerate(never):
        if not (_ADDRESS.match(entry) or _DOMAIN.match(entry)):
            raise t.ctx.error((*t.path, "never_log", k),
                              f"{entry!r} is not an address or a domain (dana@acme.example, "
                              "@acme.example or acme.example)")
    attachments = t.flag("log_attachments", True)
    t.done()
    return CrmRules(mode, tuple(e.lower() for e in never), attachments)


def _send(t: Table, smtp: SmtpConfig | None) -> Send:
    """A ``[[send]]`` block: what the CRM sends during ``scenario run``."""
    if smtp is None:
        raise t.fail("a [[send]] needs the SMTP server, but [smtp] enabled = false")
    to = t.texts("to", REQUIRED)
    if not to:
        raise t.fail("needs at least one address", "to")
    for k, address in enumerate(to):
        if not _ADDRESS.match(address):
            raise t.ctx.error((*t.path, "to", k),
                              f"{address!r} is not an address like dana@acme.example")
    if len({a.lower() for a in to}) != len(to):
        raise t.fail("an address is listed twice", "to")
    subject = t.text("subject", REQUIRED)
    if not subject.strip() or "\r" in subject or "\n" in subject:
        raise t.fail("the subject must be one non-empty line", "subject")
    body = t.text("body", REQUIRED)
    if not body.strip():
        raise t.fail("the body is empty", "body")
    name = t.text("name", "")
    t.done()
    return Send(to=to, subject=subject, body=body, name=name)


def _build(t: Table, cls: Any, fields: dict[str, Any]) -> Any:
    """Construct the SMTP helper's dataclass; its own checks become located errors."""
    try:
        return cls(**fields)
    except ScenarioError as exc:
        raise t.fail(exc.what) from exc


def _account(t: Table, index: int, seed: int,
             profile_folders: tuple[tuple[str, tuple[str, ...]], ...]) -> AccountConfig:
    username = t.text("username", REQUIRED)
    password = t.text("password", REQUIRED)
    login = t.text("login", "password", choices=("password", "XOAUTH2", "OAUTHBEARER"))
    if not username or any(c in username for c in " \r\n\"\\"):
        raise t.fail(f"not a usable login name: {username!r}", "username")
    folders: dict[str, FolderConfig] = {}
    if t.flag("profile_folders", True):
        for name, uses in profile_folders:
            folders[name] = FolderConfig(name, special_use=uses)
    explicit: set[str] = set()
    for j, ft in enumerate(t.tables("folders")):
        folder = _folder(ft, username, seed + 1000 * index + j, folders)
        if folder.name in explicit:
            raise ft.fail(f"duplicate folder {folder.name!r}", "name")
        explicit.add(folder.name)
        folders[folder.name] = folder
    t.done()
    if not any(n.upper() == "INBOX" for n in folders):
        folders["INBOX"] = FolderConfig("INBOX")
    ordered = sorted(folders.values(), key=lambda f: (f.name.upper() != "INBOX", f.name))
    return AccountConfig(username, password, tuple(ordered), login=login)


def _folder(t: Table, owner: str, seed: int, known: dict[str, FolderConfig]) -> FolderConfig:
    name = t.text("name", REQUIRED)
    if not name or name.startswith("/") or name.endswith("/") or "\r" in name or "\n" in name:
        raise t.fail(f"not a usable folder name: {name!r}", "name")
    base = known.get(name)
    uses = t.texts("special_use", base.special_use if base else ())
    for k, use in enumerate(uses):
        if use not in SPECIAL_USE:
            known_uses = ", ".join(sorted(SPECIAL_USE))
            raise t.ctx.error((*t.path, "special_use", k),
                              f"unknown special-use {use!r}; known: {known_uses}")
    subscribed = t.flag("subscribed", True)
    gen_table = t.table("generate")
    spec = _genspec(gen_table, owner, seed) if gen_table else None
    messages = tuple(_message(m, name, k) for k, m in enumerate(t.tables("messages")))
    t.done()
    return FolderConfig(name, special_use=tuple(uses), generated=spec, messages=messages,
                        subscribed=subscribed)


def _genspec(t: Table, owner: str, seed: int) -> GenSpec:
    count = t.integer("count", REQUIRED, minimum=0, maximum=10_000_000)
    size_range = t._get("size_range", (list,), "an array [min, max]", [800, 6000])
    if (len(size_range) != 2 or not all(isinstance(v, int) and not isinstance(v, bool)
                                        for v in size_range)):
        raise t.fail("size_range must be two integers [min, max]", "size_range")
    lo, hi = size_range
    if not 200 <= lo <= hi <= 50_000_000:
        raise t.fail(f"size_range needs 200 <= min <= max <= 50000000, got [{lo}, {hi}]",
                     "size_range")
    domain = owner.rpartition("@")[2] or "example.com"
    kwargs: dict[str, Any] = dict(
        count=count,
        seed=t.seed("seed", seed),
        thread_ratio=t.number("thread_ratio", 0.3, minimum=0, maximum=1),
        attachment_ratio=t.number("attachment_ratio", 0.05, minimum=0, maximum=1),
        seen_ratio=t.number("seen_ratio", 0.7, minimum=0, maximum=1),
        size_range=(lo, hi),
        owner=owner,
        domain=domain,
    )
    t.done()
    try:
        return GenSpec(**kwargs)
    except (ValueError, TypeError) as exc:
        raise t.fail(str(exc)) from exc


def _message(t: Table, folder: str, index: int) -> bytes:
    raw = t.text("raw", None)
    if raw is not None:
        t.done()
        data = raw.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
        if b"\r\n\r\n" not in data:
            raise t.fail("raw message needs a header block and a blank line", "raw")
        return data
    msg = EmailMessage(policy=SMTP)
    msg["From"] = t.text("from", "Alice Example <alice@example.org>")
    msg["To"] = t.text("to", "user@example.com")
    msg["Subject"] = t.text("subject", REQUIRED)
    clock = f"{index // 60 % 24:02d}:{index % 60:02d}:00"
    msg["Date"] = t.text("date", f"Mon, 01 Jan 2024 {clock} +0000")
    folder_tag = f"{zlib.crc32(folder.encode()):08x}"
    msg["Message-ID"] = t.text("message_id", f"<scenario.{index}.{folder_tag}@inboxlab.test>")
    in_reply_to = t.text("in_reply_to", None)
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(t.text("body", "Hello from an inboxlab scenario.\n"))
    t.done()
    return msg.as_bytes()


def _expect(t: Table) -> Expect:
    check = t.text("check", REQUIRED, choices=tuple(EXPECT_CHECKS))
    required, optional = EXPECT_CHECKS[check]
    description = t.text("description", "")
    params: list[tuple[str, Any]] = []
    for key in sorted(t.data):
        if key in ("check", "description"):
            continue
        if key not in required and key not in optional:
            known = ", ".join(sorted(required | optional)) or "(none)"
            raise t.fail(f"unknown key {key!r} for check {check!r} (known: {known})", key)
        value = t.data[key]
        if not isinstance(value, str | int | float | bool):
            raise t.fail(f"expected a string, number or boolean, got {type(value).__name__}", key)
        params.append((key, value))
    missing = sorted(required - {k for k, _ in params})
    if missing:
        raise t.fail(f"check {check!r} needs key {missing[0]!r}")
    if check.startswith("crm_") or check == "sent_copies":
        _crm_params(t, check, dict(params))
    return Expect(check=check, params=tuple(params), description=description)


def _crm_params(t: Table, check: str, params: dict[str, Any]) -> None:
    """The CRM checks' values: counts are integers >= 0, a contact is an address."""
    any_of = EXPECT_ANY_OF.get(check)
    if any_of and not any_of & params.keys():
        raise t.fail(f"check {check!r} needs at least one of {', '.join(sorted(any_of))}")
    for key, value in params.items():
        if key in COUNT_KEYS and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            raise t.fail(f"expected a count (an integer >= 0), got {value!r}", key)
        if key == "contact" and not (isinstance(value, str) and _ADDRESS.match(value)):
            raise t.fail(f"{value!r} is not an address like dana@acme.example", key)
        if key == "state" and value not in OUTBOX_STATES:
            raise t.fail(f"{value!r} is not an outbox state; known: {', '.join(OUTBOX_STATES)}",
                         key)
        if key == "folder" and not (isinstance(value, str) and value.strip()):
            raise t.fail("expected a folder name", key)
