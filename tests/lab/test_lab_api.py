"""The lab API directly (no plugin): both forms, what it refuses and how it says so."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from inboxlab.lab import ActionRefused, Lab, LabError, LabStartError, ScenarioInvalid


def lab_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("inboxlab-lab")]


def test_the_blocking_form_stops_its_thread_and_its_ports() -> None:
    with Lab("no-special-use") as lab:
        port = lab.imaps.port
        assert len(lab_threads()) == 1
    assert lab_threads() == [] and not lab.running
    with pytest.raises(LabError, match="not running"):
        lab.imaps  # noqa: B018
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


async def test_the_async_form_runs_on_the_callers_loop(tmp_path: Path) -> None:
    async with Lab("no-special-use", state_dir=tmp_path / "state") as lab:
        assert lab.ca_file.parent == tmp_path / "state"
        uid = lab.deliver("Subject: hi\n\nhello\n")  # str, LF: stored with CRLF
        assert lab.message(uid) == b"Subject: hi\r\n\r\nhello\r\n"
        with pytest.raises(LabError, match="async_wait_until"):
            lab.wait_until(lambda: True)
        assert await lab.async_wait_until(lambda: lab.folder().exists, what="mail") == 151
    assert lab_threads() == []


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"scenario": "no-such-scenario"}, ScenarioInvalid, "no bundled scenario named"),
    ({"scenario": "missing.toml"}, ScenarioInvalid, "scenario file not found"),
    ({"scenario": "demo", "host": "0.0.0.0"}, LabStartError, "loopback only"),
    ({"scenario": "demo", "imap_port": 70000}, LabStartError, "imap_port 70000"),
])
def test_what_cannot_start_says_why_before_any_socket(kwargs: dict, error: type,
                                                     words: str) -> None:
    with pytest.raises(error, match=words), Lab(**kwargs):
        pass
    assert lab_threads() == []


def test_a_port_in_use_is_a_start_error() -> None:
    with Lab("tarpit") as first, pytest.raises(LabStartError, match="cannot serve"), \
            Lab("tarpit", imaps_port=first.imaps.port):
        pass


def test_refusals_name_the_problem() -> None:
    with Lab("no-special-use") as lab:
        with pytest.raises(ActionRefused, match=r"no folder 'Nope'; folders: .*Gesendet"):
            lab.deliver(b"x", folder="Nope")
        with pytest.raises(ActionRefused, match=r"'who@example\.com' is not an account"):
            lab.folder(user="who@example.com")
        with pytest.raises(ActionRefused, match="'599' is not one of"):
            lab.smtp_fault("599", "mail")
        with pytest.raises(ActionRefused, match="'auth' is not possible"):
            lab.smtp_fault("452", "auth")
        with pytest.raises(ActionRefused, match="no live connection 42"):
            lab.fire("reset", conn=42)
        with pytest.raises(ActionRefused, match="'explode' is not one of bye, no, bad"):
            lab.fire("explode")
        with pytest.raises(LabError, match="offers no OAuth"):
            lab.token_command()
        assert lab.running  # none of it hurt the lab


def test_helpers_from_another_thread_run_on_the_labs_thread() -> None:
    with Lab("no-special-use") as lab:
        seen: list[int] = []
        workers = [threading.Thread(target=lambda: seen.append(lab.deliver(b"Subject: t\r\n\r\n")))
                   for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=30)
        assert sorted(seen) == [151, 152, 153, 154]
        assert lab.folder().uids[-4:] == (151, 152, 153, 154)


async def test_the_control_client_from_async_code() -> None:
    async with Lab("no-special-use") as lab:
        reply = await lab.control.arequest("GET", "/counters")  # the loop serves meanwhile
        assert reply["counters"]["proxy.live"] == 0
        assert "token=[hidden]" in repr(lab.control) and lab.control.token not in repr(lab.control)
        assert lab.login.password not in repr(lab.login)
