"""House rules as checks that fail: import boundaries, lint and types run by the test command."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return found


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_import_contracts_hold() -> None:
    done = _run(_tool("lint-imports"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_import_contract_catches_a_violation(tmp_path: Path) -> None:
    """The contract must be able to fail: plant an engine -> textual import in a copy (laid out
    as installed, inboxlab/engine, so PYTHONPATH wins over the editable install's mapping)."""
    for pkg in ("engine", "fakeserver", "tui", "lab", "harness", "cli"):
        shutil.copytree(ROOT / pkg, tmp_path / "inboxlab" / pkg,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "inboxlab" / "engine" / "planted.py").write_text("import textual\n")
    done = subprocess.run(
        [_tool("lint-imports")], cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(tmp_path), "PATH": str(Path(sys.executable).parent)},
    )
    assert done.returncode != 0
    assert "inboxlab.engine.planted" in done.stdout


def test_ruff_clean() -> None:
    done = _run(_tool("ruff"), "check", "engine", "fakeserver", "tui", "harness", "cli", "tests",
                "bench")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_clean() -> None:
    done = _run(_tool("mypy"))
    assert done.returncode == 0, done.stdout + done.stderr
