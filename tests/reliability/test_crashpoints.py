"""engine.crashpoints: unarmed it does nothing; armed, it SIGKILLs at exactly the named hit."""

from __future__ import annotations

import signal
import subprocess
import sys

from inboxlab.engine.crashpoints import ENV, crashpoint, reached

SCRIPT = (
    "from inboxlab.engine.crashpoints import crashpoint\n"
    "for i in range(1, 4):\n"
    "    print(i, flush=True)\n"
    "    crashpoint('other')\n"
    "    crashpoint('here')\n"
    "print('survived', flush=True)\n"
)


def run(spec: str | None) -> tuple[int, str]:
    env = {} if spec is None else {ENV: spec}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=60, check=False, env={**_base_env(), **env})
    return done.returncode, done.stdout


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != ENV}


def test_unarmed_points_do_nothing() -> None:
    assert run(None) == (0, "1\n2\n3\nsurvived\n")
    crashpoint("here")  # in this process too: unarmed, a no-op
    assert reached("here") == 0


def test_armed_point_kills_at_the_nth_hit() -> None:
    assert run("here") == (-signal.SIGKILL, "1\n")
    assert run("here@2") == (-signal.SIGKILL, "1\n2\n")
    assert run("here@9") == (0, "1\n2\n3\nsurvived\n")
    assert run("elsewhere") == (0, "1\n2\n3\nsurvived\n")
