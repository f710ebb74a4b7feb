"""The one "scenario TOML header" the tests (and bench/soak.py) start their scenarios from.

One account on a chosen profile with a generated folder (INBOX unless told); callers
append what their test is about (folders, ``[smtp]``, ``[[timeline]]``, ``[[expect]]``).
Top-level so every test folder can import it (``pythonpath = ["tests"]``); bench/ adds
tests/ to its path.
"""

from __future__ import annotations

USER, PASSWORD = "user@example.com", "inboxlab-demo"


def header(*, name: str = "test", seed: int = 5, user: str = USER, password: str = PASSWORD,
           count: int = 40, profile: str = "dovecot", server: str = "",
           folder: str = "INBOX") -> str:
    """One ``profile`` account with a generated ``folder`` of ``count`` messages.

    ``server`` is extra TOML for the ``[server]`` table (``autosave_sent = "Sent"``).
    """
    server_lines = f"{server.strip()}\n" if server.strip() else ""
    return f"""\
name = "{name}"
seed = {seed}

[server]
profile = "{profile}"
{server_lines}
[[accounts]]
username = "{user}"
password = "{password}"

[[accounts.folders]]
name = "{folder}"
[accounts.folders.generate]
count = {count}
"""
