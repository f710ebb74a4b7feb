"""Folder roles: special-use first, localized names second, never a substring, reasons kept."""

from __future__ import annotations

import pytest

from inboxlab.engine.errors import ConfigError
from inboxlab.engine.imap.model import ListItem
from inboxlab.engine.roles import Folder, ListMethod, Role, detect_roles, folders_from_list

SU, PLAIN, XLIST = ListMethod.SPECIAL_USE, ListMethod.LIST, ListMethod.XLIST


def sent_of(names: list[str], delimiter: str = "/", method: ListMethod = PLAIN) -> str | None:
    roles = detect_roles([(n, (), delimiter) for n in names], method)
    return roles[Role.SENT].folder


def test_presentations_is_not_sent() -> None:
    assert sent_of(["INBOX", "Presentations", "Consent forms", "Unsent"]) is None
    assert sent_of(["INBOX", "Presentations", "Sent"]) == "Sent"
    assert sent_of(["INBOX", "Presentations", "INBOX/Presentations"]) is None


@pytest.mark.parametrize("name", [
    "Sent", "Sent Items", "Sent Messages", "Sent Mail", "Gesendet", "Gesendete Elemente",
    "Elementy wysłane", "Envoyés", "Éléments envoyés", "Enviados", "Posta inviata", "Inviati",
    "Verzonden", "Skickat", "Отправленные",
])
def test_localized_sent_names(name: str) -> None:
    roles = detect_roles([("INBOX", (), "/"), ("Drafts", (), "/"), (name, (), "/")], PLAIN)
    assert roles[Role.SENT].folder == name
    assert roles[Role.SENT].source == "name"
    assert "known sent name" in roles[Role.SENT].reason


def test_names_are_case_and_accent_blind_but_keep_the_real_name() -> None:
    assert sent_of(["INBOX", "ENVOYES"]) == "ENVOYES"
    assert sent_of(["INBOX", "sent items"]) == "sent items"


def test_gmail_and_dot_hierarchies() -> None:
    assert sent_of(["INBOX", "[Gmail]", "[Gmail]/Sent Mail", "[Gmail]/Drafts"]) == (
        "[Gmail]/Sent Mail")
    assert sent_of(["INBOX", "INBOX.Gesendet", "INBOX.Projekte"], delimiter=".") == (
        "INBOX.Gesendet")


def test_whole_name_beats_nested_leaf_beats_weak_word() -> None:
    names = ["INBOX", "Sent 2023", "Clients/Sent", "INBOX/Sent", "Sent Items"]
    assert sent_of(names) == "Sent Items"
    assert sent_of(names[:4]) == "INBOX/Sent"
    assert sent_of(names[:3]) == "Clients/Sent"
    weak = detect_roles([("INBOX", (), "/"), ("Sent 2023", (), "/")], PLAIN)[Role.SENT]
    assert weak.folder == "Sent 2023" and "weak" in weak.reason


def test_known_name_order_breaks_ties_not_list_order() -> None:
    assert sent_of(["INBOX", "Sent Items", "Sent"]) == "Sent"


def test_special_use_beats_names() -> None:
    folders = [
        ("INBOX", (), "/"),
        ("Sent", (), "/"),
        ("Outgoing copies", ("\\Sent",), "/"),
        ("Deleted Items", (), "/"),
        ("Bin of doom", ("\\Trash", "\\HasNoChildren"), "/"),
    ]
    roles = detect_roles(folders, SU)
    sent = roles[Role.SENT]
    assert sent.folder == "Outgoing copies" and sent.source == "attribute"
    assert sent.method is SU
    assert "\\Sent" in sent.reason and "LIST RETURN (SPECIAL-USE)" in sent.reason
    assert "beats the name 'Sent'" in sent.reason
    assert roles[Role.TRASH].folder == "Bin of doom"


def test_attribute_matching_is_case_insensitive() -> None:
    roles = detect_roles([("INBOX", (), "/"), ("Out", ("\\SENT",), "/")], PLAIN)
    assert roles[Role.SENT].folder == "Out"


def test_xlist_attributes() -> None:
    folders = [
        ("Inbox", ("\\Inbox", "\\HasNoChildren"), "/"),
        ("[Gmail]", ("\\Noselect", "\\HasChildren"), "/"),
        ("[Gmail]/Alle Nachrichten", ("\\AllMail",), "/"),
        ("[Gmail]/Gesendet", ("\\Sent",), "/"),
        ("[Gmail]/Spam", ("\\Spam",), "/"),
        ("[Gmail]/Papierkorb", ("\\Trash",), "/"),
    ]
    roles = detect_roles(folders, XLIST)
    assert roles[Role.INBOX].folder == "Inbox"
    assert roles[Role.ALL].folder == "[Gmail]/Alle Nachrichten"
    assert roles[Role.SENT].folder == "[Gmail]/Gesendet"
    assert roles[Role.JUNK].folder == "[Gmail]/Spam"
    assert roles[Role.TRASH].folder == "[Gmail]/Papierkorb"
    assert "XLIST" in roles[Role.SENT].reason
    assert roles[Role.DRAFTS].folder is None and roles[Role.DRAFTS].source == "none"


def test_noselect_and_nonexistent_are_never_chosen() -> None:
    folders = [
        ("INBOX", (), "/"),
        ("Sent", ("\\Noselect",), "/"),
        ("Sent Items", ("\\Sent", "\\NonExistent"), "/"),
        ("Drafts", ("\\NoSelect", "\\Drafts"), "/"),
    ]
    roles = detect_roles(folders, SU)
    assert roles[Role.SENT].folder is None
    assert roles[Role.DRAFTS].folder is None
    assert "no folder carries \\Sent" in roles[Role.SENT].reason


def test_a_folder_marked_for_one_role_is_not_taken_by_another_by_name() -> None:
    folders = [("INBOX", (), "/"), ("Sent", ("\\Archive",), "/")]
    roles = detect_roles(folders, SU)
    assert roles[Role.ARCHIVE].folder == "Sent"
    assert roles[Role.SENT].folder is None


def test_inbox_is_never_another_role_and_always_exists() -> None:
    roles = detect_roles([("Sent", (), "/")], PLAIN)
    assert roles[Role.INBOX].folder == "INBOX"
    assert "always exists" in roles[Role.INBOX].reason
    roles = detect_roles([("inbox", (), "/")], PLAIN)
    assert roles[Role.INBOX].folder == "inbox"


def test_user_override_wins() -> None:
    folders = [("INBOX", (), "/"), ("Sent", ("\\Sent",), "/"), ("My sent", (), "/")]
    roles = detect_roles(folders, SU, overrides={Role.SENT: "My sent"})
    assert roles[Role.SENT].folder == "My sent"
    assert roles[Role.SENT].source == "override"


@pytest.mark.parametrize("wanted", ["Nope", "Parent"])
def test_override_to_a_missing_or_noselect_folder_is_a_config_error(wanted: str) -> None:
    folders = [("INBOX", (), "/"), ("Parent", ("\\Noselect",), "/")]
    with pytest.raises(ConfigError) as caught:
        detect_roles(folders, SU, overrides={Role.SENT: wanted})
    assert caught.value.code == "folder_override_missing"
    assert "'INBOX'" in (caught.value.remediation or "")
    assert repr(wanted) in str(caught.value)


def test_accepts_the_clients_list_items() -> None:
    items = [
        ListItem(attrs=("\\HasNoChildren",), delimiter=".", name="INBOX", raw_name=b"INBOX"),
        ListItem(attrs=(), delimiter=".", name="INBOX.Éléments envoyés",
                 raw_name=b"INBOX.&AMk-l&AOk-ments envoy&AOk-s"),
    ]
    roles = detect_roles(folders_from_list(items), PLAIN)
    assert roles[Role.SENT].folder == "INBOX.Éléments envoyés"
    assert folders_from_list(items)[1] == Folder("INBOX.Éléments envoyés", (), ".")


def test_every_role_gets_a_choice() -> None:
    roles = detect_roles([], PLAIN)
    assert set(roles) == set(Role)
    assert all(choice.reason for choice in roles.values())


def test_a_name_listed_twice_keeps_all_its_attributes() -> None:
    folders = [("INBOX", (), "/"), ("Sent", ("\\Sent",), "/"), ("Sent", ("\\Noselect",), "/")]
    assert detect_roles(folders, SU)[Role.SENT].folder is None
