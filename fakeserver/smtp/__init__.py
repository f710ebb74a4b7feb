"""The fake SMTP server: aiosmtpd on the IMAP server's loop, delivery, personas, faults.

Typical wiring (one loop, one Store, one CA for both servers)::

    smtp = FakeSmtpServer.for_store(SmtpConfig(personas=(...,)), imap.store, tls=imap_tls)
    async with smtp:
        ...  # submit on smtp.port (STARTTLS) or smtp.tls_port (implicit TLS)
        reply = await smtp.log.wait_for(rcpt="user@example.com", kind="local")

Modules: ``config`` (frozen settings), ``faults`` (sans-I/O fault plan), ``personas``
(answers and their scheduler), ``delivery`` (routing, outside world, auto-save),
``server`` (the asyncio shell).
"""

from inboxlab.fakeserver.smtp.config import PersonaSpec, SmtpConfig, SmtpFault
from inboxlab.fakeserver.smtp.delivery import Delivery, DeliveryLog, StoreMailboxes
from inboxlab.fakeserver.smtp.server import FakeSmtpServer

__all__ = [
    "Delivery",
    "DeliveryLog",
    "FakeSmtpServer",
    "PersonaSpec",
    "SmtpConfig",
    "SmtpFault",
    "StoreMailboxes",
]
