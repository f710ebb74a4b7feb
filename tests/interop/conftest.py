"""Interop fixtures: the bundled fake IMAP server, sized for third-party clients.

``fake_imap(count)`` starts a ``FakeImapServer`` on the test's event loop whose INBOX holds
``count`` generated messages; blocking clients (imaplib, imapclient) run in a worker
thread via ``asyncio.to_thread`` so the server keeps serving meanwhile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from inboxlab.fakeserver.config import (
    DEMO_PASSWORD,
    DEMO_USER,
    AccountConfig,
    FolderConfig,
    ServerConfig,
)
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.imap.hooks import ServerHooks
from inboxlab.fakeserver.imap.server import FakeImapServer

USER, PASSWORD = DEMO_USER, DEMO_PASSWORD


def interop_config(count: int) -> ServerConfig:
    folders = (
        FolderConfig("INBOX", generated=GenSpec(count=count, seed=42, owner=USER)),
        FolderConfig("Sent", special_use=("\\Sent",)),
        FolderConfig("Drafts", special_use=("\\Drafts",)),
        FolderConfig("Trash", special_use=("\\Trash",)),
    )
    return ServerConfig(accounts=(AccountConfig(USER, PASSWORD, folders),))


FakeFactory = Callable[..., Awaitable[FakeImapServer]]


@pytest.fixture
async def fake_imap() -> AsyncIterator[FakeFactory]:
    """``await fake_imap(count, hooks=None)`` -> a started server, stopped after the test."""
    started: list[FakeImapServer] = []

    async def start(count: int, hooks: ServerHooks | None = None) -> FakeImapServer:
        srv = FakeImapServer(interop_config(count), hooks=hooks)
        await srv.start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        await srv.stop()
