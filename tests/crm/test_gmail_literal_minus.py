"""The engine APPENDs to a Gmail-profile server, which offers LITERAL- (RFC 7888), not LITERAL+.

The engine sends small messages as non-synchronizing literals where LITERAL- allows; the fake
server used to refuse every ``{n+}`` without LITERAL+, so any Sent copy on Gmail failed.
"""

from __future__ import annotations

from pathlib import Path

from inboxlab.engine.imap.client import Credentials, ImapClient
from inboxlab.engine.secrets import Secret
from inboxlab.fakeserver.scenario.load import load
from inboxlab.fakeserver.scenario.serve import ScenarioServer

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
MESSAGE = (b"From: a@example.com\r\nSubject: literal minus\r\n"
           b"Message-ID: <lm@example.com>\r\n\r\nhi\r\n")


async def test_append_small_and_large_messages_on_a_literal_minus_server() -> None:
    scenario = load(SCENARIOS / "gmail-autosave-sent.toml")
    account = scenario.config.accounts[0]
    async with ScenarioServer(scenario, control_port=None) as srv:
        assert srv.tls is not None
        client = ImapClient(srv.host, srv.tls_port, security="tls",
                            ssl_context=srv.tls.client_context(), timeout=20)
        await client.connect()
        try:
            await client.login(Credentials(account.username, Secret(account.password)))
            caps = await client.capability()
            assert "LITERAL-" in caps and "LITERAL+" not in caps
            small = await client.append("INBOX", MESSAGE, flags=("\\Seen",))
            big = await client.append("INBOX", MESSAGE + b"x" * 10_000 + b"\r\n")
            assert small is not None and big is not None
            assert big.uid == small.uid + 1
        finally:
            await client.logout()
