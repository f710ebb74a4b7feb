"""``inboxlab scenario ...`` (called by cli/main.py). ``inboxlab fakeserver serve`` lives in
``inboxlab.lab.cli``: it serves through the public lab API (issue 19).
"""

from __future__ import annotations

import sys

# The CLI's exit codes (the table is engine/exitcodes.py; this room may not import it,
# tests/test_exitcodes.py holds the numbers together).
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 2, 3


def scenario_main(action: str, file: str | None) -> int:
    """``list``: bundled scenarios with their descriptions; ``check FILE``: validate one.

    Exit codes: 0 valid, 3 invalid (the error names file, line, key and problem), 2 a
    bundled scenario does not load.
    """
    from inboxlab.fakeserver.errors import ScenarioError
    from inboxlab.fakeserver.scenario.load import load
    from inboxlab.scenarios import DEFAULT, bundled, path_of

    if action == "list":
        status = 0
        for name, path in bundled().items():
            try:
                loaded = load(path)
            except ScenarioError as exc:
                print(f"{name:24} INVALID: {exc}")
                status = EXIT_FAILED
                continue
            mark = " (default)" if name == DEFAULT else ""
            print(f"{name:24} [{loaded.profile.name}] {loaded.description}{mark}")
        return status
    if action == "check":
        if not file:
            print("error: scenario check needs a FILE (or a bundled name)", file=sys.stderr)
            return EXIT_USAGE
        try:
            loaded = load(path_of(file))
        except (FileNotFoundError, ScenarioError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"ok: {loaded.name} (profile {loaded.profile.name}, "
              f"{len(loaded.accounts)} account(s), {len(loaded.timeline)} timeline event(s), "
              f"{len(loaded.expect)} expectation(s))")
        return 0
    print(f"error: unknown scenario action {action!r} (list, check)", file=sys.stderr)
    return EXIT_USAGE
