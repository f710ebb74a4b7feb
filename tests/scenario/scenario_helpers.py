"""Helpers for scenario tests: a scenario from a TOML snippet, served on loopback."""

from __future__ import annotations

from fakeserver.scenario.load import loads
from fakeserver.scenario.model import Scenario

USER, PASSWORD = "user@example.com", "inboxlab-demo"

def header(*, name: str = "test", seed: int = 5, password: str = PASSWORD,
           count: int = 40) -> str:
    """One dovecot-profile account with a generated INBOX of ``count`` messages."""
    return f"""\
name = "{name}"
seed = {seed}

[server]
profile = "dovecot"

[[accounts]]
username = "{USER}"
password = "{password}"

[[accounts.folders]]
name = "INBOX"
[accounts.folders.generate]
count = {count}
"""


HEADER = header()


def scenario_with(timeline: str = "", *, header: str = HEADER) -> Scenario:
    """``header`` plus extra TOML (usually ``[[timeline]]`` entries)."""
    return loads(header + "\n" + timeline, file="test.toml")


def event(trigger: str, action: str, name: str = "e") -> str:
    return f'\n[[timeline]]\nname = "{name}"\ntrigger = {trigger}\naction = {action}\n'
