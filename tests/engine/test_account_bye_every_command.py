"""A server that answers BYE to every SELECT leaves no task behind with an exception nobody
retrieves (asyncio's "Task exception was never retrieved" on stderr, issue 13).

The account starts its scan task, then SELECTs INBOX on the watcher connection; a BYE there
used to leave the scan task running on a connection about to close: it failed later
(``not_connected``, or a closed database once the account stopped) and nobody awaited it.
asyncio reports that only when the task is freed, so the account is run in a helper and
everything it made is collected before the check."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

from account_helpers import Recorder, make_account, settings_for
from scenario_text import PASSWORD, USER, header
from waiting import async_wait_until

from inboxlab.fakeserver.scenario.load import loads
from inboxlab.fakeserver.scenario.serve import ScenarioServer

BYE_ON_SELECT = """
[[timeline]]
name = "bye"
trigger = { regex = "SELECT|EXAMINE", times = 0 }
action = { type = "bye", text = "Server shutting down." }
"""


async def sessions_ended_by_bye(tmp_path: Path, sessions: int) -> set[str]:
    text = header(name="bye-every-select", seed=3, count=20) + BYE_ON_SELECT + "\n"
    async with ScenarioServer(loads(text), control_port=None, smtp=False) as srv:

        async def sleep(_seconds: float) -> None:
            await asyncio.sleep(0)

        account = make_account(settings_for(srv.host, srv.port, USER), PASSWORD, tmp_path,
                               Recorder(), sleep=sleep, command_timeout=1)
        await account.start()
        try:
            await async_wait_until(lambda: len(account.errors) >= sessions,
                                   what=f"{sessions} sessions ended by BYE")
        finally:
            await account.stop()
        return {e.code for e in account.errors}


async def test_bye_to_every_select_leaves_no_unretrieved_task(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    try:
        codes = await sessions_ended_by_bye(tmp_path, 5)
        await asyncio.sleep(0)
        gc.collect()  # a failed task is reported when it is freed
    finally:
        loop.set_exception_handler(previous)
    assert codes == {"server_bye"}
    assert not unhandled, [(c.get("message"), c.get("exception")) for c in unhandled]
