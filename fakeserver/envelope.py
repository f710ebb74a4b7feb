"""ENVELOPE (RFC 3501 7.4.2) from header bytes, matching Dovecot 2.3's answers.

Addresses are tokenised by hand rather than with ``email.utils``: the envelope must
keep RFC 2047 words undecoded, report groups as ``(NIL NIL name NIL)`` ... ``(NIL NIL
NIL NIL)``, keep source routes, and fill ``MISSING_MAILBOX`` / ``MISSING_DOMAIN`` where
Dovecot does.
"""

from __future__ import annotations

from inboxlab.fakeserver import mime
from inboxlab.fakeserver.imapstr import NIL, nstring, quote
from inboxlab.fakeserver.mime import Part

__all__ = ["Address", "addresses", "envelope", "envelope_of"]

# (name, adl, mailbox, host) as ENVELOPE has them; a group is (None, None, name, None)
# ... (None, None, None, None) around its members.
Address = tuple[str | None, str | None, str | None, str | None]


def _tokens(text: str) -> list[tuple[str, str, bool]]:
    """RFC 5322 address tokens: (kind, text, blank before); kinds 'q' quoted string,
    's' special, 'a' atom or domain literal.

    Comments are dropped (they separate like blanks). Text is latin-1 decoded so
    bytes survive the round trip.
    """
    out: list[tuple[str, str, bool]] = []
    i, n = 0, len(text)
    blank = False
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            blank = True
            i += 1
            continue
        elif c == "(":
            depth, begin = 0, i
            while i < n:
                if text[i] == "\\":
                    i += 1
                elif text[i] == "(":
                    depth += 1
                elif text[i] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                i += 1
            i += 1
            out.append(("c", text[begin + 1 : i - 1].strip(), blank))
            blank = True
            continue
        elif c == '"':
            value, i = mime.quoted_string(text, i)
            out.append(("q", value, blank))
        elif c == "[":
            end = text.find("]", i)
            end = n - 1 if end < 0 else end
            out.append(("a", text[i : end + 1], blank))
            i = end + 1
        elif c in "<>@,;:.":
            out.append(("s", c, blank))
            i += 1
        else:  # an atom; a stray ")" is taken as one too, so the scan always advances
            j = i + 1
            while j < n and text[j] not in ' \t\r\n()"[<>@,;:.':
                j += 1
            out.append(("a", text[i:j], blank))
            i = j
        blank = False
    return out


def _phrase(words: list[tuple[str, str, bool]]) -> str:
    words = [w for w in words if w[0] != "c"]
    return "".join((" " if blank and k else "") + v for k, (_, v, blank) in enumerate(words))


def _bare(words: list[tuple[str, str, bool]]) -> Address:
    """An address without angle brackets; a comment after it stands in for the name."""
    last = max((k for k, w in enumerate(words) if w[0] != "c"), default=-1)
    trailing = [v for kind, v, _ in words[last + 1 :] if kind == "c"]
    return _addr(trailing[0] if trailing else None, None, words)


def _addr(name: str | None, adl: str | None, spec: list[tuple[str, str, bool]]) -> Address:
    text = "".join(v for kind, v, _ in spec if kind != "c")
    local, at, host = text.rpartition("@")
    if not at:
        local, host = text, ""
    return (name, adl, local or "MISSING_MAILBOX", host or "MISSING_DOMAIN")


def _addresses(value: bytes | None) -> bytes:
    """An ENVELOPE address list ``((name adl mailbox host) ...)`` or NIL."""
    if value is None:
        return NIL
    out = [b"(" + b" ".join(nstring(None if f is None else f.encode("latin-1")) for f in a)
           + b")" for a in addresses(value.decode("latin-1"))]
    return b"(" + b"".join(out) + b")" if out else NIL


def addresses(value: str) -> list[Address]:
    """An address field's value parsed as Dovecot 2.3 parses it (comments dropped, a
    trailing comment standing in for a missing name, MISSING_MAILBOX/MISSING_DOMAIN
    filled in, groups as in :data:`Address`); RFC 2047 words are left encoded."""
    toks = _tokens(value)
    out: list[Address] = []
    phrase: list[tuple[str, str, bool]] = []
    i, in_group = 0, False

    def special(j: int, chars: str) -> bool:
        return j < len(toks) and toks[j][0] == "s" and toks[j][1] in chars

    while i < len(toks):
        kind, v, _ = toks[i]
        if kind == "s" and v == "<":
            j = i + 1
            adl: list[str] = []
            while special(j, "@"):  # obsolete source route: <@a,@b:user@host>
                route = []
                while j < len(toks) and not special(j, ",:>"):
                    route.append(toks[j][1])
                    j += 1
                adl.append("".join(route))
                if special(j, ","):
                    j += 1
                elif special(j, ":"):
                    j += 1
                    break
            spec = []
            while j < len(toks) and not special(j, ">"):
                spec.append(toks[j])
                j += 1
            name = _phrase(phrase) or None
            out.append(_addr(name, ",".join(adl) or None, spec))
            phrase.clear()
            i = j + 1
            while i < len(toks) and not special(i, ",;"):
                i += 1
            continue
        if kind == "s" and v == ":" and not in_group:
            out.append((None, None, _phrase(phrase), None))
            phrase.clear()
            in_group = True
        elif kind == "s" and v == ";" and in_group:
            if phrase:
                out.append(_bare(phrase))
                phrase.clear()
            out.append((None, None, None, None))
            in_group = False
        elif kind == "s" and v == ",":
            if phrase:
                out.append(_bare(phrase))
                phrase.clear()
        else:
            phrase.append(toks[i])
        i += 1
    if phrase:
        out.append(_bare(phrase))
    if in_group:
        out.append((None, None, None, None))
    return out


def _text(part: Part, name: str) -> bytes:
    """An envelope string field, as Dovecot 2.3 sends it (observed): the last of repeated
    fields; a folded Subject, or one with trailing blanks, goes as a trimmed literal;
    anything else is quoted when it can be."""
    for key, text in reversed(part.fields):
        if key == name:
            value = mime.unfold(text)
            if name == "subject" and (
                b"\n" in text.rstrip(b"\r\n") or value.endswith((b" ", b"\t"))
            ):
                value = value.rstrip(b" \t")
                return b"{%d}\r\n%s" % (len(value), value)
            return quote(value)
    return NIL


def _address_fields(part: Part, name: str) -> bytes | None:
    """Every ``name`` field's addresses as one list: a message with two To: lines (real
    mail, CPython's corpus msg_20) has all of them in its envelope, as in Dovecot 2.3."""
    values = [mime.unfold(text) for key, text in part.fields if key == name]
    return b", ".join(values) if values else None


def envelope_of(part: Part) -> bytes:
    sender = _address_fields(part, "from")
    fields = [
        _text(part, "date"),
        _text(part, "subject"),
        _addresses(sender),
        _addresses(_address_fields(part, "sender") or sender),
        _addresses(_address_fields(part, "reply-to") or sender),
        _addresses(_address_fields(part, "to")),
        _addresses(_address_fields(part, "cc")),
        _addresses(_address_fields(part, "bcc")),
        _text(part, "in-reply-to"),
        _text(part, "message-id"),
    ]
    return b"(" + b" ".join(fields) + b")"


def envelope(raw: bytes) -> bytes:
    """The ENVELOPE of a message (RFC 3501 7.4.2), wire-ready."""
    return envelope_of(mime.parse(raw[: mime.header_end(raw)]))
