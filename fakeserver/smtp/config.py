"""What the fake SMTP server is: listeners, limits, auto-save, personas, faults (frozen settings).

The scenario loader builds these from TOML. Validation happens here, at construction,
so a bad scenario fails with a message naming the field instead of misbehaving later
in the middle of an SMTP dialogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from inboxlab.fakeserver.errors import ScenarioError

PersonaAction = Literal["reply", "forward", "reply_from_other"]
FaultKind = Literal["421", "451", "452", "535", "552", "drop_mid_data", "drop_after_data",
                    "stall_after_data"]
FaultStage = Literal["connect", "ehlo", "auth", "mail", "rcpt", "data"]

PERSONA_ACTIONS: tuple[str, ...] = get_args(PersonaAction)
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
FAULT_STAGES: tuple[str, ...] = get_args(FaultStage)

# Where each fault can happen: a real server cannot answer 535 to RCPT, nor drop
# "mid-DATA" while the client is still in MAIL FROM. "data" means the end of DATA
# (after the final dot) except for drop_mid_data, which cuts the body transfer.
# drop_after_data and stall_after_data *store* the message, then cut the connection
# without a reply, or never reply: the client cannot know whether it went out.
FAULT_STAGES_ALLOWED: dict[str, tuple[str, ...]] = {
    "421": FAULT_STAGES,
    "451": ("mail", "rcpt", "data"),
    "452": ("mail", "rcpt", "data"),  # insufficient storage (RFC 5321 4.5.3.1.10: to RCPT too)
    "535": ("auth",),
    "552": ("mail", "data"),
    "drop_mid_data": ("data",),
    "drop_after_data": ("data",),
    "stall_after_data": ("data",),
}


def _bad(location: str, what: str) -> ScenarioError:
    return ScenarioError(what, location=location)


def _check_address(location: str, value: str) -> None:
    local, at, domain = value.partition("@")
    if not at or not local or not domain or any(c in value for c in " <>\r\n"):
        raise _bad(location, f"{value!r} is not an address like user@example.com")


@dataclass(frozen=True)
class PersonaSpec:
    """A scripted external contact who answers mail sent to ``address``.

    ``reply`` answers the sender from ``address``; ``reply_from_other`` answers from
    ``other_address`` (the contact's phone, a colleague's mailbox); ``forward`` sends
    the original on to ``forward_to``. ``delay_s`` is how long the contact "takes to
    answer" (0 answers at once). ``attach`` adds a small deterministic attachment.
    """

    address: str
    name: str = ""
    action: PersonaAction = "reply"
    delay_s: float = 0.0
    body: str = "Thanks for your message, I will get back to you shortly."
    attach: bool = False
    attachment_name: str = "notes.pdf"
    other_address: str | None = None
    forward_to: str | None = None

    def __post_init__(self) -> None:
        _check_address("smtp.persona.address", self.address)
        where = f"smtp.persona[{self.address}]"
        if self.action not in PERSONA_ACTIONS:
            raise _bad(f"{where}.action", f"{self.action!r} is not one of {PERSONA_ACTIONS}")
        if not self.delay_s >= 0:  # also rejects NaN
            raise _bad(f"{where}.delay_s", f"must be >= 0, not {self.delay_s!r}")
        if self.action == "reply_from_other":
            if self.other_address is None:
                raise _bad(f"{where}.other_address", "reply_from_other needs other_address")
            _check_address(f"{where}.other_address", self.other_address)
        if self.action == "forward":
            if self.forward_to is None:
                raise _bad(f"{where}.forward_to", "forward needs forward_to")
            _check_address(f"{where}.forward_to", self.forward_to)
        if self.attach and (not self.attachment_name or "/" in self.attachment_name):
            raise _bad(f"{where}.attachment_name", "must be a plain file name")

    @property
    def sender(self) -> str:
        """The address the persona's answer comes from."""
        if self.action == "reply_from_other" and self.other_address is not None:
            return self.other_address
        return self.address


@dataclass(frozen=True)
class SmtpFault:
    """One scripted failure: ``kind`` happens at ``stage`` for the next ``times`` attempts.

    ``message`` replaces the server's default words (what a real provider would say).
    """

    kind: FaultKind
    stage: FaultStage
    times: int = 1
    message: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise _bad("smtp.fault.kind", f"{self.kind!r} is not one of {FAULT_KINDS}")
        where = f"smtp.fault[{self.kind}]"
        allowed = FAULT_STAGES_ALLOWED[self.kind]
        if self.stage not in allowed:
            raise _bad(f"{where}.stage", f"{self.stage!r} is not possible; allowed: {allowed}")
        if self.times < 1:
            raise _bad(f"{where}.times", f"must be >= 1, not {self.times!r}")
        if self.message is not None and any(c in self.message for c in "\r\n"):
            raise _bad(f"{where}.message", "must be a single line")


@dataclass(frozen=True)
class SmtpConfig:
    """One fake SMTP server.

    ``port`` is the submission listener (plain, STARTTLS offered unless ``starttls`` is
    False: a server that cannot upgrade, which a client asking for STARTTLS must refuse);
    ``implicit_tls_port`` is the SMTPS listener (``None`` disables it). Port 0 picks a
    free port. ``autosave_sent_folder`` mimics providers (Gmail, Outlook.com) that file
    submitted mail into Sent themselves, so a client that also APPENDs makes a duplicate;
    it is a folder name or a special-use attribute (``\\Sent``: whichever folder has it).
    """

    host: str = "127.0.0.1"
    port: int = 0
    implicit_tls_port: int | None = 0
    hostname: str = "smtp.inboxlab.test"
    require_starttls: bool = False
    starttls: bool = True
    auth_required: bool = True
    auth_require_tls: bool = True
    data_size_limit: int | None = 10 * 1024 * 1024
    autosave_sent_folder: str | None = None
    personas: tuple[PersonaSpec, ...] = ()
    faults: tuple[SmtpFault, ...] = ()

    def __post_init__(self) -> None:
        for name, port in (("port", self.port), ("implicit_tls_port", self.implicit_tls_port)):
            if port is not None and not 0 <= port <= 65535:
                raise _bad(f"smtp.{name}", f"{port} is not a TCP port")
        if self.data_size_limit is not None and self.data_size_limit < 1:
            raise _bad("smtp.data_size_limit", "must be >= 1 byte (or absent for no limit)")
        if self.autosave_sent_folder is not None and not self.autosave_sent_folder.strip():
            raise _bad("smtp.autosave_sent_folder", "must be a folder name (or absent)")
        seen: set[str] = set()
        for persona in self.personas:
            key = persona.address.lower()
            if key in seen:
                raise _bad(f"smtp.persona[{persona.address}]", "is defined twice")
            seen.add(key)
