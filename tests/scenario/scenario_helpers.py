"""Helpers for scenario tests: a scenario from a TOML snippet, served on loopback."""

from __future__ import annotations

from fakeserver.scenario.load import loads
from fakeserver.scenario.model import Scenario

USER, PASSWORD = "user@example.com", "inboxlab-demo"

HEADER = f"""\
name = "test"
seed = 5

[server]
profile = "dovecot"

[[accounts]]
username = "{USER}"
password = "{PASSWORD}"

[[accounts.folders]]
name = "INBOX"
[accounts.folders.generate]
count = 40
"""


def scenario_with(timeline: str = "", *, header: str = HEADER) -> Scenario:
    """``header`` plus extra TOML (usually ``[[timeline]]`` entries)."""
    return loads(header + "\n" + timeline, file="test.toml")


def event(trigger: str, action: str, name: str = "e") -> str:
    return f'\n[[timeline]]\nname = "{name}"\ntrigger = {trigger}\naction = {action}\n'
