"""The pytest plugin, run the way a user runs it: a separate pytest process (pytester) on
a project that only has test files; the plugin comes from the installed entry point."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

ARGS = ("-p", "no:cacheprovider", "-q")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*ARGS, *args, timeout=300)


def test_off_unless_used_then_a_lab_per_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="""
        import sys

        def test_a_test_without_the_fixture_starts_nothing():
            assert not [m for m in sys.modules if m.startswith("inboxlab.fakeserver")]

        SEEN = []

        def test_the_fixture_serves_the_demo(inboxlab, tmp_path_factory):
            assert inboxlab.running and inboxlab.scenario == "demo"
            assert inboxlab.ca_file.is_relative_to(tmp_path_factory.getbasetemp())
            SEEN.append((inboxlab, inboxlab.ca_file))

        def test_each_test_gets_its_own(inboxlab):
            [(first, first_ca)] = SEEN
            assert not first.running and inboxlab.running  # the first one stopped
            assert inboxlab.ca_file.parent != first_ca.parent
    """)
    run(pytester).assert_outcomes(passed=3)


def test_the_marker_and_the_scenario_fixture_choose_the_scenario(
        pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest

        @pytest.fixture
        def inboxlab_scenario():
            return "tarpit"
    """)
    pytester.makefile(".toml", mine="""
        name = "mine"
        [server]
        profile = "gmail"
        [[accounts]]
        username = "me@example.com"
        password = "pw"
    """)
    pytester.makepyfile(test_choice="""
        import pytest

        def test_conftest_default(inboxlab):
            assert inboxlab.scenario == "tarpit"

        @pytest.mark.inboxlab("no-special-use")
        def test_bundled_by_marker(inboxlab):
            assert inboxlab.profile == "generic-no-special-use"

        @pytest.mark.inboxlab("mine.toml", control=False)
        def test_a_file_and_options(inboxlab):
            assert inboxlab.login.username == "me@example.com"
            assert inboxlab.profile == "gmail"

        @pytest.mark.inboxlab("no-such-scenario")
        def test_a_bad_name_says_so(inboxlab):
            pass
    """)
    result = run(pytester)
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*ScenarioInvalid: no bundled scenario named 'no-such-scenario'*"])


def test_the_session_lab_is_shared_and_async_tests_use_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_shared="""
        import pytest

        PORTS = []

        def test_one(inboxlab_session):
            PORTS.append(inboxlab_session.imaps.port)
            inboxlab_session.deliver(b"Subject: kept\\r\\n\\r\\n")

        @pytest.mark.asyncio
        async def test_two_async(inboxlab_session):
            PORTS.append(inboxlab_session.imaps.port)
            subjects = await inboxlab_session.async_wait_until(
                lambda: inboxlab_session.folder().exists, what="the INBOX")
            assert subjects and len(set(PORTS)) == 1
    """)
    run(pytester).assert_outcomes(passed=2)


def test_parallel_under_xdist(pytester: pytest.Pytester) -> None:
    """Two workers, eight tests, each with its own lab and its worker's session lab: no
    port clash, no shared CA directory, one session lab per worker."""
    pytest.importorskip("xdist")
    pytester.makepyfile(test_parallel="""
        import json, os
        import pytest

        @pytest.mark.parametrize("n", range(8))
        def test_each(inboxlab, inboxlab_session, n):
            uid = inboxlab.deliver(b"Subject: %d\\r\\n\\r\\n" % n)
            assert inboxlab.folder().uids[-1] == uid
            row = {"worker": os.environ["PYTEST_XDIST_WORKER"], "imaps": inboxlab.imaps.port,
                   "smtp": inboxlab.smtp.port, "ca": str(inboxlab.ca_file),
                   "session": inboxlab_session.imaps.port}
            with open(f"row-{n}.json", "w") as out:
                json.dump(row, out)
    """)
    run(pytester, "-n", "2").assert_outcomes(passed=8)
    rows = [json.loads((pytester.path / f"row-{n}.json").read_text()) for n in range(8)]
    assert len({r["worker"] for r in rows}) == 2
    assert len({r["ca"] for r in rows}) == 8
    assert len({(r["worker"], r["session"]) for r in rows}) == 2
    assert len({r["session"] for r in rows}) == 2
