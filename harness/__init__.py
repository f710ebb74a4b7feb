"""The harness room: what runs the engine against the fake servers, headless.

It may import ``engine`` and ``fakeserver`` (the one room besides the CLI that sees
both: it starts a scenario's servers, points an account at them over loopback, and
judges what happened), never Textual or ``tui`` (an import-linter contract).

- ``run``: ``inboxlab scenario run``; ``checks``, ``implicit``, ``crm_checks``: the
  expectations it judges; ``crm_drive``: the CRM side of a run; ``report``: the verdict.
- ``demo``: the bundled fake servers in-process, for the TUI's demo director.
- ``fromtrace``: ``inboxlab scenario from-trace``, a recorded session as a scenario.
"""
