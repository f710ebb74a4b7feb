"""The account announces its counters (``Account.subscribe_stats``) instead of being polled:
connections in use, folders with their counts, capabilities; only when they change."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from account_helpers import Recorder, make_account, settings_for
from waiting import async_wait_until

from inboxlab.engine.account_options import AccountStats
from inboxlab.engine.states import State
from inboxlab.fakeserver.config import AccountConfig, FolderConfig, ServerConfig
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.imap.server import FakeImapServer

USER, PASSWORD = "stats@example.com", "stats-secret-pass"


def config() -> ServerConfig:
    folders = (
        FolderConfig("INBOX", generated=GenSpec(count=12, seed=5, owner=USER)),
        FolderConfig("Sent", special_use=("\\Sent",), generated=GenSpec(count=2, seed=6,
                                                                          owner=USER)),
    )
    return ServerConfig(accounts=(AccountConfig(USER, PASSWORD, folders),))


def view(s: AccountStats) -> tuple[object, ...]:
    """What the announcement is about (``progress`` and the login counters have events or
    are read on demand)."""
    return (s.connections_in_use, s.connection_limit, s.folders, s.capabilities)


async def test_stats_arrive_as_events_when_they_change(tmp_path: Path) -> None:
    seen: list[AccountStats] = []
    async with FakeImapServer(config()) as server:
        account = make_account(settings_for(server.host, server.port, USER), PASSWORD,
                               tmp_path, Recorder(), initial_scan="full", idle_refresh=0.2)
        unsubscribe = account.subscribe_stats(seen.append)
        await account.start()
        try:
            await async_wait_until(lambda: account.state is State.IDLE, timeout=10,
                                   what="the first sync")
            await async_wait_until(lambda: seen and view(seen[-1]) == view(account.stats),
                                   timeout=10, what="the announced counters to be current")
        finally:
            await account.stop()
        last = seen[-1]
        assert last.connections_in_use == 0  # announced after the stop too
        settled = [s for s in seen if s.connections_in_use == 2 and "IDLE" in s.capabilities]
        assert settled, seen  # scanner + IDLE watcher, with the server's capabilities
        assert {f.folder: f.messages for f in settled[-1].folders} == {"INBOX": 12, "Sent": 2}
        # a notification, not a stream: consecutive announcements always differ
        views = [view(s) for s in seen]
        assert all(a != b for a, b in pairwise(views))
        unsubscribe()
        count = len(seen)
        await account.start()
        try:
            await async_wait_until(lambda: account.state is State.IDLE, timeout=10,
                                   what="the second start")
        finally:
            await account.stop()
        assert len(seen) == count  # unsubscribed: nothing more arrives
