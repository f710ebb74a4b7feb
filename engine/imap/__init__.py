"""The engine's own IMAP client, independent of ``fakeserver`` (they meet over sockets).

Layers, bottom up:

- ``lexer``, ``fetch``, ``protocol``: the sans-I/O response parser (bytes in, events
  out; ``model`` holds the event dataclasses, ``utf7`` the mailbox-name codec);
- ``commands``: the sans-I/O command builder (quoting, literals, LITERAL+, tags);
- ``router``: which waiter gets which parsed event;
- ``connection`` (+ ``failures``): the asyncio transport shell;
- ``session``: connect, TLS/STARTTLS, login policy; ``client``: the commands;
  ``idle``: IDLE; ``results``: credentials, results and refusal classification.

Why not aioimaplib: it raises RecursionError when one read holds ~1000+ response lines
and its FETCH handling is quadratic; a 100k-message header scan must stream in
bounded memory (see bench/README.md, engine_scan).
"""

from inboxlab.engine.imap.client import HEADER_ITEMS, ImapClient, is_loopback
from inboxlab.engine.imap.idle import IdleSession
from inboxlab.engine.imap.protocol import ResponseParser
from inboxlab.engine.imap.results import AppendResult, Credentials, SelectResult
from inboxlab.engine.imap.session import ImapSession

__all__ = [
    "HEADER_ITEMS",
    "AppendResult",
    "Credentials",
    "IdleSession",
    "ImapClient",
    "ImapSession",
    "ResponseParser",
    "SelectResult",
    "is_loopback",
]
