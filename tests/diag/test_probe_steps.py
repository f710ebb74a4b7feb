"""How ``diagnose`` runs its steps (issue 13): what a TLS failure shows, timeouts that hold
for every step (DNS included) and for the whole run, slow steps as warnings, STARTTLS
reported after it happened, capabilities after login, and the pre-login steps without a
password (``--no-login``, or automatically when no password can be had)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from diag_helpers import USER, scenario_text, served

from inboxlab.cli.diagnose import render
from inboxlab.cli.main import main as cli_main
from inboxlab.engine.diag.probe import Probe, ProbeOptions, probe
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer

PASSWORD = "steps-Pw-13"
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def imap(host: str, port: int, security: str) -> AccountSettings:
    return AccountSettings(username=USER, imap=ImapServer(host, port, security))  # type: ignore[arg-type]


# -- what a failed TLS handshake was shown ---------------------------------------------------


async def test_a_name_mismatch_lists_the_names_the_certificate_covers() -> None:
    from inboxlab.fakeserver.scenario.load import load
    from inboxlab.fakeserver.scenario.serve import ScenarioServer

    async with ScenarioServer(load(SCENARIOS / "tls-mismatch.toml"), control_port=None,
                              smtp=False) as srv:
        report = await probe(imap("localhost", srv.tls_port, "tls"), Secret(PASSWORD),
                             ProbeOptions(cafile=str(srv.ca_pem_path), connect_timeout=5))
    step = report.step("tls")
    assert step is not None and step.status == "failed", report.as_dict()
    seen = step.data["presented"]
    assert seen["names"] and "localhost" not in seen["names"]
    assert seen["subject"] and seen["issuer"] and seen["not_after"]
    assert "It covers: " + ", ".join(seen["names"]) in step.summary
    text = render(report)
    assert "the server presented: subject" in text and "server said nothing" in text


async def test_an_untrusted_certificate_shows_subject_issuer_and_validity() -> None:
    async with served(scenario_text(PASSWORD)) as srv:
        report = await probe(imap("localhost", srv.tls_port, "tls"), Secret(PASSWORD),
                             ProbeOptions(connect_timeout=5))  # no --cafile: untrusted
    d = report.diagnosis
    assert d is not None and d.code == "tls_untrusted"
    assert d.server_text is None  # OpenSSL's words are not the server's
    step = report.step("tls")
    assert step is not None and step.data["presented"]["names"]
    assert "issued by" in step.summary and "valid " in step.summary


# -- timeouts --------------------------------------------------------------------------------


@contextlib.contextmanager
def stuck_resolver() -> Iterator[Any]:
    """A resolver that answers only when the test ends (a dead DNS server)."""
    release = threading.Event()

    def resolver(host: str, port: int) -> list[Any]:
        release.wait(60)
        raise OSError("released")

    try:
        yield resolver
    finally:
        release.set()


async def test_the_timeout_bounds_dns() -> None:
    with stuck_resolver() as resolver:
        report = await Probe(imap("imap.example.com", 993, "tls"), Secret(PASSWORD),
                             ProbeOptions(connect_timeout=0.3), resolver=resolver).run()
    step = report.step("dns")
    assert step is not None and step.status == "failed"
    assert "no answer from the resolver" in step.summary and "0.3s" in step.summary
    assert report.diagnosis is not None and report.diagnosis.code == "dns"


async def test_the_deadline_cuts_every_step_s_limit() -> None:
    from inboxlab.fakeserver.scenario.load import load
    from inboxlab.fakeserver.scenario.serve import ScenarioServer

    async with ScenarioServer(load(SCENARIOS / "tarpit.toml"), control_port=None,
                              smtp=False) as srv:
        report = await probe(imap(srv.host, srv.port, "plain"), Secret(PASSWORD),
                             ProbeOptions(connect_timeout=60, command_timeout=60,
                                          deadline=0.5))
    greeting = report.step("greeting")
    assert greeting is not None and greeting.status == "failed", report.as_dict()
    assert "within 60" not in greeting.summary  # the run's deadline, not the step's 60 s
    assert report.diagnosis is not None and report.diagnosis.code == "tarpit"


async def test_slow_steps_are_warnings_with_their_time() -> None:
    ticks = iter(range(0, 10_000, 7))  # every clock read is 7 s after the previous one
    async with served(scenario_text(PASSWORD)) as srv:
        report = await Probe(imap(srv.host, srv.port, "plain"), Secret(PASSWORD),
                             ProbeOptions(connect_timeout=10, command_timeout=10),
                             clock=lambda: float(next(ticks))).run()
    assert report.status == "warning", report.as_dict()
    slow = [s for s in report.steps if s.data.get("slow")]
    assert {s.name for s in slow} >= {"dns", "tcp", "greeting", "capability", "login", "list"}
    assert all(s.status == "warning" and re.search(r"\(slow: \d+\.\d s\)", s.summary)
               for s in slow)


# -- STARTTLS, capabilities ------------------------------------------------------------------


async def test_starttls_is_reported_after_it_happened_and_caps_after_login() -> None:
    async with served(scenario_text(PASSWORD)) as srv:
        report = await probe(imap("localhost", srv.port, "starttls"), Secret(PASSWORD),
                             ProbeOptions(cafile=str(srv.ca_pem_path), connect_timeout=5))
    names = [s.name for s in report.steps]
    assert report.status == "ok", report.as_dict()
    assert "tls" not in names  # nothing claims TLS before the greeting
    assert names.index("greeting") < names.index("starttls") < names.index("login")
    starttls = report.step("starttls")
    assert starttls is not None and starttls.data["version"].startswith("TLS")
    after = report.step("capability after login")
    assert after is not None and after.data["capabilities"]
    assert names.index("login") < names.index("capability after login")


async def test_no_starttls_on_offer_fails_the_starttls_step_permanently() -> None:
    async with served(scenario_text(PASSWORD, profile="gmail")) as srv:
        report = await probe(imap("localhost", srv.port, "starttls"), Secret(PASSWORD),
                             ProbeOptions(cafile=str(srv.ca_pem_path), connect_timeout=5))
    step = report.step("starttls")
    assert step is not None and step.status == "failed"
    d = report.diagnosis
    assert d is not None and d.code == "starttls_unavailable" and d.permanent
    assert "permanent: a person must act" in render(report)
    assert d.as_dict()["permanent"] is True and d.engine_permanent is True


# -- without a password -----------------------------------------------------------------------


def cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli_main(argv)
    return code, out.getvalue()


async def test_no_login_runs_the_pre_login_steps_and_says_login_skipped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    monkeypatch.delenv("INBOXLAB_PASSWORD", raising=False)
    async with served(scenario_text(PASSWORD)) as srv:
        url = f"imap://{srv.host}:{srv.port}?security=plain"
        code, text = await asyncio.to_thread(
            cli, ["diagnose", "--imap", url, "--user", USER, "--no-login"])
        jcode, js = await asyncio.to_thread(
            cli, ["diagnose", "--imap", url, "--user", USER, "--no-login", "--json"])
    assert code == jcode == 1
    assert text.rstrip().endswith("login skipped"), text
    data = json.loads(js)
    assert data["login_skipped"] is True and data["diagnosis"] is None
    assert [s["step"] for s in data["steps"]][-2:] == ["capability", "login"]
    assert data["steps"][-1]["status"] == "skipped"


async def test_closed_stdin_and_no_password_skips_login_instead_of_crashing() -> None:
    import asyncio

    async with served(scenario_text(PASSWORD)) as srv:
        url = f"imap://{srv.host}:{srv.port}?security=plain"
        env = {k: v for k, v in os.environ.items() if k != "INBOXLAB_PASSWORD"}
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
        done = await asyncio.to_thread(
            subprocess.run,
            ["/bin/sh", "-c", 'exec "$0" -m inboxlab.cli.main diagnose --imap "$1" --user "$2" <&-',
             sys.executable, url, USER],
            capture_output=True, text=True, timeout=60, env=env, check=False)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.rstrip().endswith("login skipped"), done.stdout
    assert "no password could be had without a terminal" in done.stdout


def test_a_prompt_that_gives_nothing_is_a_usage_error_with_json(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from inboxlab.cli.diagnose import run_diagnose
    from inboxlab.cli.main import _build_parser

    monkeypatch.delenv("INBOXLAB_PASSWORD", raising=False)
    args = _build_parser().parse_args(["diagnose", "--imap", "imap://127.0.0.1:1",
                                       "--user", "nobody-13@example.com", "--json"])
    out = io.StringIO()
    assert run_diagnose(args, out=out, ask=lambda _prompt: "") == 3
    data = json.loads(out.getvalue())
    assert data["status"] == "usage" and "no password" in data["error"]
