"""The bundled Gmail auto-save scenario, served whole: submit over SMTP, look over IMAP.

What a connector meets against Gmail: the submitted message shows up in
"[Gmail]/Sent Mail" without any APPEND, and the contact's answer lands in INBOX.
"""

from __future__ import annotations

import asyncio
import imaplib
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from inboxlab.fakeserver.scenario.load import load
from inboxlab.fakeserver.scenario.serve import ScenarioServer

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "gmail-autosave-sent.toml"
MSGID = "<autosave-1@example.com>"


def imap_search(srv: ScenarioServer, user: str, password: str, folder: str, header: str
                ) -> list[bytes]:
    assert srv.tls is not None
    with imaplib.IMAP4_SSL(srv.host, srv.tls_port, ssl_context=srv.tls.client_context(),
                           timeout=10) as client:
        client.login(user, password)
        typ, _ = client.select(f'"{folder}"', readonly=True)
        assert typ == "OK", folder
        typ, data = client.uid("SEARCH", "HEADER", header, MSGID)
        assert typ == "OK"
        uids = data[0].split()
        flags = []
        for uid in uids:
            typ, parts = client.uid("FETCH", uid, "(FLAGS)")
            assert typ == "OK"
            flags.append(parts[0])
        return flags


async def test_gmail_autosave_and_persona_answer_over_imap() -> None:
    scenario = load(SCENARIO)
    account = scenario.config.accounts[0]
    persona = scenario.smtp.personas[0] if scenario.smtp else None
    assert persona is not None
    async with ScenarioServer(scenario, control_port=None) as srv:
        assert srv.smtp is not None and srv.tls is not None
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = account.username, persona.address, "Proposal"
        msg["Message-ID"] = MSGID
        msg.set_content("Please find the proposal below.\n")
        await aiosmtplib.send(
            msg, hostname=srv.smtp.host, port=srv.smtp.port, start_tls=True,
            tls_context=srv.tls.client_context(), username=account.username,
            password=account.password,
        )
        await srv.smtp.log.wait_for(rcpt=account.username, kind="local")

        sent = await asyncio.to_thread(
            imap_search, srv, account.username, account.password, "[Gmail]/Sent Mail",
            "Message-ID",
        )
        assert len(sent) == 1 and b"\\Seen" in sent[0]
        answers = await asyncio.to_thread(
            imap_search, srv, account.username, account.password, "INBOX", "In-Reply-To"
        )
        assert len(answers) == 1 and b"\\Seen" not in answers[0]
