"""SEARCH's planned evaluation gives exactly the messages a naive reading says it should.

The fake server plans a SEARCH (flat OR chains, OR-ed HEADER keys read once per message,
cheap keys first); these tests hold it to an oracle that shares nothing with that code:
messages parsed with the stdlib ``email`` package, keys evaluated by a plain recursive
function over a tree built here. Speed itself is measured in bench/fake_search.py.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import random
import re
import socket
from dataclasses import dataclass
from typing import Any

import pytest

from inboxlab.engine.imap.commands import build
from inboxlab.engine.replies import reply_criteria
from inboxlab.fakeserver import generate

COUNT = 3000
DEADLINE = 30.0  # seconds: an upper bound for one reply on loopback, never a timing


Lab = Any  # tests/fakeserver/conftest.py's Lab (a fixture hands it over; no import by name)


@pytest.fixture
def big(make_lab) -> Lab:  # type: ignore[no-untyped-def]
    return make_lab(count=COUNT)


def _spec(lab: Lab) -> generate.GenSpec:
    spec = lab.config.accounts[0].folders[0].generated
    assert spec is not None
    return spec


def _headers(raw: bytes) -> dict[str, list[str]]:
    """Field values by lowercase name, decoded and unfolded by the stdlib."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    out: dict[str, list[str]] = {}
    for name, value in msg.items():
        out.setdefault(name.lower(), []).append(str(value))
    return out


def _thread_fields(raw: bytes) -> tuple[str, str, str]:
    """Message-ID, In-Reply-To and References (unfolded); no encoded words in these, so
    the fast compat32 header parser is exact."""
    msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    return tuple(re.sub(r"\r?\n", "", msg.get(name, ""))  # type: ignore[return-value]
                 for name in ("Message-ID", "In-Reply-To", "References"))


def _uids(reply: bytes, tag: bytes) -> list[int]:
    lines = reply.split(b"\r\n")
    assert any(line.startswith(tag + b" OK") for line in lines), reply[-300:]
    found = [line for line in lines if line.startswith(b"* SEARCH")]
    assert len(found) == 1, reply[-300:]
    return [int(n) for n in found[0].split()[2:]]


def _wire(*criteria: object) -> bytes:
    command = build("R", "UID SEARCH", *criteria, literal_plus=True)  # type: ignore[arg-type]
    return b"".join(command.chunks)


def test_reply_search_or_tree_returns_exactly_the_replies(big: Lab) -> None:
    """The engine's own 100-ID balanced OR tree, against In-Reply-To/References parsed
    by the stdlib from every generated message."""
    spec = _spec(big)
    parsed = {i + 1: _thread_fields(generate.message(spec, i)) for i in range(COUNT)}
    ids = [parsed[uid][0] for uid in range(1, COUNT + 1, 29)][:98]
    ids += ["<absent.1@example.com>", "<absent.2@example.org>"]
    wanted = [mid.lower() for mid in ids]
    expected = [uid for uid, (_, irt, refs) in parsed.items()
                if any(mid in irt.lower() or mid in refs.lower() for mid in wanted)]
    assert 0 < len(expected) < COUNT // 2  # a test that can fail either way
    d = big.driver(select="INBOX")
    got = _uids(d.feed(_wire(*reply_criteria(ids))), b"R")
    assert got == expected


def test_flat_or_chains_of_200_keys_equal_the_balanced_tree(big: Lab) -> None:
    spec = _spec(big)
    ids = [_thread_fields(generate.message(spec, i))[0] for i in range(0, 2000, 20)]
    keys = [f"HEADER {field} {mid}" for mid in ids for field in ("In-Reply-To", "References")]
    d = big.driver(select="INBOX")
    balanced = _uids(d.feed(_wire(*reply_criteria(ids))), b"R")
    right = "OR " + " OR ".join(keys[:-1]) + " " + keys[-1]  # OR k1 OR k2 ... OR k199 k200
    left = "OR " * (len(keys) - 1) + " ".join(keys)  # OR OR ... k1 k2 ... k200
    assert balanced
    assert _uids(d.send("a UID SEARCH " + right), b"a") == balanced
    assert _uids(d.send("b UID SEARCH " + left), b"b") == balanced


def test_deep_nesting_is_accepted_up_to_the_bound(make_lab) -> None:  # type: ignore[no-untyped-def]
    d = make_lab(count=5).driver(select="INBOX")
    assert _uids(d.send("a SEARCH " + "NOT " * 1000 + "ALL"), b"a") == [1, 2, 3, 4, 5]
    assert _uids(d.send("b SEARCH " + "(" * 999 + "SEEN" + ")" * 999), b"b") == _uids(
        d.send("c SEARCH SEEN"), b"c")
    out = d.send("d SEARCH " + "NOT " * 1001 + "ALL")
    assert out.startswith(b"d BAD") and b"nested too deeply" in out


# -- random key trees against a recursive oracle -------------------------------------------


@dataclass
class Msg:
    seq: int
    uid: int
    flags: frozenset[str]
    size: int
    headers: dict[str, list[str]]


_FIELDS = ("From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References", "X-None")
_NEEDLES = ("re", "pricing", "ben", "søren", "", "example.com", "zzz", "@", "1", "a3", "Re:")
_FLAGS = {"SEEN": "\\Seen", "FLAGGED": "\\Flagged", "ANSWERED": "\\Answered"}


def _random_key(rng: random.Random, depth: int, ids: list[str]) -> tuple[str, object]:
    """(wire text, oracle tree) of a random key."""
    pick = rng.randrange(10 if depth < 4 else 6)
    if pick == 0:
        name = rng.choice(list(_FLAGS))
        return (name, ("flag", _FLAGS[name], True)) if rng.random() < 0.5 else (
            "UN" + name, ("flag", _FLAGS[name], False))
    if pick == 1:
        lo = rng.randrange(1, 64)
        hi = lo + rng.randrange(0, 40)
        return f"UID {lo}:{hi}", ("uid", lo, hi)
    if pick == 2:
        n = rng.randrange(1500, 5000)
        return f"LARGER {n}", ("larger", n)
    if pick in (3, 4, 5):
        field = rng.choice(_FIELDS)
        needle = rng.choice(ids) if rng.random() < 0.3 else rng.choice(_NEEDLES)
        return (f'HEADER {field} "{needle}"' if needle.isascii() else
                f"HEADER {field} {{{len(needle.encode())}+}}\r\n{needle}",
                ("header", field.lower(), needle.lower()))
    if pick in (6, 7):
        a, b = _random_key(rng, depth + 1, ids), _random_key(rng, depth + 1, ids)
        return f"OR {a[0]} {b[0]}", ("or", a[1], b[1])
    if pick == 8:
        a = _random_key(rng, depth + 1, ids)
        return f"NOT {a[0]}", ("not", a[1])
    parts = [_random_key(rng, depth + 1, ids) for _ in range(rng.randrange(1, 4))]
    return "(" + " ".join(p[0] for p in parts) + ")", ("and", *[p[1] for p in parts])


def _oracle(tree: object, m: Msg) -> bool:
    assert isinstance(tree, tuple)
    kind = tree[0]
    if kind == "flag":
        return (tree[1] in m.flags) is tree[2]
    if kind == "uid":
        return tree[1] <= m.uid <= tree[2]
    if kind == "larger":
        return m.size > tree[1]
    if kind == "header":
        return any(tree[2] in v.lower() for v in m.headers.get(tree[1], ()))
    if kind == "or":
        return _oracle(tree[1], m) or _oracle(tree[2], m)
    if kind == "not":
        return not _oracle(tree[1], m)
    return all(_oracle(t, m) for t in tree[1:])


_APPENDED = (
    b"Date: Wed, 14 Feb 2024 10:00:00 +0000\r\nFrom: =?utf-8?q?S=C3=B8ren?= <s@example.com>\r\n"
    b"Subject: Re: pricing\r\n =?utf-8?q?s=C3=B8ren?=\r\nMessage-ID: <app.a3@example.com>\r\n"
    b"References: <ben.1@example.com>\r\n <a31@example.org>\r\n\r\nBody 1\r\n",
    b"From: Ben <ben@example.com>\r\nTo: user@example.com\r\nX-None: \r\n"
    b"subject: RE: zzz\r\n\r\nBody 2\r\n",
)


def test_random_key_trees_match_a_recursive_oracle(make_lab) -> None:  # type: ignore[no-untyped-def]
    lab = make_lab(count=60)
    d = lab.driver(select="INBOX")
    folder = lab.store.accounts["user@example.com"].folder("INBOX")
    d.send("s1 UID STORE 3:40:2 +FLAGS (\\Flagged)")  # overrides on top of default flags
    d.send("s2 UID STORE 5,7,50:55 -FLAGS (\\Seen)")
    for k, raw in enumerate(_APPENDED):  # real bytes: the store's other header path
        out = d.send(b"p%d APPEND INBOX (\\Seen) {%d+}\r\n%b" % (k, len(raw), raw))
        assert b"OK" in out.split(b"\r\n")[-2], out
    d.send("n NOOP")
    msgs = [Msg(seq, uid, folder.flags(uid), len(folder.raw(uid)), _headers(folder.raw(uid)))
            for seq, uid in enumerate(folder.uids(), 1)]
    ids = [re.sub(r"[<>]", "", m.headers["message-id"][0])[:6] for m in msgs[::7]]
    rng = random.Random(20261127)
    for n in range(300):
        text, tree = _random_key(rng, 0, ids)
        expected = [m.uid for m in msgs if _oracle(tree, m)]
        got = _uids(d.send(f"t{n} UID SEARCH CHARSET UTF-8 {text}"), f"t{n}".encode())
        assert got == expected, text


# -- parity with a real Dovecot ------------------------------------------------------------


def _dovecot_search(host: str, port: int, user: str, password: str,
                    commands: list[bytes]) -> list[list[int]]:
    """Each ``UID SEARCH ...`` (tag included) against Dovecot's INBOX, as UID lists."""
    out = []
    with socket.create_connection((host, port), timeout=DEADLINE) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(b'a LOGIN "%s" "%s"\r\ne EXAMINE INBOX\r\n' % (user.encode(),
                                                                    password.encode()))
        for tag in (b"a", b"e"):
            while not reader.readline().startswith(tag + b" "):
                pass
        for command in commands:
            tag = command.split(b" ", 1)[0]
            sock.sendall(command)
            reply = b""
            while not reply.split(b"\r\n")[-2:-1] or not reply.split(b"\r\n")[-2].startswith(
                    tag + b" "):
                reply += reader.readline()
            out.append(_uids(reply, tag))
    return out


@pytest.mark.dovecot
@pytest.mark.interop
def test_flat_and_balanced_reply_searches_match_dovecot(dovecot, make_lab) -> None:  # type: ignore[no-untyped-def]
    lab = make_lab(count=400)
    spec = _spec(lab)
    user, password = "searchparity@example.com", "search-parity-pw"
    dovecot.add_user(user, password)
    dovecot.load_messages(user, "INBOX", (
        (generate.message(spec, i), " ".join(sorted(generate.default_flags(spec, i))),
         generate.internaldate(spec, i)) for i in range(spec.count)))
    ids = [_thread_fields(generate.message(spec, i))[0] for i in range(0, 400, 4)]
    keys = [f"HEADER {field} {mid}" for mid in ids for field in ("In-Reply-To", "References")]
    flat = b"F UID SEARCH OR " + " OR ".join(keys[:-1]).encode() + b" " + keys[-1].encode()
    commands = [flat + b"\r\n", _wire(*reply_criteria(ids)),
                b"N UID SEARCH NOT " + flat[len(b"F UID SEARCH "):] + b" UNSEEN\r\n"]
    theirs = _dovecot_search(dovecot.host, dovecot.port, user, password, commands)
    d = lab.driver(select="INBOX")
    ours = [_uids(d.feed(c), c.split(b" ", 1)[0]) for c in commands]
    assert theirs[0] and theirs[0] == theirs[1]
    assert ours == theirs


def test_header_values_is_headers_cut_to_the_asked_fields(make_lab) -> None:  # type: ignore[no-untyped-def]
    lab = make_lab(count=200)
    folder = lab.store.accounts["user@example.com"].folder("INBOX")
    folder.append(_APPENDED[0])
    asked = frozenset({"references", "in-reply-to", "cc", "subject", "x-none"})
    for uid in folder.uids():
        whole = folder.headers(uid)
        expected = {name: list(values) for name, values in whole.items() if name in asked}
        assert folder.header_values(uid, asked) == expected
