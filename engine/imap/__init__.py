"""The engine's own IMAP client: a sans-I/O parser (``protocol``), a command builder
(``commands``) and a thin asyncio shell (``connection`` + ``client``).

Independent of ``fakeserver`` (they meet only over sockets). Why not aioimaplib: it
raises RecursionError when one read holds ~1000+ response lines and its FETCH handling
is quadratic; a 100k-message header scan must stream in bounded memory.
"""

from engine.imap.client import HEADER_ITEMS, ImapClient, is_loopback
from engine.imap.idle import IdleSession
from engine.imap.protocol import ResponseParser
from engine.imap.results import AppendResult, Credentials, SelectResult

__all__ = [
    "HEADER_ITEMS",
    "AppendResult",
    "Credentials",
    "IdleSession",
    "ImapClient",
    "ResponseParser",
    "SelectResult",
    "is_loopback",
]
