"""One installed namespace (issue 19): the rooms are ``inboxlab.engine``, ``inboxlab.fakeserver``,
``inboxlab.tui`` and ``inboxlab.scenarios``; nothing in the repository may import them under
their folder names, and the folder names must not resolve to this repository while tests run
(tests/namespace_guard.py, installed by conftest)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest
from namespace_guard import ROOMS, ROOT, BareRoomImport

CODE_DIRS = (*ROOMS, "tests", "bench")
# a string that runs or names a room module: "-m", "engine.x" / "from engine.x import y"
_ROOM = "|".join(ROOMS)
_STATEMENT = re.compile(rf"^\s*(from ({_ROOM})(\.\w+)* import|import ({_ROOM})\b)", re.M)
_MODULE_PATH = re.compile(rf"^({_ROOM})(\.\w+)+$")
_PREFIXES = {f"{room}." for room in ROOMS}  # __module__.startswith("tui.")
# "engine.db" is the engine's database file, not the module engine/db.py
_FILE_EXT = {"db", "log", "toml", "json", "jsonl", "txt", "pem", "tcss", "sqlite", "csv"}


# files whose strings are a foreign project's code (its own `engine` package, on purpose)
_FOREIGN = {"tests/lab/test_lab_wheel.py"}


def _python_files() -> list[Path]:
    return sorted(p for d in CODE_DIRS for p in (ROOT / d).rglob("*.py")
                  if "__snapshots__" not in p.parts and p != Path(__file__).resolve())


def _is_room_module(dotted: str) -> bool:
    room, first, *rest = dotted.split(".")
    if not rest and first in _FILE_EXT:
        return False
    return (ROOT / room / f"{first}.py").is_file() or (ROOT / room / first).is_dir()


def bare_room_uses(path: Path, root: Path = ROOT) -> list[str]:
    """Imports of a bare room, and strings that import or run one, in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if path.relative_to(root).as_posix() in _FOREIGN:
                continue
            text = node.value
            if (_STATEMENT.search(text) or text in _PREFIXES
                    or (_MODULE_PATH.match(text) and _is_room_module(text))):
                found.append(f"{path.relative_to(root)}:{node.lineno}: string {text[:60]!r}")
            continue
        found += [f"{path.relative_to(root)}:{node.lineno}: import {n}" for n in names
                  if n.split(".")[0] in ROOMS]
    return found


def test_no_module_imports_a_bare_room() -> None:
    offenders = [hit for p in _python_files() for hit in bare_room_uses(p)]
    assert offenders == [], "use inboxlab.<room> (run /work/wt/nsfix.sh):\n" + "\n".join(offenders)


def test_the_check_sees_a_planted_bare_import(tmp_path: Path) -> None:
    """The scan must be able to fail: each old style it exists for is caught."""
    planted = tmp_path / "planted.py"
    planted.write_text(
        "import engine\nfrom fakeserver.store import Store\nimport tui.cli as cli\n"
        "argv = ['-m', 'fakeserver.oauth_http']\ncode = 'from engine.db import Database'\n"
        "fine = ('engine.db', 'inboxlab.engine.db', 'scenarios.up')\n"
        "mine = type(x).__module__.startswith('tui.')\n")
    shown = sorted(hit.split(": ", 1)[1] for hit in bare_room_uses(planted, tmp_path))
    assert shown == ["import engine", "import fakeserver.store", "import tui.cli",
                     "string 'fakeserver.oauth_http'", "string 'from engine.db import Database'",
                     "string 'tui.'"]


@pytest.mark.parametrize("room", ROOMS)
def test_bare_room_names_do_not_resolve_to_the_repository(room: str) -> None:
    assert all(Path(p or ".").resolve() != ROOT for p in sys.path), "repository root on sys.path"
    loaded = [name for name, mod in sys.modules.items()
              if name.split(".")[0] == room and getattr(mod, "__file__", None)]
    assert loaded == [], f"bare {room} modules were imported: {loaded}"
    with pytest.raises(ImportError) as caught:
        importlib.import_module(room)
    assert not isinstance(caught.value, BareRoomImport) or "inboxlab." in str(caught.value)


def test_the_guard_refuses_the_repository_folder_even_when_the_root_is_on_sys_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    with pytest.raises(BareRoomImport, match=r"import inboxlab\.engine instead"):
        importlib.import_module("engine")
    assert "engine" not in sys.modules


@pytest.mark.parametrize("room", ROOMS)
def test_installed_names_resolve_to_this_checkout(room: str) -> None:
    """A stale editable install (made before the switch, or from another worktree) shows here:
    run `make install` again."""
    spec = importlib.util.find_spec(f"inboxlab.{room}")
    assert spec is not None and spec.origin is not None, f"inboxlab.{room} is not installed"
    assert Path(spec.origin).resolve() == (ROOT / room / "__init__.py").resolve()


def test_every_room_package_is_listed_for_the_wheel() -> None:
    """pyproject lists packages by hand (the mapping rules out find:); a folder left out would
    be missing from the wheel while the editable install still works."""
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setup["package-dir"] == {f"inboxlab.{r}": r for r in ROOMS}
    on_disk = {"inboxlab." + ".".join(p.parent.relative_to(ROOT).parts)
               for r in ROOMS for p in (ROOT / r).rglob("__init__.py")
               if "__pycache__" not in p.parts}
    assert sorted(on_disk - set(setup["packages"])) == [], "add these to [tool.setuptools] packages"
    assert sorted(set(setup["packages"]) - on_disk) == []
