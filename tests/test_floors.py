"""The rooms' contracts of issue 17 (pyproject.toml) can fail: the engine's floors, its
no-circle rule, the harness room, the tui bridge room.

Each case plants one import in a copy of the rooms and runs ``lint-imports`` there: an
upward import between floors, a circle inside a floor, a module on no floor, Textual in
the harness, the engine in a screen.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PLANTS = {
    # the ground floor reaching up to the account
    "upward": ({"engine/clock.py": "\nimport inboxlab.engine.account  # planted\n"},
               "inboxlab.engine.clock -> inboxlab.engine.account"),
    # two diagnostics modules importing each other (the probe/probe_smtp circle)
    "circle": ({"engine/diag/planted_a.py": "import inboxlab.engine.diag.planted_b\n",
                "engine/diag/planted_b.py": "import inboxlab.engine.diag.planted_a\n"},
               "No cycles are allowed in inboxlab.engine.diag"),
    # a new module nobody placed on a floor
    "unplaced": ({"engine/planted.py": "import inboxlab.engine.errors\n"},
                 "inboxlab.engine.planted"),
    # the harness room never sees Textual
    "harness-textual": ({"harness/planted.py": "import textual\n"}, "inboxlab.harness.planted"),
    # outside the bridge room, tui never sees the engine
    "tui-engine": ({"tui/screens/planted.py": "import inboxlab.engine.errors\n"},
                   "inboxlab.tui.screens.planted"),
}


def _lint_imports() -> str:
    found = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("lint-imports is not installed (pip install -e '.[dev]')")
    return found


@pytest.mark.parametrize("case", sorted(PLANTS))
def test_engine_floor_contracts_catch_a_planted_import(tmp_path: Path, case: str) -> None:
    lint = _lint_imports()
    for pkg in ("engine", "fakeserver", "tui", "lab", "harness", "cli"):
        # laid out as installed (inboxlab/engine), so PYTHONPATH wins over the editable install
        shutil.copytree(ROOT / pkg, tmp_path / "inboxlab" / pkg,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    files, named = PLANTS[case]
    for rel, text in files.items():
        path = tmp_path / "inboxlab" / rel
        path.write_text((path.read_text() if path.exists() else "") + text)
    done = subprocess.run(
        [lint, "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(tmp_path), "PATH": str(Path(sys.executable).parent)},
    )
    assert done.returncode != 0, done.stdout
    assert "BROKEN" in done.stdout and named in done.stdout, done.stdout
