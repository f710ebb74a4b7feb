"""Helpers for scenario tests: a scenario from a TOML snippet, served on loopback."""

from __future__ import annotations

from scenario_text import PASSWORD, USER, header

from inboxlab.fakeserver.scenario.load import loads
from inboxlab.fakeserver.scenario.model import Scenario

HEADER = header()


def scenario_with(timeline: str = "", *, header: str = HEADER) -> Scenario:
    """``header`` plus extra TOML (usually ``[[timeline]]`` entries)."""
    return loads(header + "\n" + timeline, file="test.toml")


def event(trigger: str, action: str, name: str = "e") -> str:
    return f'\n[[timeline]]\nname = "{name}"\ntrigger = {trigger}\naction = {action}\n'


__all__ = ["HEADER", "PASSWORD", "USER", "event", "header", "scenario_with"]
