"""lab/README.md shows its examples verbatim, and each is a test of this suite
(tests/lab/test_example_*.py): the docs cannot drift from code that runs."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DOCS = (HERE.parents[1] / "lab" / "README.md").read_text()
EXAMPLES = sorted(p.name for p in HERE.glob("test_example_*.py"))


def test_there_are_the_three_examples() -> None:
    assert EXAMPLES == ["test_example_aiosmtplib.py", "test_example_fault_control.py",
                        "test_example_imaplib.py"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_docs_show_the_example_verbatim(name: str) -> None:
    assert f"```python\n{(HERE / name).read_text()}```" in DOCS, (
        f"lab/README.md no longer shows tests/lab/{name} as it is: paste it again")
