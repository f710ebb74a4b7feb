"""Multi-session model check: N clients on one mailbox, each view checked against the RFCs.

N connections of one user share INBOX (and Archive). One driver thread takes turns: on
its turn a client runs one seeded random command (APPEND, UID STORE, UID COPY, UID MOVE,
STORE \\Deleted + EXPUNGE, UID/plain SEARCH, UID/plain FETCH, NOOP, or IDLE: entered on
one turn, left with DONE on the next, reading whatever was pushed meanwhile). Because the
commands of different clients never overlap, the :class:`Model` (what the mailbox holds
after every command, with each UID's flags) is exact at every moment, and every response
a client reads is checked against what RFC 3501 (and 2180, 7162) let *that session* see:

- its sequence numbers move only by EXISTS (never down) and EXPUNGE (never during a
  non-UID FETCH/STORE/SEARCH, never past its count), and every EXPUNGEd UID is really gone;
- a FETCH names a number the session has, the UID its map holds, the model's flags (a
  message expunged elsewhere and not yet reported may still be answered: RFC 2180 4.1),
  and no keyword the session was not given in a FLAGS response first (RFC 3501 7.2.6);
- a sequence number past its count is BAD (RFC 3501 9, seq-number), not clamped;
- a flag SEARCH returns every present match the session knows and nothing else but
  expunged-not-yet-told messages; COPY/MOVE fail only as NO [EXPUNGEISSUED] on such;
- at the end every session, after NOOP, sees exactly the model's UIDs and flags.

The same seed gives the same choices on any server (choices read only the model), so one
run judges Dovecot and the fake server alike. Shares no code with engine/ or fakeserver/.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from diff_wire import Response, Wire, parse

FLAGS = ("\\Seen", "\\Flagged", "\\Answered", "$Work", "$Home")
OPS = ("append", "store", "copy", "move", "expunge", "uid search", "search", "uid fetch",
       "fetch", "noop", "idle", "past end")
WEIGHTS = (6, 8, 3, 3, 3, 4, 3, 4, 3, 2, 2, 1)
NO_EXPUNGE = ("FETCH", "STORE", "SEARCH")  # RFC 3501 7.4.1, the non-UID forms


class Violation(AssertionError):
    """A response no RFC-conforming server could have sent to this session."""


@dataclass
class Model:
    """The mailbox after every completed command: UID -> flags, and the dead's last flags."""

    inbox: dict[int, frozenset[str]] = field(default_factory=dict)
    dead: dict[int, frozenset[str]] = field(default_factory=dict)
    archive: int = 0  # messages copied or moved into Archive
    changed_at: dict[int, int] = field(default_factory=dict)  # UID -> turn of its last change
    turn: int = 0


@dataclass
class Session:
    """One client's view: ``seqs[n-1]`` is the UID at sequence number n (0: not learnt)."""

    index: int
    wire: Wire
    seqs: list[int] = field(default_factory=list)
    idling: str | None = None  # the IDLE tag while idling
    # the turn of its last NOOP/FETCH: a server may search the view it last synced
    # (Dovecot does, then reports the changes) or the mailbox as it is now, so SEARCH must
    # find only the matches whose flags did not change since
    synced_at: int = 0
    flags: frozenset[str] = frozenset()  # the last FLAGS response: keywords it may see
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Report:
    commands: int = 0
    responses: int = 0
    by_op: dict[str, int] = field(default_factory=dict)
    expungeissued: int = 0
    violations: list[str] = field(default_factory=list)


def _message(n: int) -> bytes:
    return (b"From: Client <c@example.com>\r\nTo: user@example.com\r\nSubject: model %d\r\n"
            b"Message-ID: <model-%d@example.com>\r\n\r\nbody %d\r\n" % (n, n, n))


def _flags(value: object) -> frozenset[str]:
    assert isinstance(value, list)
    return frozenset(str(f) for f in value if str(f) != "\\Recent")


class ModelCheck:
    """Drive ``clients`` sessions for ``steps`` turns (or until ``deadline``)."""

    def __init__(self, connect: Callable[[], Wire], login: bytes, *, clients: int,
                 seed: int) -> None:
        self.rng = random.Random(seed)
        self.model = Model()
        self.report = Report()
        self.sessions = []
        self._appended = 0
        self._expunged: list[tuple[Session, int]] = []
        for i in range(clients):
            wire = connect()
            self._ok(wire.command(login), "LOGIN")
            self.sessions.append(Session(i, wire))
        for s in self.sessions:
            self._run(s, b"SELECT INBOX", "select")

    # -- driving --------------------------------------------------------------------------

    def run(self, *, steps: int | None = None, seconds: float | None = None) -> Report:
        end = time.monotonic() + seconds if seconds else None
        done = 0
        while (steps is None or done < steps) and (end is None or time.monotonic() < end):
            self.turn(self.sessions[done % len(self.sessions)])
            done += 1
        self.finish()
        return self.report

    def turn(self, s: Session) -> None:
        self.model.turn += 1
        if s.idling is not None:
            self._leave_idle(s)  # not a sync point: Dovecot's IDLE learns of changes late
            return
        op = self.rng.choices(OPS, WEIGHTS)[0]
        self.report.by_op[op] = self.report.by_op.get(op, 0) + 1
        getattr(self, "op_" + op.replace(" ", "_"))(s)
        self._judge_expunges()
        if op in ("noop", "fetch", "uid fetch"):
            s.synced_at = self.model.turn

    def _judge_expunges(self) -> None:
        """Every UID a session was told is expunged is gone once the command is done."""
        for s, uid in self._expunged:
            if uid in self.model.inbox:
                self._fail(s, f"EXPUNGE of UID {uid}, which is still there")
        self._expunged.clear()

    def finish(self) -> None:
        for s in self.sessions:
            if s.idling is not None:
                self._leave_idle(s)
        self._judge_expunges()
        for s in self.sessions:
            self._run(s, b"NOOP", "noop")
            self._run(s, b"UID FETCH 1:* (FLAGS)", "uid fetch")
            want = sorted(self.model.inbox)
            if s.seqs != want:
                self._fail(s, f"final view {s.seqs} is not the mailbox {want}")
        for s in self.sessions:
            s.wire.close()

    # -- operations (choices read only the model and the rng) -----------------------------

    def _some_uids(self, s: Session) -> list[int]:
        """1-3 UIDs this client knows (a real one names no others): some may have been
        expunged by another session without it being told yet (EXPUNGEISSUED)."""
        pool = sorted({u for u in s.seqs if u})
        if not pool:
            return []
        return sorted(set(self.rng.sample(pool, min(len(pool), self.rng.randint(1, 3)))))

    def op_append(self, s: Session) -> None:
        self._appended += 1
        flags = " ".join(self.rng.sample(FLAGS, self.rng.randint(0, 2)))
        raw = _message(self._appended)
        got = self._run(s, b"APPEND INBOX (%s) {%d+}\r\n%s" % (flags.encode(), len(raw), raw),
                        "append")
        code = got[-1].code
        if not code or code[0] != "APPENDUID":
            self._fail(s, f"APPEND without APPENDUID: {got[-1].raw!r}")
            return
        uid = int(code[2])  # type: ignore[arg-type]
        if self.model.inbox and uid <= max(self.model.inbox | self.model.dead):
            self._fail(s, f"APPENDUID {uid} does not grow")
        self.model.inbox[uid] = frozenset(flags.split())
        self.model.changed_at[uid] = self.model.turn

    def op_store(self, s: Session) -> None:
        uids = self._some_uids(s)
        if not uids:
            return
        mode = self.rng.choice("+-")
        flag = self.rng.choice(FLAGS)
        got = self._run(s, b"UID STORE %s %sFLAGS (%s)" % (_set(uids), mode.encode(),
                                                            flag.encode()), "uid store")
        for uid in uids:
            if uid in self.model.inbox:
                old = self.model.inbox[uid]
                self.model.inbox[uid] = old | {flag} if mode == "+" else old - {flag}
                self.model.changed_at[uid] = self.model.turn
        self._check_fetches(s, got)  # after the model moved: replies carry the new flags

    def _copy(self, s: Session, verb: bytes) -> None:
        uids = self._some_uids(s)
        if not uids:
            return
        known = set(s.seqs)  # UIDs it learnt; a 0 is one it was told exists, not which
        got = self._run(s, b"UID %s %s Archive" % (verb, _set(uids)), verb.decode().lower())
        done = got[-1]
        asked_dead = [u for u in uids if u in self.model.dead]
        if done.status == "NO":
            if done.code != ("EXPUNGEISSUED",) or not asked_dead:
                self._fail(s, f"{verb.decode()} refused without an untold expunge: {done.raw!r}")
            self.report.expungeissued += 1
            return
        self._ok(got, verb.decode())
        present = {u for u in uids if u in self.model.inbox}
        code = next((r.code for r in got if r.code and r.code[0] == "COPYUID"), None)
        copied = _uids(code[2]) if code else []
        # what it knows must go; one not announced to it yet may (the server's choice)
        if not present & known <= set(copied) <= present:
            self._fail(s, f"{verb.decode()} {uids}: COPYUID names {copied}, present "
                          f"{sorted(present)}, known {sorted(present & known)}")
        self.model.archive += len(copied)
        if verb == b"MOVE":
            for uid in copied:
                self.model.dead[uid] = self.model.inbox.pop(uid)

    def op_copy(self, s: Session) -> None:
        self._copy(s, b"COPY")

    def op_move(self, s: Session) -> None:
        self._copy(s, b"MOVE")

    def op_expunge(self, s: Session) -> None:
        live = sorted(u for u in set(s.seqs) if u in self.model.inbox)
        if not live:
            return
        uid = self.rng.choice(live)
        self._run(s, b"UID STORE %d +FLAGS.SILENT (\\Deleted)" % uid, "uid store")
        self.model.inbox[uid] |= {"\\Deleted"}
        self._run(s, b"EXPUNGE", "expunge")
        for gone in [u for u, f in self.model.inbox.items() if "\\Deleted" in f]:
            self.model.dead[gone] = self.model.inbox.pop(gone)

    def _search(self, s: Session, uid: bool) -> None:
        flag = self.rng.choice(FLAGS)
        key = ("KEYWORD " + flag) if flag.startswith("$") else flag[1:].upper()
        before = list(s.seqs)
        got = self._run(s, (b"UID SEARCH " if uid else b"SEARCH ") + key.encode(),
                        "uid search" if uid else "search")
        found = next((r.values[1:] for r in got if r.values and r.values[0] == "SEARCH"), None)
        if found is None:
            self._fail(s, f"no SEARCH response: {got[-1].raw!r}")
            return
        if not uid:  # numbers of this session's view as it was (no EXPUNGE during SEARCH)
            if any(not 1 <= int(n) <= len(s.seqs) for n in found):  # type: ignore[arg-type]
                self._fail(s, f"SEARCH {found} past this session's {len(s.seqs)} messages")
                return
            found = [s.seqs[int(n) - 1] for n in found]  # type: ignore[arg-type]
        now, changed = self.model.inbox, self.model.changed_at
        # what it may name: its view before or after (a server may search either)
        may = {u for u in before + s.seqs if u}
        if 0 in before or 0 in s.seqs:  # told they exist, not which: any of them
            may |= set(now) | set(self.model.dead)
        must = {u for u in s.seqs if u in now and flag in now[u]
                and changed.get(u, 0) < s.synced_at}
        got_set = {int(u) for u in found if u}  # type: ignore[arg-type]
        if not must <= got_set or not got_set <= may:
            self._fail(s, f"{'UID ' if uid else ''}SEARCH {key}: {sorted(got_set)}, must "
                          f"{sorted(must)}, may {sorted(may)} (view {s.seqs})")

    def op_uid_search(self, s: Session) -> None:
        self._search(s, True)

    def op_search(self, s: Session) -> None:
        self._search(s, False)

    def op_uid_fetch(self, s: Session) -> None:
        got = self._run(s, b"UID FETCH 1:* (FLAGS)", "uid fetch")
        self._check_fetches(s, got)

    def op_fetch(self, s: Session) -> None:
        if not s.seqs:
            return
        got = self._run(s, b"FETCH 1:%d (UID FLAGS)" % len(s.seqs), "fetch")
        self._check_fetches(s, got)

    def op_past_end(self, s: Session) -> None:
        got = self._run(s, b"FETCH %d (FLAGS)" % (len(s.seqs) + 1), "fetch")
        if got[-1].status != "BAD":
            self._fail(s, f"FETCH past its {len(s.seqs)} messages: {got[-1].raw!r}")

    def op_noop(self, s: Session) -> None:
        self._run(s, b"NOOP", "noop")

    def op_idle(self, s: Session) -> None:
        tag = f"I{self.report.commands}"
        s.wire.sock.sendall(tag.encode() + b" IDLE\r\n")
        self.report.commands += 1
        while True:
            resp = parse(s.wire._response())
            if resp.kind == "continuation":
                break
            self._untagged(s, resp, "idle")
        s.idling = tag

    def _leave_idle(self, s: Session) -> None:
        tag, s.idling = s.idling, None
        s.wire.sock.sendall(b"DONE\r\n")
        while True:
            resp = parse(s.wire._response())
            self.report.responses += 1
            if resp.kind == "tagged" and resp.tag == tag:
                break
            self._untagged(s, resp, "idle")
        if resp.status != "OK":
            self._fail(s, f"IDLE ended {resp.raw!r}")

    # -- reading and judging -------------------------------------------------------------

    def _run(self, s: Session, line: bytes, name: str) -> list[Response]:
        got = s.wire.command(line)
        self.report.commands += 1
        self.report.responses += len(got)
        for resp in got[:-1]:
            self._untagged(s, resp, name)
        if name in ("select",):
            self._ok(got, name)
        if got[-1].code == ("EXPUNGEISSUED",):
            self.report.expungeissued += 1
        return got

    def _untagged(self, s: Session, resp: Response, name: str) -> None:
        values = resp.values
        if values and str(values[0]).upper() == "FLAGS":
            s.flags = _flags(values[1])
        if not values or not isinstance(values[0], int):
            return
        num, word = values[0], str(values[1]).upper()
        if word == "EXISTS":
            if num < len(s.seqs):
                self._fail(s, f"EXISTS {num} below its {len(s.seqs)} without EXPUNGE")
            s.seqs.extend([0] * (num - len(s.seqs)))
        elif word == "EXPUNGE":
            if name.upper() in NO_EXPUNGE:
                self._fail(s, f"EXPUNGE during {name} (RFC 3501 7.4.1)")
            if not 1 <= num <= len(s.seqs):
                self._fail(s, f"EXPUNGE {num} past its {len(s.seqs)} messages")
                return
            uid = s.seqs.pop(num - 1)
            if uid:
                self._expunged.append((s, uid))
        elif word == "FETCH":
            if not 1 <= num <= len(s.seqs):
                self._fail(s, f"FETCH {num} past its {len(s.seqs)} messages")
                return
            items = values[2]
            assert isinstance(items, list)
            pairs = dict(zip(map(str, items[::2]), items[1::2], strict=False))
            unknown = {f for f in _flags(pairs.get("FLAGS", [])) if not f.startswith("\\")}
            if unknown - s.flags:
                self._fail(s, f"FETCH {num} shows {sorted(unknown - s.flags)} before FLAGS did")
                s.flags |= unknown  # once per keyword
            said = pairs.get("UID")
            if isinstance(said, int):
                if s.seqs[num - 1] and s.seqs[num - 1] != said:
                    self._fail(s, f"FETCH {num} says UID {said}, its map {s.seqs[num - 1]}")
                s.seqs[num - 1] = said

    def _check_fetches(self, s: Session, got: list[Response]) -> None:
        """FLAGS in this command's FETCH responses are the model's (the dead's last ones)."""
        for resp in got[:-1]:
            values = resp.values
            if len(values) < 3 or str(values[1]).upper() != "FETCH":
                continue
            items = values[2]
            assert isinstance(items, list)
            pairs = dict(zip(map(str, items[::2]), items[1::2], strict=False))
            uid = pairs.get("UID")  # the map may have moved since (EXPUNGEs after a UID FETCH)
            if "FLAGS" not in pairs or not isinstance(uid, int):
                continue
            flags = _flags(pairs["FLAGS"])
            want = self.model.inbox.get(uid, self.model.dead.get(uid))
            if want is not None and flags != want and uid in self.model.inbox:
                self._fail(s, f"UID {uid} FLAGS {sorted(flags)}, the mailbox {sorted(want)}")

    def _ok(self, got: list[Response], what: str) -> None:
        if got[-1].status != "OK":
            raise Violation(f"{what} failed: {got[-1].raw!r}")

    def _fail(self, s: Session, text: str) -> None:
        self.report.violations.append(f"session {s.index}: {text}")


def _set(uids: list[int]) -> bytes:
    return ",".join(map(str, uids)).encode()


def _uids(text: object) -> list[int]:
    out: list[int] = []
    for piece in str(text).split(","):
        lo, _, hi = piece.partition(":")
        a, b = int(lo), int(hi or lo)
        out.extend(range(min(a, b), max(a, b) + 1))
    return sorted(out)
