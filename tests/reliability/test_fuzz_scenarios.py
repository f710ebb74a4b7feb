"""Scenario files under mutation: a bundled scenario with its lines dropped, duplicated,
or its values replaced by values of other types loads or fails with ScenarioError -
never another exception. Budget: INBOXLAB_FUZZ_EXAMPLES (default 200, derandomized)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from inboxlab.fakeserver.errors import ScenarioError
from inboxlab.fakeserver.scenario.load import loads

EXAMPLES = int(os.environ.get("INBOXLAB_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.toml"))
TEXTS = [p.read_text(encoding="utf-8") for p in SCENARIOS]
_ASSIGN = re.compile(r"^(\s*[A-Za-z0-9_.\"-]+\s*=\s*)(.+)$")

VALUES = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.sampled_from(["0", "-1", "1e309", "nan", "inf", "true", "[]", "{}", '""', "'\\x'",
                     "[1, \"a\"]", "{ a = 1 }", "1979-05-27T07:32:00Z", "[[1]]",
                     '"\\u0000"', '"../../etc/passwd"', '"*"', '"%"', '"\u202e"']),
    st.text(max_size=30).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"')
                             .replace("\n", "\\n").replace("\r", "\\r") + '"'),
    st.floats(allow_nan=False).map(repr),
)


@st.composite
def mutated_scenario(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(TEXTS)).splitlines()
    for _ in range(draw(st.integers(1, 6))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(("value", "value", "value", "drop", "dup", "truncate")))
        m = _ASSIGN.match(lines[i])
        if op == "value" and m:
            lines[i] = m.group(1) + draw(VALUES)
        elif op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
    return "\n".join(lines)


def test_every_bundled_scenario_loads() -> None:
    assert len(TEXTS) >= 10
    for path, text in zip(SCENARIOS, TEXTS, strict=True):
        loads(text, file=str(path), default_name=path.stem)


@FUZZ
@given(mutated_scenario())
@example("seed = -1")
@example("[[accounts]]\nusername = 1")
@example("[server]\nprofile = \"nope\"")
def test_a_mutated_scenario_loads_or_is_a_scenario_error(text: str) -> None:
    try:
        loads(text)
    except ScenarioError as exc:
        assert str(exc)


@FUZZ
@given(st.text(max_size=300))
def test_random_text_is_a_scenario_error_or_a_scenario(text: str) -> None:
    try:
        loads(text)
    except ScenarioError as exc:
        assert str(exc)
