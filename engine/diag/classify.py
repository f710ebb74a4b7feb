"""From what the engine saw to a catalogue cause, with the evidence that decided it.

``diagnose(error)`` reads only the engine's typed error (``engine.errors``): its code,
its RFC 5530 response code (a ``* BYE [CODE]`` rides on the ``Disconnected`` too), the
server's words, its class and stage. It never parses a message the engine wrote.
``bye_code(lines)`` is for what has only a recorded trace beside the error (an error
rebuilt from plain data, a bundle): it finds the last BYE's code in redacted lines, and
``diagnose`` takes it as a hint when the error carries none.

``diagnose_fact(event)`` does the same for the two causes that are not failures but
facts the account reports as typed events (``FolderGone``, ``UidValidityChanged``): it
matches their types and reads their fields, never a trace name or a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from inboxlab.engine.catalogue import CAUSES, UNKNOWN, Cause, cause
from inboxlab.engine.errors import EngineError
from inboxlab.engine.supervise import FolderGone, UidValidityChanged
from inboxlab.engine.supervise import classify as engine_classify


@dataclass(frozen=True)
class Diagnosis:
    """A cause plus the facts that matched it; ``as_dict`` is what --json and bundles show."""

    cause: Cause
    matched_by: str
    error_code: str | None = None
    response_code: str | None = None
    server_text: str | None = None
    exception: str | None = None
    stage: str | None = None
    message: str | None = None
    engine_permanent: bool | None = None

    @property
    def code(self) -> str:
        return self.cause.code

    @property
    def permanent(self) -> bool:
        return self.cause.permanent

    @property
    def remediation(self) -> str:
        return self.cause.owner_fix

    def as_dict(self) -> dict[str, object]:
        return {
            "cause": self.cause.code, "title": self.cause.title,
            "permanent": self.cause.permanent, "owner_fix": self.cause.owner_fix,
            "it_fix": self.cause.it_fix, "matched_by": self.matched_by,
            "evidence": {"error_code": self.error_code, "response_code": self.response_code,
                         "server_text": self.server_text, "exception": self.exception,
                         "stage": self.stage},
            "message": self.message, "engine_permanent": self.engine_permanent,
        }


_BYE = re.compile(r"^\*\s+BYE\s+\[([A-Za-z0-9-]+)")


def bye_code(lines: Iterable[str]) -> str | None:
    """The response code of the last ``* BYE [CODE]`` among trace lines, if any."""
    found = None
    for line in lines:
        m = _BYE.match(line)
        if m:
            found = m.group(1).upper()
    return found


def _match(c: Cause, *, code: str, response: str, text: str, kinds: set[str],
           stage: str) -> str | None:
    ev = c.evidence
    if ev.stages and stage not in ev.stages:
        return None
    if code and code in ev.codes:
        return f"error code {code!r}"
    if response and response in ev.response_codes:
        return f"response code [{response}]"
    for phrase in ev.texts:
        if phrase in text:
            return f"server text contains {phrase!r}"
    for kind in ev.exceptions:
        if kind in kinds:
            return f"exception {kind}"
    return None


def diagnose(error: BaseException, *, response_code: str | None = None) -> Diagnosis:
    """The catalogue cause of ``error`` (anything raised; non-engine errors are wrapped the
    way the supervisor wraps them). ``response_code`` is a hint from a recorded trace,
    used only when the error carries no response code of its own."""
    err: EngineError = engine_classify(error)
    response = (getattr(err, "response_code", None) or response_code or "").upper()
    text = (err.server_text or "").lower()
    kinds = {k.__name__ for k in type(err).__mro__}
    for c in CAUSES:
        why = _match(c, code=err.code, response=response, text=text, kinds=kinds,
                     stage=err.stage)
        if why is not None:
            return _diagnosis(c, why, err, response)
    return _diagnosis(UNKNOWN, "nothing in the catalogue matched", err, response)


def _diagnosis(c: Cause, why: str, err: EngineError, response: str) -> Diagnosis:
    return Diagnosis(c, why, error_code=err.code, response_code=response or None,
                     server_text=err.server_text, exception=type(err).__name__,
                     stage=err.stage, message=err.message, engine_permanent=err.permanent)


def diagnose_fact(event: object) -> Diagnosis | None:
    """A cause for an account fact (a typed account event), or None for ordinary events."""
    if isinstance(event, FolderGone):
        return Diagnosis(cause("folder_vanished"), "account event FolderGone",
                         server_text=event.server_text, stage="imap_select",
                         message=f"folder {event.folder!r} is gone")
    if isinstance(event, UidValidityChanged):
        return Diagnosis(cause("uidvalidity_reset"), "account event UidValidityChanged",
                         stage="imap_status",
                         message=f"folder {event.folder!r}: UIDVALIDITY changed {event.old} "
                         f"-> {event.new}; its stored UIDs are dropped and it is rescanned")
    return None


__all__ = ["Diagnosis", "bye_code", "diagnose", "diagnose_fact"]
