"""The exit codes of every ``inboxlab`` command: one table, read by all of them.

| code | name        | meaning                                                              |
|------|-------------|----------------------------------------------------------------------|
| 0    | OK          | done; nothing wrong (diagnose: every step passed; scenario run:      |
|      |             | every expectation held)                                              |
| 1    | WARNING     | done, it works, with warnings (diagnose: a huge folder, no Sent      |
|      |             | folder, a slow step, login skipped)                                  |
| 2    | FAILED      | the thing examined failed (diagnose: a step failed, its cause is     |
|      |             | named; scenario run: an expectation did not hold)                    |
| 3    | USAGE       | the command itself cannot run as given: bad arguments, an unknown or |
|      |             | invalid scenario/trace file, no password where one is needed         |
| 130  | INTERRUPTED | stopped by Ctrl-C                                                    |

Why here: the CLI (``cli/main.py``) and the engine's own commands (``diagnose``,
``record``, ``from-trace``) both return these; the engine may not import ``tui``, so the
table sits in the engine with no imports of its own. ``fakeserver`` may import neither:
``fakeserver/cli.py`` repeats the three numbers it uses and ``tests/test_exitcodes.py``
holds the two together.
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    WARNING = 1
    FAILED = 2
    USAGE = 3
    INTERRUPTED = 130


MEANING: dict[Exit, str] = {
    Exit.OK: "done; nothing wrong",
    Exit.WARNING: "done, it works, with warnings",
    Exit.FAILED: "what was examined failed (the cause is named)",
    Exit.USAGE: "the command cannot run as given (arguments, input file, password)",
    Exit.INTERRUPTED: "stopped by Ctrl-C",
}


def table() -> str:
    """The table as text (``inboxlab --help`` epilog, README)."""
    return "\n".join(f"  {int(code):>3}  {MEANING[code]}" for code in Exit)


__all__ = ["MEANING", "Exit", "table"]
