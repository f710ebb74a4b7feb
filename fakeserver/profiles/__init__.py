"""Provider profiles as data: ``<name>.toml`` files next to this module.

A profile says how a provider looks from a client: greeting, capabilities, folder
names and special-use, connection limit, whether SMTP submissions are auto-saved into
Sent, how it throttles, and how slow it is. Each file cites the public source of its
capability line. Scenarios name a profile and override parts of it.
"""

from __future__ import annotations

import dataclasses
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from inboxlab.fakeserver.config import Capabilities
from inboxlab.fakeserver.errors import ScenarioError
from inboxlab.fakeserver.oauth_errors import STYLES as OAUTH_STYLES
from inboxlab.fakeserver.scenario.model import LatencyProfile, Profile
from inboxlab.fakeserver.scenario.reader import REQUIRED, Context, Table

__all__ = ["capabilities_from", "latency_from", "load_profile", "names"]

CAPABILITY_TOGGLES: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Capabilities) if f.name != "extra"
)


def names() -> tuple[str, ...]:
    """The bundled profile names, sorted."""
    root = resources.files(__name__)
    return tuple(sorted(e.name[:-5] for e in root.iterdir() if e.name.endswith(".toml")))


def _path(name: str) -> Path:
    return Path(str(resources.files(__name__).joinpath(f"{name}.toml")))


def capabilities_from(table: Table | None, base: Capabilities) -> Capabilities:
    """Apply a ``[capabilities]`` table (toggles, ``extra``, ``add``/``remove``) to ``base``."""
    if table is None:
        return base
    changes: dict[str, Any] = {}
    for key in CAPABILITY_TOGGLES:
        value = table.flag(key)
        if value is not None:
            changes[key] = value
    extra = list(table.texts("extra", base.extra))
    for cap in table.texts("add"):
        if cap.upper() not in (e.upper() for e in extra):
            extra.append(cap)
    removed = {c.upper() for c in table.texts("remove")}
    extra = [e for e in extra if e.upper() not in removed]
    for i, cap in enumerate(extra):
        if not cap or any(ch in cap for ch in " ()[]{}\"\r\n"):
            raise table.ctx.error((*table.path, "extra", i), f"not a capability atom: {cap!r}")
    changes["extra"] = tuple(extra)
    table.done()
    return dataclasses.replace(base, **changes)


def latency_from(table: Table | None, base: LatencyProfile) -> LatencyProfile:
    if table is None:
        return base
    latency = LatencyProfile(
        command_ms=table.number("command_ms", base.command_ms, minimum=0, maximum=600_000),
        jitter_ms=table.number("jitter_ms", base.jitter_ms, minimum=0, maximum=600_000),
        select_ms_per_1000=table.number(
            "select_ms_per_1000", base.select_ms_per_1000, minimum=0, maximum=600_000
        ),
    )
    table.done()
    return latency


def load_profile(name: str) -> Profile:
    """Load and validate one bundled profile; an unknown name lists the known ones."""
    if name not in names():
        raise ScenarioError(f"unknown profile {name!r}; known: {', '.join(names())}")
    path = _path(name)
    source = path.read_text(encoding="utf-8")
    ctx = Context(str(path), source)
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML: {exc}", file=str(path)) from exc
    top = Table(data, (), ctx)
    folders: list[tuple[str, tuple[str, ...]]] = []
    for folder in top.tables("folders"):
        folders.append((folder.text("name", REQUIRED), folder.texts("special_use")))
        folder.done()
    max_conn = top.integer("max_connections", None, minimum=1)
    profile = Profile(
        name=top.text("name", REQUIRED),
        description=top.text("description", ""),
        source=top.text("source", REQUIRED),
        greeting=top.text("greeting", REQUIRED),
        capability_line=top.text("capability_line", REQUIRED),
        capabilities=capabilities_from(top.table("capabilities"), Capabilities()),
        folders=tuple(folders),
        max_connections=max_conn,
        autosave_sent=top.text("autosave_sent", None),
        throttle_style=top.text("throttle", "none", choices=("gmail", "office365", "none")),
        too_many_text=top.text("too_many_connections_text", "Too many simultaneous connections"),
        latency=latency_from(top.table("latency"), LatencyProfile()),
        oauth_errors=top.text("oauth_errors", "rfc7628", choices=OAUTH_STYLES),
        recent=top.flag("recent", True),
        recent_source=top.text("recent_source", Profile.recent_source),
        create_subscribes=top.flag("create_subscribes", False),
        create_subscribes_source=top.text("create_subscribes_source",
                                          Profile.create_subscribes_source),
    )
    top.done()
    if profile.name != name:
        raise ctx.error(("name",), f"profile file {name}.toml declares name {profile.name!r}")
    return profile

