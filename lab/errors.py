"""The lab API's exception tree (what a user of ``inboxlab.lab`` catches)::

    LabError              base: the lab cannot do what was asked; the message says why
     ├── ScenarioInvalid  the scenario name or file is unknown or invalid (file, line, key)
     ├── LabStartError    the servers could not start (a port in use, a non-loopback host)
     ├── ActionRefused    a fault/action/message the running servers refuse (bad keys,
     │                    no such connection, user or folder)
     └── WaitTimeout      ``wait_until`` ran out of time (also an AssertionError, so a test
                          failing on it reads like a failed assert)

``ControlError`` (``inboxlab.lab.control``) is the control client's: an HTTP status and the
endpoint's own words.
"""

from __future__ import annotations

__all__ = ["ActionRefused", "LabError", "LabStartError", "ScenarioInvalid", "WaitTimeout"]


class LabError(Exception):
    """Root of the lab API's errors."""


class ScenarioInvalid(LabError):
    """The scenario is not a bundled name, not a readable file, or not a valid scenario."""


class LabStartError(LabError):
    """The fake servers could not start."""


class ActionRefused(LabError):
    """The running lab refused a fault, an action or a message (the message says why)."""


class WaitTimeout(LabError, AssertionError):
    """A condition did not hold before its deadline."""
