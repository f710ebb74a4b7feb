"""After a whole CRM session - connect, sync, send (SMTP AUTH), Sent copy, reply logged,
diagnostic bundle, settings saved under XDG_CONFIG_HOME, debug logs on - no file the
session left behind holds the password, plain or base64.

tests/diag/test_secrets_everywhere.py covers the diagnostics paths (trace ring, record
proxy, timeline, ``diagnose --json``); this one covers the CRM paths and the XDG config.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
from crm.crm_kit import PASSWORD, USER, crm_lab
from secretscan import checkpoint, leaks, scan_tree

from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.outbox import State
from inboxlab.engine.crm.send import Draft
from inboxlab.engine.diag.bundle import export_bundle
from inboxlab.engine.settings import AccountSettings, ImapServer
from inboxlab.fakeserver.smtp.config import PersonaSpec
from inboxlab.tui.settings_store import SettingsStore, UiSettings, config_dir

BOB = "bob@client.test"
SECRETS = (PASSWORD.encode(), f"\0{USER}\0{PASSWORD}".encode())


def test_the_scan_can_find_a_password() -> None:
    sasl = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode())
    assert leaks(b"AUTH PLAIN " + sasl, SECRETS)
    assert leaks(b"xx" + base64.b64encode(b"ab" + PASSWORD.encode()), SECRETS)
    assert not leaks(b"AUTH PLAIN [redacted]", SECRETS)


async def test_a_full_crm_session_leaves_no_password_anywhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    log_file = tmp_path / "logs" / "engine.log"
    log_file.parent.mkdir()
    handler = logging.FileHandler(log_file)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        personas = (PersonaSpec(BOB, "Bob Buyer", body="Deal.", attach=True),)
        async with crm_lab(work, personas=personas) as lab:
            rec = await lab.outbox.send(Draft((Address(BOB, "Bob"),), "Quote", "12 at 10.\n"))
            assert rec.state is State.LOGGED
            await lab.smtp.log.wait_for(rcpt=USER, kind="local")
            assert await lab.scan() == 1  # the reply (with its attachment) is stored
            settings = AccountSettings(USER, ImapServer("127.0.0.1", lab.imap.port, "plain"))
            await export_bundle(tmp_path / "bundle.json", settings=settings, db=lab.db)
            SettingsStore().save(UiSettings())
        checkpoint(work / "engine.db")
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(old_level)
    assert (config_dir() / "settings.json").exists()
    assert log_file.stat().st_size > 0  # the session did log (at DEBUG)
    assert any((work / "files").rglob("*")), "the attachment store was used"
    assert scan_tree([tmp_path], SECRETS) == {}
