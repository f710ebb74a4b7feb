"""The CRM side's failures, as a branch of the engine's tree (``engine.errors``).

::

    EngineError(code, permanent, server_text, stage, remediation)
     └── CrmError                 anything the CRM layer refuses or fails at
          ├── BadInput            a record, address, template or setting that cannot work;
          │                       permanent (fix the input)
          │    └── TemplateError  unknown placeholder, unbalanced braces, missing field
          ├── MalformedMessage    MIME that cannot be turned into a logged email; permanent
          │                       for that message (it is recorded with the reason)
          ├── MessageVanished     the message left its folder between the scan and the body
          │                       fetch (another client moved it); transient: it is looked
          │                       up by Message-ID elsewhere, or stays queued
          ├── SubmitFailed        the SMTP server refused or dropped the submission;
          │    │                  4xx/disconnect transient, 5xx permanent; server's words kept
          │    └── SubmitUncertain  cut or timed out after the message was handed over (the
          │                       DATA phase): it may have gone out; the outbox holds or
          │                       resends it as configured, never as "not started"
          ├── SentCopyFailed      the Sent copy could not be made (OVERQUOTA, no folder...);
          │                       the outbox record stays at 'submitted' with this error
          └── IngestRefused       the BCC endpoint will not log this mail (size limits)

Stages are ``crm_ingest``, ``crm_send``, ``crm_copy``, ``crm_bcc``, ``crm_template``:
the diagnostics screen shows them next to the IMAP stages.
"""

from __future__ import annotations

from inboxlab.engine.errors import EngineError

CRM_STAGES = ("crm_ingest", "crm_send", "crm_copy", "crm_bcc", "crm_template", "crm_outbox")


class CrmError(EngineError):
    default_code = "crm_error"

    def __init__(self, message: str, **kw: object) -> None:
        kw.setdefault("stage", "crm_outbox")
        super().__init__(message, **kw)  # type: ignore[arg-type]


class BadInput(CrmError):
    default_code = "bad_input"
    default_permanent = True


class TemplateError(BadInput):
    default_code = "template_invalid"

    def __init__(self, message: str, **kw: object) -> None:
        kw.setdefault("stage", "crm_template")
        super().__init__(message, **kw)


class MalformedMessage(CrmError):
    default_code = "malformed_message"
    default_permanent = True

    def __init__(self, message: str, **kw: object) -> None:
        kw.setdefault("stage", "crm_ingest")
        super().__init__(message, **kw)


class MessageVanished(CrmError):
    default_code = "message_vanished"

    def __init__(self, message: str, **kw: object) -> None:
        kw.setdefault("stage", "crm_ingest")
        super().__init__(message, **kw)


class SubmitFailed(CrmError):
    default_code = "submit_failed"

    def __init__(self, message: str, **kw: object) -> None:
        kw.setdefault("stage", "crm_send")
        super().__init__(message, **kw)


class SubmitUncertain(SubmitFailed):
    default_code = "submit_uncertain"


class SentCopyFailed(CrmError):
    default_code = "sent_copy_failed"

    def __init__(self, message: str, **kw: object) -> None:
        kw.setdefault("stage", "crm_copy")
        super().__init__(message, **kw)


class IngestRefused(CrmError):
    default_code = "ingest_refused"
    default_permanent = True

    def __init__(self, message: str, **kw: object) -> None:
        kw.setdefault("stage", "crm_bcc")
        super().__init__(message, **kw)


__all__ = ["CRM_STAGES", "BadInput", "CrmError", "IngestRefused", "MalformedMessage",
           "MessageVanished", "SentCopyFailed", "SubmitFailed", "SubmitUncertain",
           "TemplateError"]
