"""Bundled TOML scenarios, shipped as package data so an installed inboxlab finds them."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT = "demo"


def bundled() -> dict[str, Path]:
    """Map each bundled scenario's name (file stem) to its path."""
    root = resources.files(__name__)
    out: dict[str, Path] = {}
    for entry in root.iterdir():
        if entry.name.endswith(".toml"):
            out[entry.name[: -len(".toml")]] = Path(str(entry))
    return dict(sorted(out.items()))


def path_of(name_or_path: str) -> Path:
    """Resolve a bundled scenario name or a file path; raise FileNotFoundError naming both tried."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        if candidate.exists():
            return candidate
        raise FileNotFoundError(f"scenario file not found: {candidate}")
    known = bundled()
    if name_or_path in known:
        return known[name_or_path]
    raise FileNotFoundError(
        f"no bundled scenario named {name_or_path!r}; known: {', '.join(known) or '(none)'}"
    )
