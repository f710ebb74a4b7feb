"""Reducing one server's responses to what a client relies on (for test_differential).

A ``Reducer`` turns each script step's responses into plain dicts and lists: FETCH by UID,
SEARCH as sorted UIDs, EXPUNGE as the UIDs removed (the reducer tracks sequence numbers),
MODSEQ as its order against the mailbox's HIGHESTMODSEQ at SELECT. Every rewrite that
hides a difference between servers names its key in the caller's table of tolerated
differences, and fails when the key is not there, so the table is the whole list.

Step names carry meaning here: ``select...``/``examine...`` open a mailbox (new sequence
map, new MODSEQ base), ``list...`` steps are LIST (``list all...`` ones compare
the children attributes too), ``lsub...`` steps LSUB, and nothing else is special.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from diff_wire import Response, Value

# What the script relies on; both servers must advertise these (nothing else is compared).
NEEDED_CAPABILITIES = frozenset({
    "IMAP4REV1", "LITERAL+", "UIDPLUS", "MOVE", "CONDSTORE", "SPECIAL-USE", "LIST-EXTENDED",
    "CHILDREN", "NAMESPACE", "ENABLE", "IDLE", "UNSELECT",
})


class Reducer:
    """Reduces one server's step responses; keeps the state the reduction needs: the
    selected mailbox's sequence-number -> UID map (from FETCH UID and EXPUNGE) and the
    base MODSEQ values are compared to: the HIGHESTMODSEQ the last SELECT/EXAMINE
    reported (before the first one, that one's: STATUS INBOX runs just before it)."""

    def __init__(self, names: Sequence[str], steps: list[list[Response]], *,
                 tolerated: Mapping[str, str]) -> None:
        self.names, self.tolerated = list(names), tolerated
        self.used: set[str] = set()  # the tolerances this reduction applied
        self.bases: list[int] = []
        base = None
        for name, got in zip(self.names, steps, strict=True):
            if name.startswith(("select", "examine")):
                # without CONDSTORE on, a SELECT reports no HIGHESTMODSEQ: base stays
                base = next((int(r.code[1]) for r in got  # type: ignore[arg-type]
                             if r.code and r.code[0] == "HIGHESTMODSEQ"), base)
                if base is not None:
                    self.bases = [base if b < 0 else b for b in self.bases]
            self.bases.append(-1 if base is None else base)
        self.base = 0
        self.seqs: list[int] = []  # seqs[n-1] is the UID of sequence number n
        self.steps = steps

    def reduce(self) -> dict[str, Any]:
        out = {}
        for name, got, base in zip(self.names, self.steps, self.bases, strict=True):
            self.base = base
            out[name] = self.step(name, got)
        return out

    def tolerate(self, key: str) -> str:
        """Every rewrite names its entry in the test's table of tolerated differences."""
        assert key in self.tolerated, f"undeclared tolerance {key!r}"
        self.used.add(key)
        return key

    def lenient(self, key: str) -> bool:
        """Whether ``key`` is tolerated here (then it counts as used); a caller may
        leave a key out of its table to compare that detail strictly."""
        if key in self.tolerated:
            self.used.add(key)
            return True
        return False

    def modseq(self, value: int) -> str:
        self.tolerate("modseq-values")
        return "= base" if value == self.base else "> base" if value > self.base else "< base"

    def step(self, name: str, got: list[Response]) -> dict[str, Any]:
        tagged = got[-1]
        self.tolerate("text")
        out: dict[str, Any] = {"status": tagged.status, "code": self.code(tagged.code)}
        if name.startswith(("select", "examine")):
            self.seqs = []
        untagged: dict[str, Any] = {}
        for resp in got[:-1]:
            self.untagged(resp, untagged)
        if name.startswith("lsub"):
            self.tolerate("list-order")
            untagged["LSUB"] = sorted(untagged.get("LSUB", []))
        if name.startswith("list"):
            self.tolerate("list-order")
            found = sorted(untagged.get("LIST", []))
            if not name.startswith("list all"):
                self.tolerate("list-children")
                found = [(box, [a for a in attrs if "CHILDREN" not in a], rest)
                         for box, attrs, rest in found]
            untagged["LIST"] = found
        out["untagged"] = untagged
        return out

    def code(self, code: tuple[Value, ...] | None) -> Any:
        if not code:
            return None
        word = str(code[0]).upper()
        if word == "UIDVALIDITY":
            return (word, self.tolerate("uidvalidity"))
        if word == "HIGHESTMODSEQ":
            return (word, self.modseq(int(code[1])))  # type: ignore[arg-type]
        if word == "APPENDUID":
            return (word, self.tolerate("uidvalidity"), code[2])
        if word == "COPYUID":
            return (word, self.tolerate("uidvalidity"), uid_set(code[2]), uid_set(code[3]))
        if word in ("PERMANENTFLAGS",):
            self.tolerate("flags-order")
            return (word, sorted(str(f) for f in code[1]))  # type: ignore[union-attr]
        if word == "MODIFIED":
            return (word, uid_set(code[1]))
        if word == "CAPABILITY":
            self.tolerate("capability")
            return (word, sorted({str(c).upper() for c in code[1:]} & NEEDED_CAPABILITIES))
        if word == "CLIENTBUG":
            return self.tolerate("clientbug") and None
        return tuple(code)

    def untagged(self, resp: Response, into: dict[str, Any]) -> None:
        if resp.status is not None:  # an untagged OK/NO/BAD: its code is what counts
            code = self.code(resp.code)
            if code and code[0] == "CLOSED":
                self.tolerate("unsolicited")
                return
            into.setdefault(resp.status, []).append(code)
            return
        values = resp.values
        if values and isinstance(values[0], int):  # "* n EXISTS/RECENT/EXPUNGE/FETCH"
            num, word = values[0], str(values[1]).upper()
            if word == "RECENT":
                if not self.lenient("recent"):
                    into["RECENT"] = num
            elif word == "EXISTS":
                into["EXISTS"] = num
                self.seqs.extend([0] * (num - len(self.seqs)))
            elif word == "EXPUNGE":
                self.tolerate("expunge-order")
                into.setdefault("EXPUNGED UIDS", []).append(self.seqs.pop(num - 1))
                into["EXPUNGED UIDS"].sort()
            elif word == "FETCH":
                items = self.fetch(num, values[2])  # type: ignore[arg-type]
                into.setdefault("FETCH", {})[items.get("UID", f"seq {num}")] = items
            return
        word = str(values[0]).upper()
        if word == "CAPABILITY":
            self.tolerate("capability")
            into[word] = sorted({str(c).upper() for c in values[1:]} & NEEDED_CAPABILITIES)
        elif word in ("LIST", "LSUB"):
            attrs, _delim, name = values[1], values[2], values[3]
            self.tolerate("delimiter")
            flat = sorted(str(a).upper() for a in attrs)  # type: ignore[union-attr]
            into.setdefault(word, []).append((mailbox_name(name), flat, values[4:]))
        elif word == "STATUS":
            pairs = values[2]
            status: dict[str, Any] = {}
            for key, val in zip(pairs[::2], pairs[1::2], strict=True):  # type: ignore[index]
                key = str(key).upper()
                if key == "RECENT" and not self.lenient("recent"):
                    status[key] = val
                elif key == "RECENT":
                    pass
                elif key == "UIDVALIDITY":
                    status[key] = self.tolerate("uidvalidity")
                elif key == "HIGHESTMODSEQ":
                    status[key] = self.modseq(int(val))
                else:
                    status[key] = val
            into["STATUS " + mailbox_name(values[1])] = status
        elif word == "SEARCH":
            into["SEARCH"] = sorted(v for v in values[1:] if isinstance(v, int))
        elif word == "FLAGS":
            self.tolerate("flags-order")
            into["FLAGS"] = sorted(str(f) for f in values[1])  # type: ignore[union-attr]
        else:
            into.setdefault(word, []).append(values[1:])

    def fetch(self, seq: int, items: list[Value]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        i = 0
        while i < len(items):
            key = str(items[i]).upper()
            i += 1
            if i < len(items) and isinstance(items[i], tuple):  # BODY[section]
                key += "[" + section_text(items[i]) + "]"  # type: ignore[arg-type]
                i += 1
                nxt = items[i] if i < len(items) else None
                if isinstance(nxt, str) and nxt.startswith("<"):  # partial: BODY[]<origin>
                    key += nxt
                    i += 1
            val: Any = items[i]
            i += 1
            if key == "UID":
                if len(self.seqs) < seq:
                    self.seqs.extend([0] * (seq - len(self.seqs)))
                self.seqs[seq - 1] = int(val)
            elif key == "FLAGS":
                keep = not self.lenient("recent")
                val = sorted(str(f) for f in val if keep or str(f) != "\\Recent")
            elif key == "MODSEQ":
                val = self.modseq(int(val[0]))
            elif key == "INTERNALDATE":
                self.tolerate("internaldate-zone")
                val = datetime.strptime(val.decode(), "%d-%b-%Y %H:%M:%S %z").astimezone(UTC)
            out[key] = val
        return out


def mailbox_name(name: Value) -> str:
    """Atom or string on the wire (servers choose), the same name either way."""
    return name.decode() if isinstance(name, bytes) else str(name)


def section_text(section: tuple[Value, ...]) -> str:
    parts = []
    for part in section:
        if isinstance(part, list):
            parts.append("(" + " ".join(str(p).upper() for p in part) + ")")
        else:
            parts.append(str(part).upper())
    return " ".join(parts)


def uid_set(value: Value) -> list[int]:
    """'7:8,45' (or a bare number) as the UIDs it names, ascending."""
    out: list[int] = []
    for piece in str(value).split(","):
        lo, _, hi = piece.partition(":")
        a, b = int(lo), int(hi or lo)
        out.extend(range(min(a, b), max(a, b) + 1))
    return sorted(out)


def differences(dove: Any, fake: Any, path: str = "") -> list[str]:
    """Where two reductions differ, one line per differing leaf (readable for 50 messages)."""
    if isinstance(dove, dict) and isinstance(fake, dict):
        out = []
        for key in [*dove, *(k for k in fake if k not in dove)]:
            if key not in fake or key not in dove:
                out.append(f"{path}/{key}: dovecot {dove.get(key, '<absent>')!r}"
                           f" fake {fake.get(key, '<absent>')!r}")
            else:
                out += differences(dove[key], fake[key], f"{path}/{key}")
        return out
    return [] if dove == fake else [f"{path}:\n  dovecot {dove!r}\n  fake    {fake!r}"]
