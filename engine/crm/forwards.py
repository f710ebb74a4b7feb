"""Is this email a forward, and of whom? Read from its structure, never from its subject.

A subject prefix says little: people edit subjects, clients localise the prefix (``WG:``,
``TR:``, ``RV:``, ``Doorst:``) and a reply can keep an old ``Fwd:``. What a forward
carries is structure:

- an attached original (a ``message/rfc822`` part: Outlook's "forward as attachment",
  Thunderbird's "forward as attachment", Apple Mail's attached message), or
- an inline block: a separator line the client wrote, followed by the original's header
  fields (``From:``/``Von:``/``De :``/``Van:``/``Da:``... ``Subject:``/``Betreff:``/
  ``Objet :``/``Asunto:``...), in the client's language.

Separators come in two kinds. *Forward markers* (Gmail's "---------- Forwarded message
---------", Thunderbird's "-------- Weitergeleitete Nachricht --------", Apple Mail's
"Begin forwarded message:", and their translations) only ever start a forward. *Quote
separators* (Outlook's "-----Original Message-----"/"-----Ursprüngliche Nachricht-----"
and its underscore rule) start a forward *or* a reply's quote; the caller decides from
the envelope whether they count. Quoted lines (``> ...``) are another message's text and
are never read as a block.

Sans-I/O: ``find_forward(msg, text, quotes=...)`` returns ``Forwarded`` or None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import Parser

from inboxlab.engine.crm.ingest import Headers, headers_of

# Lines that only ever open a forwarded message (casefolded, dashes and colons trimmed).
FORWARD_MARKERS = frozenset({
    "forwarded message", "begin forwarded message", "forwarded message follows",
    "weitergeleitete nachricht", "anfang der weitergeleiteten nachricht",
    "message transféré", "message transfere", "début du message réexpédié",
    "début du message transféré", "message réexpédié",
    "mensaje reenviado", "inicio del mensaje reenviado", "comienzo del mensaje reenviado",
    "doorgestuurd bericht", "begin doorgestuurd bericht", "begin van doorgestuurd bericht",
    "messaggio inoltrato", "inizio messaggio inoltrato", "messaggio inoltrato originale",
    "mensagem encaminhada", "início da mensagem reencaminhada", "mensagem reencaminhada",
    "vidarebefordrat meddelande", "videresendt meddelelse", "videresendt melding",
    "välitetty viesti", "wiadomość przekazana dalej", "przekazana wiadomość",
})
# Lines that open a quoted original: a forward, or just a reply's quote (Outlook).
QUOTE_SEPARATORS = frozenset({
    "original message", "ursprüngliche nachricht", "message d'origine", "message d’origine",
    "mensaje original", "oorspronkelijk bericht", "messaggio originale",
    "mensagem original", "ursprungligt meddelande", "oprindelig meddelelse",
    "opprinnelig melding", "alkuperäinen viesti", "oryginalna wiadomość",
})
_RULE = re.compile(r"^_{20,}$")  # Outlook's "________________________________"
# The original's header fields, per language (the label before the colon).
_FIELDS = {
    "from": ("from", "von", "de", "van", "da", "fra", "från", "od", "lähettäjä"),
    "to": ("to", "an", "à", "a", "para", "aan", "pour", "til", "till", "do",
           "vastaanottaja"),
    "cc": ("cc", "kopie", "copie à", "cc."),
    "subject": ("subject", "betreff", "objet", "sujet", "asunto", "onderwerp", "oggetto",
                "assunto", "ämne", "emne", "emne", "temat", "aihe"),
    "date": ("date", "datum", "fecha", "data", "sent", "gesendet", "envoyé", "enviado",
             "verzonden", "inviato", "skickat", "sendt", "wysłano", "lähetetty"),
}
_LABEL = {label: name for name, labels in _FIELDS.items() for label in labels}
_FIELD = re.compile(r"^[ *]*([^\W\d_][\w. ]{0,20}?)[ *]*[:：][ *]*(.+)$")
_MAILTO = re.compile(r"\[mailto:([^\]\s]+)\]", re.IGNORECASE)
MAX_LINES = 20000  # lines searched for a separator: a forward block sits near the top


@dataclass(frozen=True)
class Forwarded:
    """The forwarded original's headers and how they were found (shown on the record)."""

    original: Headers
    how: str


def _separator(line: str) -> str:
    return line.strip().strip("-–—:").strip().casefold()


def _block(lines: list[str]) -> Headers | None:
    """The original's headers from the lines after a separator; None without a sender."""
    fields: dict[str, str] = {}
    blank_after_fields = False
    for line in lines[:25]:
        if not line.strip():
            if fields:
                blank_after_fields = True
            continue
        if blank_after_fields:
            break  # the original's body starts
        m = _FIELD.match(line.strip())
        if m is None:
            if fields:
                break
            continue
        name = _LABEL.get(" ".join(m.group(1).split()).casefold())
        if name is not None:
            fields.setdefault(name, _MAILTO.sub(r"<\1>", m.group(2).strip()))
    if "from" not in fields:
        return None
    block = "".join(f"{k.capitalize()}: {v}\n" for k, v in fields.items()
                    if k in ("from", "to", "cc", "subject"))
    parsed = Parser(policy=policy.default).parsestr(block, headersonly=True)
    assert isinstance(parsed, EmailMessage)
    headers = headers_of(parsed)
    return headers if headers.from_ is not None else None


def attached_original(msg: Message) -> Headers | None:
    for part in msg.walk():
        if part.get_content_type() != "message/rfc822":
            continue
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            headers = headers_of(inner[0])
            if headers.from_ is not None:
                return headers
    return None


def inline_original(text: str, *, quotes: bool) -> Forwarded | None:
    """The first forward block in ``text`` (a plain-text body), if any."""
    lines = text.splitlines()[:MAX_LINES]
    for n, line in enumerate(lines):
        if line.lstrip().startswith(">"):
            continue  # a quoted message's text, not this one's structure
        mark = _separator(line)
        if mark in FORWARD_MARKERS or (quotes and (mark in QUOTE_SEPARATORS
                                                   or _RULE.match(line.strip()))):
            found = _block(lines[n + 1:])
            if found is not None:
                label = line.strip().strip("-–—").strip() or "a separator rule"
                return Forwarded(found, f"inline forward block '{label}'")
    return None


def find_forward(msg: Message | None, text: str, *, quotes: bool) -> Forwarded | None:
    """The forwarded original: an attached message first, else an inline block.

    ``quotes``: whether Outlook-style quote separators count (they also open a reply's
    quote, so only when the sender meant to forward to the logging address).
    """
    if msg is not None:
        attached = attached_original(msg)
        if attached is not None:
            return Forwarded(attached, "attached message/rfc822")
    return inline_original(text, quotes=quotes)


__all__ = ["FORWARD_MARKERS", "QUOTE_SEPARATORS", "Forwarded", "attached_original",
           "find_forward", "inline_original"]
