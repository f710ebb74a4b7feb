"""Role discovery against a real Dovecot: SPECIAL-USE when configured, names when not."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from inboxlab.engine.errors import ConfigError
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.engine.roles import ListMethod, Role
from inboxlab.engine.sync import discover_roles

pytestmark = pytest.mark.dovecot

_users = itertools.count(1)


def new_user(dovecot: Any) -> Credentials:
    name = f"roles{next(_users)}@example.com"
    dovecot.add_user(name, f"pw-{name}")
    return Credentials(name, f"pw-{name}")


def create(dovecot: Any, user: str, *folders: str) -> None:
    for folder in folders:
        dovecot.doveadm("mailbox", "create", "-u", user, folder)


async def test_special_use_attributes_win_and_presentations_is_ignored(dovecot: Any) -> None:
    creds = new_user(dovecot)
    create(dovecot, creds.username, "Presentations", "Sent Items")
    async with ImapClient(dovecot.host, dovecot.port, security="plain", timeout=30) as client:
        await client.login(creds)
        roles = await discover_roles(client)
    sent = roles[Role.SENT]
    assert sent.folder == "Sent" and sent.source == "attribute"
    assert sent.method is ListMethod.SPECIAL_USE
    assert roles[Role.TRASH].folder == "Trash"
    assert roles[Role.INBOX].folder == "INBOX"
    assert "Presentations" not in {c.folder for c in roles.values()}


async def test_without_special_use_names_decide(dovecot_factory: Any) -> None:
    server = dovecot_factory(special_use=False)
    creds = new_user(server)
    create(server, creds.username, "Presentations")
    async with ImapClient(server.host, server.port, security="plain", timeout=30) as client:
        await client.login(creds)
        roles = await discover_roles(client)
    assert roles[Role.SENT].folder == "Sent"
    assert roles[Role.SENT].source == "name"
    assert roles[Role.JUNK].folder == "Junk"
    assert roles[Role.ALL].folder is None


async def test_override_to_a_localized_folder_round_trips_utf7(dovecot: Any) -> None:
    creds = new_user(dovecot)
    create(dovecot, creds.username, "Éléments envoyés")
    async with ImapClient(dovecot.host, dovecot.port, security="plain", timeout=30) as client:
        await client.login(creds)
        roles = await discover_roles(client, {Role.SENT: "Éléments envoyés"})
        assert roles[Role.SENT].folder == "Éléments envoyés"
        assert roles[Role.SENT].source == "override"
        status = await client.status("Éléments envoyés", ("MESSAGES",))
        assert status.items["MESSAGES"] == 0
        with pytest.raises(ConfigError, match="Envoyés"):
            await discover_roles(client, {Role.SENT: "Envoyés"})
