"""The bridge's split (issue 17): the demo director knows its own servers, and the
bridge (like the harness and the CLI) reads the engine's public surface only."""

from __future__ import annotations

import ast
from pathlib import Path

from inboxlab.harness.demo import Endpoints

ROOT = Path(__file__).resolve().parents[2]
# the rooms that drive an engine object from outside it
DRIVERS = (ROOT / "tui" / "bridge", ROOT / "harness", ROOT / "cli")


def test_the_demo_director_knows_its_own_servers() -> None:
    ends = Endpoints("demo", "", "127.0.0.1", 1143, 1993, "ca.pem", "me@example.com")
    assert ends.serves("127.0.0.1", 1993) and ends.serves("127.0.0.1", 1143)
    # another server on the same host (a Dovecot fixture, a second scenario) is not the demo
    assert not ends.serves("127.0.0.1", 2993)
    assert not ends.serves("localhost", 1993)


def _private_reads(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__") \
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            found.append(f"line {node.lineno}: .{node.attr}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("getattr", "setattr", "hasattr") and len(node.args) > 1 \
                and isinstance(node.args[1], ast.Constant) \
                and str(node.args[1].value).startswith("_"):
            found.append(f"line {node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
    return found


def test_the_bridge_harness_and_cli_read_no_private_state_of_other_objects() -> None:
    bad = {str(path.relative_to(ROOT)): found for room in DRIVERS
           for path in sorted(room.glob("*.py"))
           if (found := _private_reads(ast.parse(path.read_text())))}
    assert not bad, bad
