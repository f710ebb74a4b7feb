"""The writing half of an in-memory transport for ``ImapClient.attach``: no socket needed."""

from __future__ import annotations


class MemoryWriter:
    """Records what the client sends; draining and closing are no-ops."""

    def __init__(self) -> None:
        self.sent = bytearray()

    def write(self, data: bytes) -> None:
        self.sent += data

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        return None

    async def wait_closed(self) -> None:
        return None
