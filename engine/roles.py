"""Which folder is Sent (and Drafts, Trash...): from LIST attributes first, names second.

The CRM must find replies the user sent from their own mail program, so it must
find the Sent folder on any server, in any language. The order of trust:

1. a user override (the person knows best; it must name a selectable folder);
2. the RFC 6154 special-use attribute (``\\Sent``...) or Gmail's XLIST attribute,
   whichever way the LIST was asked (``LIST RETURN (SPECIAL-USE)``, plain LIST
   attributes, or XLIST);
3. a known name, localized, in tiers: the whole name (``Sent Items``,
   ``[Gmail]/Sent Mail``), then the last level under INBOX / [Gmail]
   (``INBOX.Gesendet``), then the last level anywhere, then - weakest - a whole
   word of one level (``Sent 2024``).

Names are compared per hierarchy level and per whole word, never as substrings:
"Presentations" contains "sent" and must never be the Sent folder. ``\\Noselect``
and ``\\NonExistent`` folders are never chosen. Every decision is recorded as a
``RoleChoice`` with the reason, for the diagnostics screen.

Folder names arrive already decoded from modified UTF-7 by the IMAP client.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from inboxlab.engine.errors import ConfigError


class Role(StrEnum):
    INBOX = "inbox"
    SENT = "sent"
    DRAFTS = "drafts"
    TRASH = "trash"
    JUNK = "junk"
    ARCHIVE = "archive"
    ALL = "all"


class ListMethod(StrEnum):
    SPECIAL_USE = "LIST RETURN (SPECIAL-USE)"
    LIST = "LIST"
    XLIST = "XLIST"


@dataclass(frozen=True)
class Folder:
    name: str
    attributes: tuple[str, ...] = ()
    delimiter: str | None = "/"

    @property
    def selectable(self) -> bool:
        return not ({a.lower() for a in self.attributes} & {"\\noselect", "\\nonexistent"})

    def has(self, attribute: str) -> bool:
        return attribute.lower() in {a.lower() for a in self.attributes}

    def levels(self) -> list[str]:
        return self.name.split(self.delimiter) if self.delimiter else [self.name]


@dataclass(frozen=True)
class RoleChoice:
    """One role's outcome; ``folder`` is None when nothing fitted, and ``reason`` says why."""

    role: Role
    folder: str | None
    reason: str
    method: ListMethod
    source: str  # "override" | "attribute" | "name" | "inbox" | "none"


class ListEntry(Protocol):
    """What the IMAP client's LIST item looks like (engine.imap.model.ListItem fits)."""

    @property
    def name(self) -> str: ...
    @property
    def attrs(self) -> tuple[str, ...]: ...
    @property
    def delimiter(self) -> str | None: ...


def folders_from_list(items: Iterable[ListEntry]) -> list[Folder]:
    return [Folder(i.name, tuple(i.attrs), i.delimiter) for i in items]


# RFC 6154 attributes, and the XLIST spellings Gmail used before it.
ATTRIBUTES: Mapping[Role, tuple[str, ...]] = {
    Role.INBOX: ("\\Inbox",),
    Role.SENT: ("\\Sent",),
    Role.DRAFTS: ("\\Drafts",),
    Role.TRASH: ("\\Trash",),
    Role.JUNK: ("\\Junk", "\\Spam"),
    Role.ARCHIVE: ("\\Archive",),
    Role.ALL: ("\\All", "\\AllMail"),
}

# Known names, most common first; the order breaks ties between candidates.
KNOWN_NAMES: Mapping[Role, tuple[str, ...]] = {
    Role.SENT: (
        "Sent", "Sent Items", "Sent Messages", "Sent Mail", "[Gmail]/Sent Mail",
        "[Google Mail]/Sent Mail", "Sent Objects", "Gesendet", "Gesendete Elemente",
        "Gesendete Objekte", "Elementy wysłane", "Wysłane", "Envoyés", "Éléments envoyés",
        "Messages envoyés", "Enviados", "Elementos enviados", "Itens enviados",
        "Posta inviata", "Inviati", "Elementi inviati", "Verzonden", "Verzonden items",
        "Skickat", "Skickade objekt", "Sendt", "Sendte elementer", "Lähetetyt",
        "Odeslaná pošta", "Elküldött", "Отправленные", "Надіслані", "已发送", "寄件備份",
        "送信済み", "送信済みアイテム", "보낸편지함",
    ),
    Role.DRAFTS: (
        "Drafts", "Draft", "[Gmail]/Drafts", "Entwürfe", "Brouillons", "Borradores",
        "Rascunhos", "Bozze", "Concepten", "Utkast", "Kladder", "Kopie robocze",
        "Luonnokset", "Koncepty", "Черновики", "草稿", "下書き",
    ),
    Role.TRASH: (
        "Trash", "Deleted Items", "Deleted Messages", "Deleted", "Bin", "[Gmail]/Trash",
        "[Gmail]/Bin", "Papierkorb", "Gelöschte Elemente", "Gelöschte Objekte", "Corbeille",
        "Éléments supprimés", "Papelera", "Elementos eliminados", "Lixeira", "Lixo",
        "Cestino", "Posta eliminata", "Prullenbak", "Verwijderde items", "Papperskorgen",
        "Borttagna objekt", "Papirkurv", "Kosz", "Elementy usunięte", "Roskakori", "Koš",
        "Корзина", "Удаленные", "已删除", "ゴミ箱",
    ),
    Role.JUNK: (
        "Junk", "Junk E-mail", "Junk Email", "Junk Mail", "Spam", "[Gmail]/Spam", "Bulk Mail",
        "Junk-E-Mail", "Spamverdacht", "Courrier indésirable", "Indésirables",
        "Correo no deseado", "Lixo eletrônico", "Posta indesiderata", "Ongewenste e-mail",
        "Skräppost", "Uønsket e-post", "Wiadomości-śmieci", "Roskaposti", "Спам",
        "垃圾邮件", "迷惑メール",
    ),
    Role.ARCHIVE: (
        "Archive", "Archives", "Archiv", "Archivio", "Archivo", "Arquivo", "Archief", "Arkiv",
        "Archiwum", "Arkisto", "Архив", "存档", "アーカイブ",
    ),
    Role.ALL: (
        "All Mail", "[Gmail]/All Mail", "[Google Mail]/All Mail", "Alle Nachrichten",
        "Tous les messages", "Todos", "Todos os e-mails", "Tutti i messaggi", "Alle berichten",
        "Wszystkie", "Вся почта",
    ),
}

# Whole words good enough for the weakest tier (never "bin": too common a word).
ROLE_WORDS: Mapping[Role, frozenset[str]] = {
    Role.SENT: frozenset({"sent"}),
    Role.DRAFTS: frozenset({"drafts", "draft"}),
    Role.TRASH: frozenset({"trash"}),
    Role.JUNK: frozenset({"junk", "spam"}),
    Role.ARCHIVE: frozenset({"archive", "archives"}),
    Role.ALL: frozenset(),
}

_PARENTS = {"inbox", "[gmail]", "[google mail]"}
_WORD = re.compile(r"\w+")


def _key(text: str) -> str:
    """Compare names case- and accent-blind: 'ENVOYES' matches 'Envoyés'."""
    decomposed = unicodedata.normalize("NFKD", text.strip())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", bare).casefold()


_KNOWN_KEYS: dict[Role, list[str]] = {
    role: [_key(n) for n in names] for role, names in KNOWN_NAMES.items()
}


def _name_rank(role: Role, folder: Folder) -> tuple[int, int, str] | None:
    """(tier, known-name index, what matched) for the best name match; lower is better."""
    known = _KNOWN_KEYS[role]
    levels = [_key(level) for level in folder.levels()]
    whole = "/".join(levels)
    if whole in known:
        return (0, known.index(whole), f"its name {folder.name!r} is a known {role} name")
    leaf = levels[-1]
    if leaf in known:
        under_parent = len(levels) == 2 and levels[0] in _PARENTS
        tier = 1 if under_parent else 2
        return (tier, known.index(leaf), f"its last level {folder.levels()[-1]!r} is a "
                f"known {role} name")
    words = ROLE_WORDS[role]
    for level in reversed(levels):
        hit = words & set(_WORD.findall(level))
        if hit:
            return (3, 0, f"a level of its name contains the word {sorted(hit)[0]!r} "
                    "(weak match)")
    return None


class _Picker:
    def __init__(self, folders: list[Folder], method: ListMethod) -> None:
        self.folders = folders
        self.method = method
        self.taken: set[str] = set()
        self.choices: dict[Role, RoleChoice] = {}

    def choose(self, role: Role, folder: str | None, reason: str, source: str) -> None:
        self.choices[role] = RoleChoice(role, folder, reason, self.method, source)
        if folder is not None:
            self.taken.add(folder)

    def override(self, role: Role, wanted: str) -> None:
        match = [f for f in self.folders if f.name == wanted]
        if not match or not match[0].selectable:
            listed = ", ".join(repr(f.name) for f in self.folders if f.selectable) or "none"
            problem = "is not on the server" if not match else "cannot be selected (\\Noselect)"
            raise ConfigError(
                f"folder override for {role}: {wanted!r} {problem}",
                code="folder_override_missing",
                remediation=f"pick one of the server's folders: {listed}",
            )
        self.choose(role, wanted, f"user override names {wanted!r}", "override")

    def inbox(self) -> None:
        for f in self.folders:
            if f.name.upper() == "INBOX" and f.selectable:
                self.choose(Role.INBOX, f.name, "INBOX is the inbox by definition (RFC 3501)",
                            "inbox")
                return
        marked = [f for f in self.folders if f.selectable and f.has("\\Inbox")]
        if marked:
            self.choose(Role.INBOX, marked[0].name, f"carries \\Inbox (from {self.method})",
                        "attribute")
            return
        self.choose(Role.INBOX, "INBOX", "INBOX always exists (RFC 3501), even if not listed",
                    "inbox")

    def by_attribute(self, role: Role) -> bool:
        wanted = ATTRIBUTES[role]
        marked = [f for f in self.folders if f.selectable and f.name not in self.taken
                  and any(f.has(a) for a in wanted)]
        if not marked:
            return False
        chosen = marked[0]
        attribute = next(a for a in wanted if chosen.has(a))
        reason = f"carries {attribute} (from {self.method})"
        if len(marked) > 1:
            reason += f"; also marked, not chosen: {', '.join(repr(f.name) for f in marked[1:])}"
        named = self._best_by_name(role)
        if named is not None and named[1].name != chosen.name:
            reason += f"; the attribute beats the name {named[1].name!r}"
        self.choose(role, chosen.name, reason, "attribute")
        return True

    def _best_by_name(self, role: Role) -> tuple[tuple[int, int, str], Folder] | None:
        ranked = []
        for order, f in enumerate(self.folders):
            if not f.selectable or f.name in self.taken or f.name.upper() == "INBOX":
                continue
            rank = _name_rank(role, f)
            if rank is not None:
                ranked.append(((rank[0], rank[1], order), rank, f))
        if not ranked:
            return None
        ranked.sort(key=lambda r: r[0])
        return ranked[0][1], ranked[0][2]

    def by_name(self, role: Role) -> bool:
        best = self._best_by_name(role)
        if best is None:
            return False
        (_tier, _index, why), folder = best
        attrs = " or ".join(ATTRIBUTES[role])
        self.choose(role, folder.name, f"{why} (no folder carries {attrs})", "name")
        return True


ROLE_ORDER = (Role.SENT, Role.DRAFTS, Role.TRASH, Role.JUNK, Role.ARCHIVE, Role.ALL)


def detect_roles(
    folders: Iterable[Folder | tuple[str, Iterable[str], str | None]],
    method: ListMethod,
    overrides: Mapping[Role, str] | None = None,
) -> dict[Role, RoleChoice]:
    """Assign every role a folder (or None), each with the reason it was chosen.

    Raises ``ConfigError`` if an override names a folder the server does not list.
    """
    merged: dict[str, Folder] = {}
    for f in folders:
        item = f if isinstance(f, Folder) else Folder(f[0], tuple(f[1]), f[2])
        seen = merged.get(item.name)
        # A name listed twice (a broken server): keep every attribute, so \Noselect sticks.
        merged[item.name] = item if seen is None else Folder(
            item.name, (*seen.attributes, *item.attributes), seen.delimiter)
    picker = _Picker(list(merged.values()), method)
    overrides = overrides or {}
    for role, wanted in overrides.items():
        picker.override(Role(role), wanted)
    if Role.INBOX not in picker.choices:
        picker.inbox()
    pending = [r for r in ROLE_ORDER if r not in picker.choices]
    # All attributes first, so a marked folder is never taken by another role's name match.
    pending = [r for r in pending if not picker.by_attribute(r)]
    for role in pending:
        if not picker.by_name(role):
            attrs = " or ".join(ATTRIBUTES[role])
            picker.choose(role, None, f"no folder carries {attrs} and none has a known "
                          f"{role} name", "none")
    return {r: picker.choices[r] for r in (Role.INBOX, *ROLE_ORDER)}
