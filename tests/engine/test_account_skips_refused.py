"""A message the engine refuses is skipped after a bounded number of tries; the rest of
the folder syncs.

Before, a server answer the parser refuses (one bad FETCH item) failed the session, and
the reconnect fetched the same batch again, forever; an ingest (CRM sink) failure on one
message did the same. Driven through the real Account (Scanner, supervisor, backoff).
"""

from __future__ import annotations

from pathlib import Path

from account_helpers import Recorder, make_account, settings_for
from waiting import async_wait_until

from inboxlab.engine.supervise import MessageSkipped
from inboxlab.engine.sync import ScannedMessage
from inboxlab.fakeserver.config import AccountConfig, FolderConfig, ServerConfig
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.imap.hooks import Reply, ServerHooks
from inboxlab.fakeserver.imap.server import FakeImapServer
from inboxlab.fakeserver.imap.session import ImapSession
from inboxlab.fakeserver.imap.syntax.args import FetchArgs
from inboxlab.fakeserver.imap.syntax.commands import Command

USER, PASSWORD = "skip@example.com", "pw"
BAD = 7


class OneBadFetchItem(ServerHooks):
    """Any UID FETCH of INBOX that covers UID 7 gets an answer the client cannot parse."""

    def __init__(self) -> None:
        self.refused = 0

    def on_command(self, session: ImapSession, command: Command) -> Reply | None:
        args = command.args
        if command.name == "FETCH" and command.uid and isinstance(args, FetchArgs) and any(
                lo <= BAD <= hi for lo, hi in args.sequence.ranges):
            self.refused += 1
            return Reply(f"* 7 FETCH (UID {BAD} RFC822.SIZE x))\r\n{command.tag} OK done\r\n"
                         .encode())
        return None


def config() -> ServerConfig:
    folders = (FolderConfig("INBOX", generated=GenSpec(count=20, seed=4, owner=USER)),)
    return ServerConfig(accounts=(AccountConfig(USER, PASSWORD, folders),))


async def test_a_fetch_item_the_parser_refuses_is_skipped_and_the_rest_syncs(
        tmp_path: Path) -> None:
    hooks = OneBadFetchItem()
    async with FakeImapServer(config(), tls_port=None, hooks=hooks) as server:
        rec = Recorder()
        account = make_account(settings_for(server.host, server.port, USER), PASSWORD,
                               tmp_path, rec, initial_scan="full", idle=False, batch=5)
        await account.start()
        try:
            await async_wait_until(lambda: rec.of(MessageSkipped) and account.passes >= 1,
                                   timeout=30, what="UID 7 skipped and a whole pass")
        finally:
            await account.stop()
    [skipped] = rec.of(MessageSkipped)
    assert (skipped.folder, skipped.uid, skipped.tries) == ("INBOX", BAD, 3)
    assert sorted({m.uid for m in rec.messages}) == [u for u in range(1, 21) if u != BAD]
    assert hooks.refused == 6  # 3 with batches of 5, 3 with a batch of one UID: bounded


async def test_an_ingest_failure_on_one_message_is_skipped(tmp_path: Path) -> None:
    async with FakeImapServer(config(), tls_port=None) as server:
        rec = Recorder()
        seen: list[int] = []

        def sink(message: ScannedMessage) -> None:
            if message.uid == 12:
                raise ValueError("the CRM cannot take this one")
            seen.append(message.uid)
            rec.sink(message)

        account = make_account(settings_for(server.host, server.port, USER), PASSWORD,
                               tmp_path, rec, initial_scan="full", idle=False, batch=5)
        account._sink = sink  # the CRM's sink, failing on one message
        await account.start()
        try:
            await async_wait_until(lambda: rec.of(MessageSkipped) and account.passes >= 1,
                                   timeout=30, what="UID 12 skipped and a whole pass")
        finally:
            await account.stop()
    [skipped] = rec.of(MessageSkipped)
    assert skipped.uid == 12 and "the CRM cannot take this one" in skipped.error
    assert set(seen) == {u for u in range(1, 21) if u != 12}
