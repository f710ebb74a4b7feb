"""The pytest plugin: the lab as a fixture (the ``pytest11`` entry point ``inboxlab``).

Off unless used: loading it registers one marker and three fixtures and imports no
server code; a lab starts only for a test that asks for a fixture below.

    def test_my_client(inboxlab):                  # a fresh lab for this test
        imap = imaplib.IMAP4_SSL(inboxlab.imaps.host, inboxlab.imaps.port,
                                 ssl_context=inboxlab.ssl_context())
        imap.login(inboxlab.login.username, inboxlab.login.password)

    @pytest.mark.inboxlab("reset-mid-fetch")       # which scenario (default: "demo"),
    def test_resumes(inboxlab): ...                # or override the inboxlab_scenario fixture

    def test_many(inboxlab_factory):               # several labs, any scenarios
        a, b = inboxlab_factory("no-special-use"), inboxlab_factory("tls-mismatch.toml")

    def test_shared(inboxlab_session): ...         # one lab per session (per xdist worker);
                                                   # scenario: the inboxlab_session_scenario
                                                   # fixture; tests share its state

Each fixture yields an ``inboxlab.lab.Lab`` (blocking form: its servers run on a thread
of their own, so sync and async tests both use it; in async tests wait with
``await lab.async_wait_until(...)``). Parallel-safe under pytest-xdist: every lab
listens on free loopback ports and keeps its files (the CA) in the test's or the
session's own temporary directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from inboxlab.lab.api import Lab

LabFactory = Callable[..., "Lab"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "inboxlab(scenario, **options): the scenario (bundled name or TOML file) "
                   "and Lab options for this test's `inboxlab` fixture")


@pytest.fixture
def inboxlab_scenario() -> str | os.PathLike[str]:
    """The scenario of the `inboxlab` fixture when no marker names one (override it)."""
    return "demo"


@pytest.fixture(scope="session")
def inboxlab_session_scenario() -> str | os.PathLike[str]:
    """The scenario of the `inboxlab_session` fixture (override it in a conftest.py)."""
    return "demo"


@pytest.fixture
def inboxlab_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabFactory]:
    """Start labs inside a test: ``inboxlab_factory(scenario="demo", **options)`` returns
    a running Lab; every one stops when the test ends."""
    from inboxlab.lab.api import Lab

    started: list[Lab] = []

    def start(scenario: str | os.PathLike[str] = "demo", **options: Any) -> Lab:
        options.setdefault("state_dir", tmp_path_factory.mktemp("inboxlab"))
        lab = Lab(scenario, **options)
        lab.__enter__()
        started.append(lab)
        return lab

    yield start
    for lab in reversed(started):
        lab.__exit__(None, None, None)


@pytest.fixture
def inboxlab(request: pytest.FixtureRequest, inboxlab_factory: LabFactory,
             inboxlab_scenario: str | os.PathLike[str]) -> Lab:
    """A lab for this test: the scenario of ``@pytest.mark.inboxlab(...)``, else
    ``inboxlab_scenario`` (default "demo")."""
    marker = request.node.get_closest_marker("inboxlab")
    if marker is None:
        return inboxlab_factory(inboxlab_scenario)
    return inboxlab_factory(*marker.args, **marker.kwargs)


@pytest.fixture(scope="session")
def inboxlab_session(tmp_path_factory: pytest.TempPathFactory,
                     inboxlab_session_scenario: str | os.PathLike[str]) -> Iterator[Lab]:
    """One lab for the whole session (each xdist worker has its own)."""
    from inboxlab.lab.api import Lab

    with Lab(inboxlab_session_scenario,
             state_dir=tmp_path_factory.mktemp("inboxlab-session")) as lab:
        yield lab
