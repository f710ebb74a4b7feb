"""Test files need unique basenames: pytest's default import mode (rootdir-relative, no
__init__.py) cannot collect two ``test_x.py`` in different folders, and the clash stops the
whole suite at collection."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_test_module_basenames_are_unique() -> None:
    names = Counter(p.name for p in TESTS.rglob("*.py") if "__snapshots__" not in p.parts)
    names.pop("conftest.py", None)
    assert [n for n, c in names.items() if c > 1] == []
