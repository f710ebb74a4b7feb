"""The repository's rooms are importable only under their installed names (issue 19).

``engine/``, ``fakeserver/``, ``tui/`` and ``scenarios/`` are top-level folders here but install
as ``inboxlab.engine`` ... (pyproject.toml maps them). If the repository root were on
``sys.path`` (``python -m pytest`` puts the working directory there), ``import engine`` would
quietly load the folder as a second, differently named copy of the room. ``install()``, called
by tests/conftest.py before anything is collected, takes the root off ``sys.path`` and puts a
finder first on ``sys.meta_path`` that refuses a bare room import resolving into this
repository with an error naming the fix. A user's own ``engine`` package elsewhere still
imports (the plugin's tests rely on that).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("engine", "fakeserver", "tui", "scenarios", "lab", "harness", "cli")


class BareRoomImport(ImportError):
    """A module imported ``engine`` (or another room) instead of ``inboxlab.engine``."""


def _in_repo(spec: importlib.machinery.ModuleSpec | None) -> bool:
    if spec is None:
        return False
    places = [spec.origin or "", *(spec.submodule_search_locations or [])]
    return any(p and Path(p).resolve().is_relative_to(ROOT) for p in places)


class _RefuseBareRooms(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in ROOMS:
            return None
        if _in_repo(importlib.machinery.PathFinder.find_spec(fullname, path)):
            raise BareRoomImport(
                f"`import {fullname}` would load the repository folder {fullname}/ as a "
                f"top-level package; import inboxlab.{fullname} instead (issue 19, "
                f"/work/wt/nsfix.sh rewrites old imports)")
        return None


def _is_root(entry: str) -> bool:
    return Path(entry or ".").resolve() == ROOT


def install() -> None:
    sys.path[:] = [p for p in sys.path if not _is_root(p)]
    if not any(isinstance(f, _RefuseBareRooms) for f in sys.meta_path):
        sys.meta_path.insert(0, _RefuseBareRooms())
