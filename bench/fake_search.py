"""How fast the fake IMAP server answers the connector's SEARCHes on big generated folders.

    python -m bench.fake_search                        # 10,000 and 100,000 messages
    python -m bench.fake_search --counts 10000 --rounds 3 --dovecot --json

Legs, per folder size (each the best wall time of ``--rounds``; the session is driven
without sockets, as tests/fakeserver drives it, so only the server's own work is timed):

- reply_search:  the engine's reply search, ``UID SEARCH OR (OR (HEADER In-Reply-To a)
                 (HEADER References a)) (...)`` over 100 Message-IDs (a balanced OR tree
                 of 200 keys, rendered by ``engine.replies.reply_criteria``). The IDs are
                 those of every (count/100)-th message, so the search has hits.
- header_drain:  ``UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO
                 REFERENCES)])`` of the same folder: the read the search replaces.
- sent_check:    the CRM's Sent-copy idempotency check on a folder shaped like
                 ``exchange-100k-sent`` (thread_ratio 0.5): ``UID SEARCH UID n:* HEADER
                 Message-ID <id>`` for the last 10 UIDs.
- msgid_full:    ``UID SEARCH HEADER Message-ID <id>`` over the whole folder (what a
                 client without the UID bound would cost).
- dovecot:       with ``--dovecot``, reply_search against a real Dovecot 2.3 holding the
                 same messages (bench/dovecot.py), over loopback, the folder indexed first.
"""

from __future__ import annotations

import argparse
import json
import socket
import time
from collections.abc import Callable

from bench import BENCH_PASSWORD, BENCH_USER
from inboxlab.engine.imap.commands import build
from inboxlab.engine.replies import reply_criteria
from inboxlab.fakeserver.config import AccountConfig, FolderConfig, ServerConfig
from inboxlab.fakeserver.generate import GenSpec, generator
from inboxlab.fakeserver.imap.command_specs import COMMANDS
from inboxlab.fakeserver.imap.hooks import ConnectionInfo
from inboxlab.fakeserver.imap.server import build_store
from inboxlab.fakeserver.imap.session import ImapSession, SessionRegistry


def specs(count: int) -> tuple[GenSpec, GenSpec]:
    """(INBOX, Sent Items) specs; Sent Items as exchange-100k-sent has it."""
    return (GenSpec(count=count, seed=1, owner=BENCH_USER),
            GenSpec(count=count, seed=4, owner=BENCH_USER, seen_ratio=1.0, thread_ratio=0.5))


_MID = frozenset({"message-id"})


def message_id(spec: GenSpec, index: int) -> str:
    return generator(spec).header_values(index, _MID)[0][1]


def reply_ids(spec: GenSpec, n: int = 100) -> list[str]:
    step = max(1, spec.count // n)
    return [message_id(spec, i) for i in range(0, spec.count, step)][:n]


def reply_command(tag: str, ids: list[str]) -> bytes:
    return b"".join(build(tag, "UID SEARCH", *reply_criteria(ids), literal_plus=True).chunks)


class Session:
    """One sans-I/O fake session, logged in, with ``folder`` EXAMINEd."""

    def __init__(self, inbox: GenSpec, sent: GenSpec) -> None:
        folders = (FolderConfig("INBOX", generated=inbox),
                   FolderConfig("Sent Items", generated=sent))
        config = ServerConfig(accounts=(AccountConfig(BENCH_USER, BENCH_PASSWORD, folders),))
        self.session = ImapSession(config, build_store(config), conn=ConnectionInfo(1, "bench",
                                   False), commands=COMMANDS, hooks=None,
                                   registry=SessionRegistry())
        self.session.greeting()
        self.n = 0
        self.send(b'LOGIN "%s" "%s"' % (BENCH_USER.encode(), BENCH_PASSWORD.encode()))

    def send(self, command: bytes) -> bytes:
        self.n += 1
        tag = b"b%d" % self.n
        out = b"".join(x for x in self.session.receive_data(tag + b" " + command + b"\r\n")
                       if isinstance(x, bytes))
        if not out.split(b"\r\n")[-2].startswith(tag + b" OK"):
            raise RuntimeError(f"{command[:60]!r} failed: {out[-200:]!r}")
        return out


def _best(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def fake_legs(count: int, rounds: int) -> dict[str, float]:
    inbox, sent = specs(count)
    s = Session(inbox, sent)
    out: dict[str, float] = {}
    search = reply_command("x", reply_ids(inbox))[len(b"x "):-2]
    s.send(b"EXAMINE INBOX")
    hits = s.send(search).split(b"\r\n")[0].count(b" ") - 1
    out["reply_search_hits"] = hits
    out["reply_search_s"] = _best(lambda: s.send(search), rounds)
    drain = b"UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES)])"
    out["header_drain_s"] = _best(lambda: s.send(drain), rounds)
    s.send(b'EXAMINE "Sent Items"')
    last = message_id(sent, count - 1)
    check = b"UID SEARCH UID %d:* HEADER Message-ID %s" % (count - 9, last.encode())
    out["sent_check_s"] = _best(lambda: s.send(check), rounds)
    full = b"UID SEARCH HEADER Message-ID %s" % last.encode()
    out["msgid_full_s"] = _best(lambda: s.send(full), rounds)
    return out


def _tagged(sock: socket.socket, tag: bytes) -> bytes:
    data = b""
    while not (b"\r\n" + tag + b" " in b"\r\n" + data and data.endswith(b"\r\n")):
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise RuntimeError("Dovecot closed the connection")
        data += chunk
    return data


def dovecot_legs(count: int, rounds: int) -> dict[str, float]:
    from bench.dovecot import load_generated, start_dovecot

    inbox, _ = specs(count)
    with start_dovecot(users=((BENCH_USER, BENCH_PASSWORD),)) as handle:
        load_generated(handle, BENCH_USER, "INBOX", inbox, index=True)
        with socket.create_connection((handle.host, handle.port)) as sock:
            sock.recv(4096)
            sock.sendall(b'a LOGIN "%s" "%s"\r\n' % (BENCH_USER.encode(),
                                                       BENCH_PASSWORD.encode()))
            _tagged(sock, b"a")
            sock.sendall(b"e EXAMINE INBOX\r\n")
            _tagged(sock, b"e")
            ids = reply_ids(inbox)
            n = 0

            def once() -> bytes:
                nonlocal n
                n += 1
                tag = f"d{n}"
                sock.sendall(reply_command(tag, ids))
                return _tagged(sock, tag.encode())

            first = once()
            hits = next(line for line in first.split(b"\r\n")
                        if line.startswith(b"* SEARCH")).count(b" ") - 1
            return {"dovecot_reply_search_s": _best(once, rounds),
                    "dovecot_reply_search_hits": hits}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fake_search", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="10000,100000", help="folder sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dovecot", action="store_true", help="also time Dovecot's answer")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results: dict[int, dict[str, float]] = {}
    for count in (int(c) for c in args.counts.split(",")):
        results[count] = fake_legs(count, args.rounds)
        if args.dovecot:
            results[count].update(dovecot_legs(count, args.rounds))
        if not args.json:
            print(f"{count:>7} messages: " + "  ".join(
                f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                for k, v in results[count].items()), flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
