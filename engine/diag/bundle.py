"""The diagnostic bundle: one JSON file a support engineer can attach to a ticket.

It holds the settings (no secret is ever in them: see ``engine.secrets``), the
timeline, every classification (from the timeline, the account's errors and a probe),
the redacted traces, capabilities and folder stats. Traces are redacted when recorded
(``engine.diag.tracering``); the bundle adds a last lock: every string is scrubbed of
the secrets the caller names, plain and base64, before anything is written, and the
file is created 0600.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inboxlab.engine.catalogue import CAUSES
from inboxlab.engine.db import Database
from inboxlab.engine.diag.classify import diagnose
from inboxlab.engine.diag.probe import ProbeReport
from inboxlab.engine.diag.redact import Redactor
from inboxlab.engine.diag.timeline import Timeline
from inboxlab.engine.diag.tracering import TraceRing
from inboxlab.engine.files import open_private
from inboxlab.engine.settings import AccountSettings

if TYPE_CHECKING:
    from inboxlab.engine.account import Account

FORMAT = "inboxlab-diagnostic-bundle/1"


def _plain(value: Any) -> Any:
    """Dataclasses, enums, datetimes and tuples as JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.repr}  # a field hidden from repr (a password) stays out of bundles too
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def _scrub(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, str):
        return redactor.server(value)
    if isinstance(value, dict):
        return {k: _scrub(v, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, redactor) for v in value]
    return value


async def build_bundle(
    settings: AccountSettings | None = None,
    *,
    account: Account | None = None,
    ring: TraceRing | None = None,
    db: Database | None = None,
    report: ProbeReport | None = None,
    secrets: Iterable[str] = (),
) -> dict[str, Any]:
    """The bundle as plain data (``export_bundle`` writes it)."""
    if settings is None and account is not None:
        settings = account.settings
    name = account.name if account is not None else (settings.username if settings else None)
    bundle: dict[str, Any] = {"format": FORMAT, "created": datetime.now(UTC).isoformat(),
                              "account": name, "settings": _plain(settings)}
    classifications: list[dict[str, Any]] = []
    if db is not None:
        entries = await Timeline(db).query(name)
        bundle["timeline"] = [e.as_dict() for e in entries]
        classifications += [dict(e.data["diagnosis"]) | {"at": e.at.isoformat()}
                            for e in entries if "diagnosis" in e.data]
    if account is not None:
        stats = account.stats
        bundle["state"] = stats.state.value
        bundle["capabilities"] = list(account.capabilities)
        bundle["folders"] = _plain(stats.folders)
        bundle["roles"] = {r.value: _plain(c) for r, c in account.roles.items()}
        bundle["counters"] = {"logins": stats.logins, "login_attempts": stats.login_attempts,
                              "reconnects": stats.reconnects, "delivered": stats.delivered}
        if db is None:
            classifications += [diagnose(e).as_dict() for e in account.errors]
    if report is not None:
        bundle["probe"] = report.as_dict()
        if report.diagnosis is not None:
            classifications.append(report.diagnosis.as_dict())
        caps = report.step("capability")
        if caps is not None and "capabilities" not in bundle:
            bundle["capabilities"] = caps.data.get("capabilities", [])
    if not bundle.get("capabilities") and db is not None:  # offline now: the last ones seen
        seen = [e for e in bundle.get("timeline", []) if e["kind"] == "capabilities"]
        if seen:
            bundle["capabilities"] = seen[-1]["data"].get("capabilities", [])
    bundle["classifications"] = classifications
    if ring is not None:
        bundle["traces"] = {conn: [e.as_dict() for e in ring.lines(conn)]
                            for conn in ring.connections}
    bundle["catalogue_version"] = [c.code for c in CAUSES]
    scrubbed: dict[str, Any] = _scrub(_plain(bundle), Redactor(secrets))
    return scrubbed


async def export_bundle(path: str | os.PathLike[str], **sources: Any) -> Path:
    """Write the bundle to ``path`` (created 0600; replaced if it exists)."""
    data = await build_bundle(**sources)
    where = Path(path)
    text = json.dumps(data, indent=2, sort_keys=False, default=str)
    fd = open_private(where)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    return where


__all__ = ["FORMAT", "build_bundle", "export_bundle"]
