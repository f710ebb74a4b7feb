"""A local listener's lifecycle, written once: the CRM's BCC endpoint and the trace
recorder both bind a loopback port (0 picks a free one), publish it as ``port``, close
on ``stop()`` and work as ``async with``. Subclasses only say how to open the server.
"""

from __future__ import annotations

import asyncio
from typing import Self


class LocalServer:
    """Base for an engine-side listener; ``_open()`` returns the started ``asyncio.Server``."""

    port: int = 0
    _server: asyncio.Server | None = None

    async def _open(self) -> asyncio.Server:
        raise NotImplementedError

    async def start(self) -> None:
        self._server = await self._open()
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


__all__ = ["LocalServer"]
