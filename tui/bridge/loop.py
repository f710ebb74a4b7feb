"""The bridge's loop owner: the engine thread, its asyncio loop, and the two directions.

Engine -> UI: ``post`` (Textual's ``post_message``: thread-safe, never blocks the engine;
``call_from_thread`` would wait for the UI and could make the engine miss an IDLE or
keepalive deadline). UI -> engine: ``submit`` (``asyncio.run_coroutine_threadsafe``);
the caller gets a future and never waits on it from the UI loop. ``spawn`` runs a
task on the engine loop that ``stop`` cancels. What runs on the loop (``_main``) and
what runs before it stops (``_shutdown``) belong to the bridge that owns this loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

from textual.message import Message
from textual.message_pump import MessagePump

log = logging.getLogger(__name__)
T = TypeVar("T")


class EngineLoop:
    """Owns the engine thread and its loop; knows nothing of accounts or servers."""

    def __init__(self) -> None:
        self.target: MessagePump | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def _main(self) -> None:
        """What the loop runs first (the bridge starts its account or scenario)."""

    async def _shutdown(self) -> None:
        """What the loop runs before it stops (the bridge stops what it started)."""

    def _cleanup(self) -> None:
        """After the thread is gone (UI thread): the bridge removes its temporary files."""

    def start(self, target: MessagePump) -> None:
        """Start the engine thread; messages go to ``target`` (the App)."""
        self.target = target
        self._thread = threading.Thread(target=self._thread_main, name="inboxlab-engine",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(10)
        self.submit(self._main())

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            # What asyncio.run does on the way out: work still in flight (an account
            # mid-start when the user quits) is cancelled and awaited, so its cleanup runs
            # on a live loop instead of "coroutine ignored GeneratorExit" at close.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """UI -> engine: schedule ``coro`` on the engine loop; never wait on it from the UI."""
        if self.loop is None or self.loop.is_closed():
            coro.close()
            fut: concurrent.futures.Future[T] = concurrent.futures.Future()
            fut.set_exception(RuntimeError("the engine is not running"))
            return fut
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the account, the browser connection and the fake servers, then the thread."""
        if self.loop is None or self._thread is None:
            return
        try:
            self.submit(self._shutdown()).result(timeout)
        except Exception:
            log.exception("engine shutdown failed")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        self._thread = None
        self._cleanup()

    def post(self, message: Message, to: MessagePump | None = None) -> None:
        """Engine -> UI; thread-safe and non-blocking (never ``call_from_thread``)."""
        target = to or self.target
        if target is not None:
            target.post_message(message)

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


__all__ = ["EngineLoop"]
