"""inboxlab.lab: the fake IMAP/SMTP servers and their scenarios as a library and a pytest
fixture, for other projects' test suites (issue 19).

    from inboxlab.lab import Lab

    with Lab("no-special-use") as lab:            # or: async with Lab(...) as lab
        lab.imaps, lab.ca_file, lab.login         # where to connect, what to trust, who
        lab.deliver(b"Subject: hi\\r\\n\\r\\nhello\\r\\n")
        lab.fire("reset", direction="to_client")  # a fault, now
        lab.folder("INBOX").exists

The pytest plugin (``inboxlab.lab.pytest_plugin``) yields the same object from its
``inboxlab``, ``inboxlab_session`` and ``inboxlab_factory`` fixtures. Every name in
``__all__`` is documented and kept (tests/lab/test_lab_api_compat.py).
"""

from __future__ import annotations

from inboxlab.lab.api import Lab
from inboxlab.lab.control import ControlClient, ControlError
from inboxlab.lab.data import (
    Endpoint,
    FolderState,
    Login,
    MessageState,
    SentMessage,
    ServerSession,
)
from inboxlab.lab.errors import ActionRefused, LabError, LabStartError, ScenarioInvalid, WaitTimeout

__all__ = [
    "ActionRefused",
    "ControlClient",
    "ControlError",
    "Endpoint",
    "FolderState",
    "Lab",
    "LabError",
    "LabStartError",
    "Login",
    "MessageState",
    "ScenarioInvalid",
    "SentMessage",
    "ServerSession",
    "WaitTimeout",
]
