"""Messages of the CRM screens: engine -> UI results and the intents their widgets post.

Kept apart from ``tui.messages`` (the session's messages) so the CRM screens are one
idea; the payloads are the plain views of ``tui.views``.
"""

from __future__ import annotations

from textual.message import Message

from inboxlab.tui.views import ContactView, EmailView, OutboxView, PreviewView, ThreadLinesView


class RecordsChanged(Message):
    """Something was logged or sent: screens showing records reload what they show."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RecordsChanged)


class ContactsLoaded(Message):
    def __init__(self, offset: int, contacts: tuple[ContactView, ...]) -> None:
        super().__init__()
        self.offset = offset
        self.contacts = contacts


class TimelineLoaded(Message):
    def __init__(self, contact_id: int, emails: tuple[EmailView, ...]) -> None:
        super().__init__()
        self.contact_id = contact_id
        self.emails = emails


class ThreadLoaded(Message):
    def __init__(self, view: ThreadLinesView) -> None:
        super().__init__()
        self.view = view


class PreviewsReady(Message):
    def __init__(self, template: str, previews: tuple[PreviewView, ...]) -> None:
        super().__init__()
        self.template = template
        self.previews = previews


class OutboxChanged(Message):
    def __init__(self, view: OutboxView) -> None:
        super().__init__()
        self.view = view


class CrmFailed(Message):
    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what = what
        self.error = error


class BccListening(Message):
    """The BCC/forward logging endpoint is up: its address and where it listens."""

    def __init__(self, address: str, host: str, port: int) -> None:
        super().__init__()
        self.address = address
        self.host = host
        self.port = port


class ContactsImported(Message):
    def __init__(self, path: str, imported: int, problems: int) -> None:
        super().__init__()
        self.path = path
        self.imported = imported
        self.problems = problems


# -- widget intents ------------------------------------------------------------------------------


class ComposeFor(Message):
    """A person asked to compose to these records (from the Records screen)."""

    def __init__(self, contact_ids: tuple[int, ...]) -> None:
        super().__init__()
        self.contact_ids = contact_ids
