"""SEARCH FROM/TO/CC/BCC on parsed addresses, as Dovecot 2.3 answers them.

Dovecot does not search the header text of an address field: it parses the addresses
(fakeserver.envelope.addresses: comments dropped, a trailing comment as the name) and
looks for the key in each address written back, one at a time, RFC 2047 words decoded:

- ``"Joe Smith" <joe@example.com>`` (a name that is not one atom is quoted, ``"`` and
  ``\\`` escaped; a name with encoded words goes as it is, then decoded);
- ``joe@example.com`` without a name; MISSING_MAILBOX/MISSING_DOMAIN where parts lack;
- ``Team: `` for a group's start, ``;`` for its end, ``Team:;`` for an empty group.

So a key never spans two addresses (``a@x.com, b`` finds nothing) and text in comments
is not found (``SEARCH FROM "(work)"``), while ``HEADER FROM`` still searches the text.
Checked against Dovecot by tests/interop/test_differential_sessions.py.
"""

from __future__ import annotations

from email.header import decode_header, make_header

from inboxlab.fakeserver.envelope import addresses

__all__ = ["address_items", "decoded_words"]

_ATEXT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                   "!#$%&'*+-/=?^_`{|}~")


def _phrase(name: str) -> str:
    if "=?" in name or all(c in _ATEXT for c in name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def decoded_words(text: str) -> str:
    """RFC 2047 encoded words decoded; malformed ones stay as they are."""
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:  # malformed encoded words: search the text as it is
        return text


def address_items(value: str) -> list[str]:
    """The strings SEARCH matches a key against for one address field's raw value."""
    out: list[str] = []
    parsed = addresses(value.replace("\r\n", ""))
    for k, (name, adl, mailbox, host) in enumerate(parsed):
        if host is None and mailbox is not None:  # a group starts
            ends = k + 1 < len(parsed) and parsed[k + 1] == (None, None, None, None)
            out.append(_phrase(mailbox) + (":;" if ends else ": "))
        elif host is None:  # a group ends
            before = parsed[k - 1] if k else None
            if not (before and before[2] is not None and before[3] is None):
                out.append(";")  # (an empty group's ":;" said it)
        else:
            spec = f"{mailbox}@{host}"
            if adl:
                spec = f"{adl}:{spec}"
            out.append(f"{_phrase(name)} <{spec}>" if name else spec)
    return [decoded_words(item) for item in out]
