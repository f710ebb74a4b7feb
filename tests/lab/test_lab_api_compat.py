"""The lab's public surface is a promise to other projects (issue 19): every documented
name below must stay, with its documented parameters in order, and lab/README.md must
document each. A name may be added (list it here and in the README); none may vanish."""

from __future__ import annotations

import inspect
import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import inboxlab.lab
from inboxlab.lab import pytest_plugin

DOCS = (Path(__file__).resolve().parents[2] / "lab" / "README.md").read_text()

PUBLIC = {"ActionRefused", "ControlClient", "ControlError", "Endpoint", "FolderState", "Lab",
          "LabError", "LabStartError", "Login", "MessageState", "ScenarioInvalid",
          "SentMessage", "ServerSession", "WaitTimeout"}

MEMBERS = {
    "Lab": ["start", "stop", "running", "scenario", "description", "profile", "host", "imap",
            "imaps", "smtp", "smtps", "ca_file", "ssl_context", "login", "logins", "control",
            "token_endpoint", "token_command", "deliver", "fire", "smtp_fault", "outbox",
            "folder", "folders", "message", "sessions", "counters", "wait_until",
            "async_wait_until", "__aenter__", "__aexit__", "__enter__", "__exit__"],
    "Endpoint": ["host", "port", "tls", "address"],
    "Login": ["username", "password"],
    "SentMessage": ["kind", "mail_from", "rcpt", "raw", "at", "folder", "uid", "error",
                    "subject", "message"],
    "FolderState": ["name", "uidvalidity", "uidnext", "messages", "special_use", "exists",
                    "uids", "unseen"],
    "MessageState": ["uid", "flags", "size"],
    "ServerSession": ["conn", "peer", "tls", "user", "state"],
    "ControlClient": ["url", "token", "request", "arequest", "sessions", "counters", "events",
                      "action"],
    "ControlError": ["status", "reason"],
}

PARAMETERS = {
    "Lab": ["scenario", "host", "imap_port", "imaps_port", "control", "state_dir"],
    "Lab.deliver": ["message", "folder", "user", "flags", "when"],
    "Lab.fire": ["type", "conn"],
    "Lab.smtp_fault": ["kind", "stage", "times", "message"],
    "Lab.outbox": ["rcpt", "kind"],
    "Lab.folder": ["name", "user"],
    "Lab.folders": ["user"],
    "Lab.message": ["uid", "folder", "user"],
    "Lab.wait_until": ["predicate", "timeout", "what"],
    "Lab.async_wait_until": ["predicate", "timeout", "what"],
    "Lab.token_command": ["user"],
    "ControlClient": ["url", "token", "timeout"],
    "ControlClient.action": ["type", "conn"],
    "ControlClient.request": ["method", "path", "body"],
}

FIXTURES = ["inboxlab", "inboxlab_factory", "inboxlab_session", "inboxlab_scenario",
            "inboxlab_session_scenario"]
ERRORS = {"ScenarioInvalid": "LabError", "LabStartError": "LabError",
          "ActionRefused": "LabError", "WaitTimeout": "LabError"}


def test_the_package_exports_every_documented_name() -> None:
    assert set(inboxlab.lab.__all__) == PUBLIC, "a public name appeared or vanished"
    for name in PUBLIC:
        assert getattr(inboxlab.lab, name) is not None
        assert re.search(rf"\b{name}\b", DOCS), f"{name} is public but lab/README.md omits it"


@pytest.mark.parametrize("owner", sorted(MEMBERS))
def test_documented_members_exist(owner: str) -> None:
    cls = getattr(inboxlab.lab, owner)
    fields = getattr(cls, "__dataclass_fields__", {})
    missing = [m for m in MEMBERS[owner] if not hasattr(cls, m) and m not in fields
               and m not in inspect.signature(cls).parameters]
    assert missing == []


@pytest.mark.parametrize("where", sorted(PARAMETERS))
def test_documented_parameters_keep_their_names_and_order(where: str) -> None:
    owner, _, method = where.partition(".")
    target = getattr(getattr(inboxlab.lab, owner), method) if method \
        else getattr(inboxlab.lab, owner)
    names = [p for p in inspect.signature(target).parameters if p != "self"]
    wanted = PARAMETERS[where]
    assert [n for n in names if n in wanted] == wanted, names


def test_the_error_tree_holds() -> None:
    for name, base in ERRORS.items():
        assert issubclass(getattr(inboxlab.lab, name), getattr(inboxlab.lab, base))
    assert issubclass(inboxlab.lab.WaitTimeout, AssertionError)


def test_the_plugin_is_registered_and_keeps_its_fixtures() -> None:
    [plugin] = [ep for ep in entry_points(group="pytest11") if ep.name == "inboxlab"]
    assert plugin.value == "inboxlab.lab.pytest_plugin"
    for name in FIXTURES:
        assert callable(getattr(pytest_plugin, name)), name
        assert f"`{name}`" in DOCS


def test_the_check_sees_a_vanished_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compatibility test must be able to fail: hide one documented method."""
    monkeypatch.delattr(inboxlab.lab.Lab, "smtp_fault")
    with pytest.raises(AssertionError):
        test_documented_members_exist("Lab")
