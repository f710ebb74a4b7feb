"""An explicit watch list against the fake server: INBOX and Sent always, the chosen folders
too, and a name the server does not list is a FolderGone warning, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from account_helpers import Recorder, make_account, settings_for
from waiting import async_wait_until

from inboxlab.engine.account import AccountOptions
from inboxlab.engine.errors import ConfigError
from inboxlab.engine.states import State
from inboxlab.engine.supervise import FolderGone
from inboxlab.fakeserver.config import AccountConfig, FolderConfig, ServerConfig
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.imap.server import FakeImapServer

USER, PASSWORD = "watch@example.com", "watch-list-pass"


def config() -> ServerConfig:
    folders = (
        FolderConfig("INBOX", generated=GenSpec(count=5, seed=11, owner=USER)),
        FolderConfig("Sent Items", special_use=("\\Sent",),
                     generated=GenSpec(count=2, seed=12, owner=USER)),
        FolderConfig("Projects/Acme", generated=GenSpec(count=3, seed=13, owner=USER)),
        FolderConfig("Archive", generated=GenSpec(count=7, seed=14, owner=USER)),
    )
    return ServerConfig(accounts=(AccountConfig(USER, PASSWORD, folders),))


async def test_chosen_folders_are_watched_with_inbox_and_sent(tmp_path: Path) -> None:
    rec = Recorder()
    async with FakeImapServer(config()) as server:
        account = make_account(settings_for(server.host, server.port, USER), PASSWORD,
                               tmp_path, rec, initial_scan="full",
                               folders=("Projects/Acme", "No Such Folder", "inbox"))
        await account.start()
        try:
            await async_wait_until(lambda: account.state is State.IDLE and account.passes >= 1,
                                   timeout=10, what="the first pass over the watch list")
            folders = {f.folder for f in account.stats.folders}
            assert folders == {"INBOX", "Sent Items", "Projects/Acme"}  # Archive not chosen
            by_folder = {m.folder for m in rec.messages}
            assert by_folder == {"INBOX", "Sent Items", "Projects/Acme"}
            assert account.delivered == 5 + 2 + 3
            gone = rec.of(FolderGone)
            assert [g.folder for g in gone] == ["No Such Folder"]
            assert gone[0].server_text is not None and "LIST" in gone[0].server_text
        finally:
            await account.stop()


async def test_roles_and_all_are_unchanged(tmp_path: Path) -> None:
    """The control: "roles" watches only INBOX and Sent, "all" every selectable folder."""
    for mode, expected in (("roles", {"INBOX", "Sent Items"}),
                           ("all", {"INBOX", "Sent Items", "Projects/Acme", "Archive"})):
        rec = Recorder()
        async with FakeImapServer(config()) as server:
            account = make_account(settings_for(server.host, server.port, USER), PASSWORD,
                                   tmp_path, rec, db_name=f"{mode}.db", folders=mode)
            await account.start()
            try:
                await async_wait_until(lambda a=account: a.passes >= 1, timeout=10,  # type: ignore[misc]
                                       what=f"the first pass ({mode})")
                assert {f.folder for f in account.stats.folders} == expected
                assert not rec.of(FolderGone)
            finally:
                await account.stop()


def test_watch_list_is_validated() -> None:
    assert AccountOptions(folders=["A", " A ", "B"]).folders == ("A", "B")  # type: ignore[arg-type]
    for bad in (("",), ("a\x00b",), (3,), "some", None):
        with pytest.raises(ConfigError, match="folders"):
            AccountOptions(folders=bad)  # type: ignore[arg-type]
