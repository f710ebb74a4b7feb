"""Several sessions on one mailbox, the same script against Dovecot and the fake server.

A script is a list of steps ``(session, name, command line)``; the sessions are separate
connections of one user, interleaved in script order. Each session's responses are
reduced by its own :class:`SessionReducer` (its own sequence-number map, as a client
keeps one per connection), and the reductions of both servers must be equal. Like
tests/interop/diff_wire.py this shares no code with ``engine/`` or ``fakeserver/``.

What differs between the reductions of the single-session test (test_differential):
FETCH responses are keyed by sequence number (a session-local number both servers must
agree on; a second one for the same message in a step is ``seq N again``) and carry
``UID`` only when the command asked for it and only in the first, because the fake adds
UID to every flag update and Dovecot only to UID commands (``fetch-uid`` below).

Hierarchy: servers choose their delimiter (Dovecot's maildir ".", the fake "/"). A step
writes ``{/}`` where the delimiter goes (``CREATE "Projects{/}2024"``); each server's
line gets the delimiter that server's ``LIST "" ""`` names, and the names in its LIST,
LSUB and STATUS responses are compared with "/" in its place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from diff_reduce import Reducer, differences, mailbox_name
from diff_wire import Response, Value, Wire
from dovecot import DovecotHandle

from inboxlab.fakeserver.config import AccountConfig, Capabilities, FolderConfig, ServerConfig
from inboxlab.fakeserver.imap.server import FakeImapServer

FOLDERS = (("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"),
           ("Junk", "\\Junk"), ("Archive", "\\Archive"))
Step = tuple[int, str, bytes]
DELIMITER = b"{/}"  # in a step's line: the server's hierarchy delimiter

# What every session reduction leaves out or rewrites, and why (see test_differential's
# table for the shared ones). A scenario may drop a key to compare that detail strictly.
TOLERATED: dict[str, str] = {
    "uidvalidity": "UIDVALIDITY is the server's choice; only its stability matters",
    "modseq-values": "MODSEQ numbers are the server's; compared as order against the "
                     "HIGHESTMODSEQ of the session's last SELECT",
    "internaldate-zone": "an INTERNALDATE may be written in any zone; compared as instants",
    "text": "human-readable response text is free wording (RFC 3501 7.1)",
    "capability": "capability lists differ by design; compared on the needed ones only",
    "delimiter": "the hierarchy delimiter is the server's choice",
    "unsolicited": "Dovecot's untagged OK [CLOSED] on every re-SELECT (RFC 7162 3.2.11 asks "
                   "for it only under QRESYNC)",
    "list-order": "LIST responses come in any order (RFC 3501 6.3.8)",
    "list-children": "\\HasChildren/\\HasNoChildren are optional under LIST-EXTENDED",
    "clientbug": "Dovecot's advisory [CLIENTBUG] on STATUS of the selected mailbox",
    "expunge-order": "EXPUNGEs for several messages may come in any valid order",
    "flags-order": "FLAGS and PERMANENTFLAGS list flags in any order",
    "fetch-uid": "a FETCH response may carry UID unasked (the fake adds it to flag updates, "
                 "Dovecot only answers UID commands with it); compared only where asked",
    "recent": "\\Recent is compared only by scenarios about it",
    "flag-update-dup": "a flag update repeating the flags this step's FETCH just returned "
                       "for the message is redundant; Dovecot sends it, the fake not. Dropped",
    "select-highestmodseq": "RFC 7162 3.1.2.1 has a server with persistent mod-sequences "
                            "send HIGHESTMODSEQ at every SELECT (the fake does); Dovecot "
                            "sends it only once CONDSTORE is on. Dropped from SELECT/EXAMINE",
}


def message(n: int, extra: bytes = b"") -> bytes:
    """A small distinct message; ``extra`` goes after the Subject header."""
    return (b"Date: Mon, 5 Feb 2024 10:%02d:00 +0000\r\nFrom: Sender %d <s%d@example.com>\r\n"
            b"To: user@example.com\r\nSubject: message %d\r\n%bMessage-ID: <m%d@example.com>"
            b"\r\n\r\nBody of message %d.\r\n" % (n % 60, n, n, n, extra, n, n))


def append(raw: bytes, folder: bytes = b"INBOX", flags: bytes = b"()") -> bytes:
    """An APPEND line with a LITERAL+ literal and a fixed INTERNALDATE."""
    return (b'APPEND %b %b "05-Feb-2024 12:00:00 +0000" {%d+}\r\n%b'
            % (folder, flags, len(raw), raw))


def appends(count: int, session: int = 0) -> list[Step]:
    return [(session, f"append {n}", append(message(n))) for n in range(1, count + 1)]


class SessionReducer(Reducer):
    """A :class:`Reducer` for one session; see the module docstring for what differs."""

    def __init__(self, names: Sequence[str], lines: Sequence[bytes],
                 steps: list[list[Response]], *, tolerated: dict[str, str],
                 delimiter: str = "/") -> None:
        super().__init__(names, steps, tolerated=tolerated)
        self.lines = list(lines)
        self.delimiter = delimiter
        self.bases = self._modseq_bases()
        self.asks_uid = False
        self.selecting = False
        self.answered: set[int] = set()  # sequence numbers with a FETCH in this step

    def modseq(self, value: int) -> str:
        """Only "changed since the base" is compared: Dovecot gives unchanged messages the
        HIGHESTMODSEQ of the moment CONDSTORE came on, the fake their own older one."""
        self.tolerate("modseq-values")
        return "> base" if value > self.base else "<= base"

    def _modseq_bases(self) -> list[int]:
        """MODSEQ values are compared with the first HIGHESTMODSEQ the session was told
        since its last SELECT, skipping a plain SELECT's (``select-highestmodseq``)."""
        bases: list[int] = []
        base = -1
        for name, line, got in zip(self.names, self.lines, self.steps, strict=True):
            opens = name.startswith(("select", "examine"))
            if opens:
                base = -1
            if base < 0 and (not opens or b"CONDSTORE" in line.upper()):
                base = next((int(r.code[1]) for r in got  # type: ignore[arg-type]
                             if r.code and r.code[0] == "HIGHESTMODSEQ"), -1)
            bases.append(base)
        return bases

    def reduce(self) -> dict[str, Any]:
        out = {}
        for name, line, got, base in zip(self.names, self.lines, self.steps, self.bases,
                                         strict=True):
            self.base = base
            words = line.split(b"\r\n", 1)[0].upper().split()
            self.asks_uid = bool(words) and (words[0] == b"UID" or (
                words[0] == b"FETCH" and b"UID" in line.upper()))
            self.selecting = name.startswith(("select", "examine"))
            self.answered = set()
            out[name] = self.step(name, got)
        return out

    def untagged(self, resp: Response, into: dict[str, Any]) -> None:
        if (self.selecting and resp.status == "OK" and resp.code
                and resp.code[0] == "HIGHESTMODSEQ"):
            self.tolerate("select-highestmodseq")
            return
        values = resp.values
        if (resp.status is None and len(values) == 3 and isinstance(values[0], int)
                and str(values[1]).upper() == "FETCH"):
            seq, items = values[0], values[2]
            assert isinstance(items, list)
            fetches = into.setdefault("FETCH", {})
            key = f"seq {seq}"
            got = self.fetch(seq, items, first=seq not in self.answered)
            if key in fetches and all(fetches[key].get(k) == v for k, v in got.items()):
                self.tolerate("flag-update-dup")
                return
            while key in fetches:
                key += " again"
            fetches[key] = got
            self.answered.add(seq)
            return
        if resp.status is None and values and str(values[0]).upper() in ("SEARCH", "ESEARCH"):
            word = str(values[0]).upper()
            found = list(values[1:])
            if word == "SEARCH" and found and isinstance(found[-1], list):
                into["SEARCH MODSEQ"] = self.modseq(int(found.pop()[1]))  # type: ignore[arg-type,index]
            for i in range(len(found) - 1):
                if found[i] == "MODSEQ" and word == "ESEARCH":
                    found[i + 1] = self.modseq(int(found[i + 1]))  # type: ignore[arg-type]
            into[word] = sorted(v for v in found if isinstance(v, int)) if word == "SEARCH" \
                else found
            return
        if resp.status is None and values and str(values[0]).upper() in ("LIST", "LSUB"):
            resp = replace(resp, values=[*values[:3], self.slashed(values[3]), *values[4:]])
        elif resp.status is None and values and str(values[0]).upper() == "STATUS":
            resp = replace(resp, values=[values[0], self.slashed(values[1]), *values[2:]])
        if resp.status is None and values and str(values[0]).upper() == "FLAGS":
            # a client must learn a new keyword from FLAGS before a FETCH shows it
            into["FLAGS before FETCH"] = "FETCH" not in into
        super().untagged(resp, into)

    def slashed(self, name: Value) -> str:
        """A mailbox name with the server's delimiter written as "/" (``delimiter``)."""
        text = mailbox_name(name)
        if self.delimiter != "/" and self.delimiter in text:
            self.tolerate("delimiter")
            return text.replace(self.delimiter, "/")
        return text

    def fetch(self, seq: int, items: list[Value], *, first: bool = True) -> dict[str, Any]:
        at = next((i for i in range(len(items) - 1)
                   if items[i] == "UID" and isinstance(items[i + 1], int)), None)
        if at is not None and not (self.asks_uid and first):
            # unasked: neither compared nor learnt (Dovecot would not have told the client)
            self.tolerate("fetch-uid")
            items = items[:at] + items[at + 2:]
        return {"SEQ": seq, **super().fetch(seq, items)}


def run_steps(host: str, port: int, user: str, password: str, steps: Sequence[Step],
              ) -> list[list[Response]]:
    """Log every session in, run the steps in order; each step's responses."""
    return run_delimited(host, port, user, password, steps)[1]


def run_delimited(host: str, port: int, user: str, password: str, steps: Sequence[Step],
                  ) -> tuple[str, list[list[Response]]]:
    """Like :func:`run_steps`, with ``{/}`` in the lines made the server's delimiter
    (asked with ``LIST "" ""`` after login); returns (delimiter, responses)."""
    count = max(who for who, _n, _l in steps) + 1
    wires = [Wire(host, port) for _ in range(count)]
    try:
        for wire in wires:
            login = wire.command(b'LOGIN "%s" "%s"' % (user.encode(), password.encode()))
            assert login[-1].status == "OK", login[-1].raw
        root = wires[0].command(b'LIST "" ""')
        delimiter = mailbox_name(root[0].values[2])
        assert len(delimiter) == 1, root[0].raw
        return delimiter, [wires[who].command(line.replace(DELIMITER, delimiter.encode()))
                           for who, _name, line in steps]
    finally:
        for wire in wires:
            wire.close()


def reduce_all(steps: Sequence[Step], got: list[list[Response]],
               tolerated: dict[str, str], delimiter: str = "/",
               ) -> tuple[dict[str, Any], set[str]]:
    """One dict for the whole run, keyed ``"NN sK name"``, and the tolerances used."""
    out: dict[str, Any] = {}
    used: set[str] = set()
    for who in sorted({w for w, _n, _l in steps}):
        mine = [(i, name, line, resp) for i, ((w, name, line), resp)
                in enumerate(zip(steps, got, strict=True)) if w == who]
        reducer = SessionReducer([m[1] for m in mine], [m[2] for m in mine],
                                 [m[3] for m in mine], tolerated=tolerated,
                                 delimiter=delimiter)
        for (i, name, _line, _resp), (_n, value) in zip(mine, reducer.reduce().items(),
                                                         strict=True):
            out[f"{i:02d} s{who} {name}"] = value
        used |= reducer.used
    return dict(sorted(out.items())), used


def fake_config(user: str, password: str) -> ServerConfig:
    # as the Dovecot fixture: the special-use folders are ``auto = subscribe``, INBOX is not
    folders = (FolderConfig("INBOX", subscribed=False),
               *(FolderConfig(name, special_use=(use,)) for name, use in FOLDERS))
    return ServerConfig(accounts=(AccountConfig(user, password, folders),),
                        capabilities=Capabilities(esearch=True, sort=True, thread=True),
                        )  # as the dovecot profile


async def run_on_fake(user: str, password: str, steps: Sequence[Step],
                      config: ServerConfig | None = None) -> list[list[Response]]:
    return (await run_on_fake_delimited(user, password, steps, config))[1]


async def run_on_fake_delimited(user: str, password: str, steps: Sequence[Step],
                                config: ServerConfig | None = None,
                                ) -> tuple[str, list[list[Response]]]:
    fake = FakeImapServer(config or fake_config(user, password), tls_port=None)
    await fake.start()
    try:
        return await asyncio.to_thread(run_delimited, fake.host, fake.port, user, password,
                                       steps)
    finally:
        await fake.stop()


_users = iter(range(1, 1 << 30))


async def both(dovecot: DovecotHandle, steps: Sequence[Step], *,
               strict: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``steps`` on a fresh Dovecot user and a fresh fake server; assert the
    reductions are equal (tolerances in ``strict`` switched off); return (dovecot, fake)."""
    tolerated = {k: v for k, v in TOLERATED.items() if k not in strict}
    user, password = f"sessions{next(_users)}-{datetime.now(UTC):%H%M%S%f}@example.com", "pw-s"
    dovecot.add_user(user, password)
    dove_delim, dove_raw = await asyncio.to_thread(run_delimited, dovecot.host, dovecot.port,
                                                   user, password, steps)
    fake_delim, fake_raw = await run_on_fake_delimited(user, password, steps)
    dove, _ = reduce_all(steps, dove_raw, tolerated, dove_delim)
    fake, _ = reduce_all(steps, fake_raw, tolerated, fake_delim)
    found = differences(dove, fake)
    assert not found, "\n".join(found)
    return dove, fake
