"""``async with`` for the fake servers: ``start()`` on entry, ``stop()`` on exit.

Every server here (IMAP, SMTP, a whole scenario) is started and stopped the same way;
tests and the CLI hold them in ``async with`` so a failing test never leaks a port.
"""

from __future__ import annotations

from typing import Self

__all__ = ["Served"]


class Served:
    """Mixin: subclasses define ``start`` and ``stop``; ``stop`` runs even on error."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
