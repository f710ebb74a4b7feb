"""A new project installs the wheel and the README's ten-line test passes there, next to
the project's own packages named ``engine`` and ``tui`` (issue 19's "Done when").

The wheel is built offline from a copy of the sources (--no-build-isolation: setuptools
is in the test extras) and installed with --no-deps into a fresh virtualenv; the
dependencies (textual, aiosmtpd, pytest...) come from this environment's site-packages
through a plain path line, which puts no inboxlab of ours on the path (the editable
install's finder is only activated by its own .pth, which a path line does not run).
About 10 s.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sources() -> list[str]:
    """What the build reads: pyproject, the README and every mapped room folder."""
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return ["pyproject.toml", "README.md", *sorted(setup["package-dir"].values())]


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    found = re.search(r"## The lab in your own tests\n.*?```python\n(.*?)```", text, re.S)
    assert found, "README lost its 'The lab in your own tests' example"
    return found.group(1)


def run(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST"))}
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_the_readme_example_is_ten_lines() -> None:
    assert len(readme_example().strip().splitlines()) == 10


def test_a_new_project_installs_the_wheel_and_the_readme_test_passes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in sources():
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(ROOT / name, src / name)
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "--no-index", "-w", tmp_path / "dist", src, cwd=tmp_path)
    [wheel] = (tmp_path / "dist").glob("inboxlab-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"inboxlab", wheel.name.split("-py3")[0] + ".dist-info"}, tops

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
        "--no-index", wheel, cwd=tmp_path)
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                    cwd=tmp_path).stdout.strip())
    (site / "zz_deps_from_the_test_env.pth").write_text(sysconfig.get_path("purelib") + "\n")

    project = tmp_path / "project"
    (project / "engine").mkdir(parents=True)
    (project / "engine" / "__init__.py").write_text('NAME = "the project\'s own engine"\n')
    (project / "tui.py").write_text('NAME = "the project\'s own tui"\n')
    (project / "tests").mkdir()
    (project / "tests" / "test_readme.py").write_text(readme_example())
    (project / "tests" / "test_names.py").write_text(
        "import engine\nimport tui\nimport inboxlab.lab\n\n\n"
        "def test_the_project_keeps_its_names():\n"
        "    assert engine.NAME == \"the project's own engine\"\n"
        "    assert tui.NAME == \"the project's own tui\"\n"
        f"    assert inboxlab.lab.__file__.startswith({str(site)!r})\n")
    done = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=project)
    assert "2 passed" in done.stdout, done.stdout
