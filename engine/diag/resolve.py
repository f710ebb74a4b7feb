"""Name resolution with a deadline.

``loop.getaddrinfo`` runs in the loop's default executor and cannot be interrupted: a
timeout around it returns, but the thread goes on, and ``asyncio.run`` then waits for it
at exit (a 10 s resolver stall made ``--timeout 2`` take 10 s). Here each lookup runs in
its own daemon thread that nobody waits for: the deadline is the deadline.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from typing import Any

Resolver = Callable[[str, int], list[Any]]


def system_resolver(host: str, port: int) -> list[Any]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


async def resolve(host: str, port: int, limit: float,
                  resolver: Resolver = system_resolver) -> list[str]:
    """The addresses of ``host`` (sorted, unique); ``TimeoutError`` after ``limit`` s,
    ``OSError`` (``socket.gaierror``) when the name does not resolve."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[Any]] = loop.create_future()

    def settle(result: list[Any] | None, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result or [])

    def work() -> None:
        try:
            infos = resolver(host, port)
        except BaseException as exc:  # handed to the waiting coroutine, not lost
            _post(loop, settle, None, exc)
        else:
            _post(loop, settle, infos, None)

    threading.Thread(target=work, name=f"resolve {host}", daemon=True).start()
    async with asyncio.timeout(limit):
        infos = await done
    return sorted({str(i[4][0]) for i in infos})


def _post(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> None:
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:
        pass  # the loop closed after the deadline: nobody waits for this answer


__all__ = ["Resolver", "resolve", "system_resolver"]
