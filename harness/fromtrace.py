"""``inboxlab scenario from-trace TRACE``: a recorded session as a scenario that fails the same way.

The trace (``engine.diag.record``) says what the server was (its greeting), which user
logged in, which folders it listed (with special-use attributes) and how many messages
each held, and how the session ended. The scenario reproduces that: a matching
provider profile and greeting, the same folders with as many (generated) messages, and
one timeline fault at the same command, server-wide nth as recorded:

- a refused LOGIN/AUTHENTICATE -> ``no`` with the same code and words, from that login on;
- a final NO/BAD -> ``no``/``bad`` with the same code and words;
- ``* BYE [code] text`` -> ``bye`` with the same code and words (a BYE that interrupted a
  command no replaying client is sure to send, NOOP, IDLE or CAPABILITY, at the same
  command count);
- the server's RST or FIN -> ``reset``/``close`` at the command it hit, from then on:
  never at a byte offset, which a client fetching less (headers, not bodies) never reaches;
- the client gave up waiting -> ``tarpit`` on that command (SELECT or EXAMINE alike);
- the recorder could not reach the server -> ``down`` (connections refused).

Every folder a command named (SELECT, EXAMINE, STATUS, APPEND, COPY, MOVE) is in the
scenario even if it was never LISTed, and an ``[[expect]]`` block names the recorded
cause (the catalogue's, as ``diagnose`` would say it), with ``first = true`` so a replay
that fails some other way first does not pass.

Message contents are the fake's own (traces keep only sizes); the password is
``REPLAY_PASSWORD``, since the recorded one was never stored. The scenario schema has one
owner, the fake server's loader: ``replay_scenario`` hands the TOML it writes to
``fakeserver.scenario.load.loads`` and returns the ``Scenario`` it validated, so a
replay this module cannot express is an error here, never a file that fails later.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field

from inboxlab.engine.diag.classify import diagnose
from inboxlab.engine.diag.tracefile import Record, read_trace
from inboxlab.engine.errors import Disconnected
from inboxlab.engine.exitcodes import Exit
from inboxlab.engine.imap.results import refusal
from inboxlab.engine.imap.utf7 import decode as utf7_decode
from inboxlab.fakeserver.errors import ScenarioError
from inboxlab.fakeserver.scenario.load import loads
from inboxlab.fakeserver.scenario.model import Scenario

REPLAY_PASSWORD = "replay-password"
_SPECIAL = ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash",
            "\\Important")
_TAGGED = re.compile(r"^(\S+) (OK|NO|BAD)(?: \[([A-Za-z0-9-]+)[^\]]*\])? ?(.*)$", re.I)
_BYE = re.compile(r"^\* BYE(?: \[([A-Za-z0-9-]+)[^\]]*\])? ?(.*)$", re.I)
_GREETING = re.compile(r"^\* (?:OK|PREAUTH)(?: \[[^\]]*\])? ?(.*)$", re.I)
_LIST = re.compile(r'^\* (?:LIST|XLIST) \(([^)]*)\) (?:NIL|"(?:[^"\\]|\\.)*") (.+)$', re.I)
_EXISTS = re.compile(r"^\* (\d+) EXISTS", re.I)
_STATUS = re.compile(r"^\* STATUS (.+) \((.*)\)$", re.I)
_LOGIN = re.compile(r'^\S+ LOGIN ("(?:[^"\\]|\\.)*"|\S+)', re.I)
_CMD = re.compile(r"^(\S+) (UID \S+|\S+)(?: (.*))?$", re.I)
_LITERAL_SIZE = re.compile(r"\{(\d+)\}\[(\d+) bytes\]")


def _unquote(text: str) -> str:
    text = text.strip()
    if text.startswith('"') and text.endswith('"'):
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def _mailbox(raw: str) -> str:
    name = _unquote(raw)
    try:
        return utf7_decode(name.encode("utf-8"))
    except ValueError:
        return name


def _wire_size(text: str) -> int:
    """Bytes the line took on the wire (an omitted literal counts its announced size)."""
    size = len(text.encode("utf-8")) + 2
    for m in _LITERAL_SIZE.finditer(text):
        size += int(m.group(2)) - len(m.group(0)) + len(f"{{{m.group(1)}}}\r\n")
    return size


@dataclass
class _Session:
    greeting: str | None = None
    user: str | None = None
    folders: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    sizes: dict[str, list[int]] = field(default_factory=dict)  # body literal sizes seen
    touched: dict[str, None] = field(default_factory=dict)  # folders named by commands
    fault: tuple[str, str] | None = None  # TOML trigger and action of the [[timeline]] entry
    story: str = "the session ended cleanly"
    cause: str | None = None  # the catalogue cause the recorded failure is
    first: bool = True  # the replay's first failure must be that cause


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _action(kind: str, code: str | None, text: str) -> str:
    parts = [f'type = "{kind}"']
    if code:
        parts.append(f"code = {_q(code.upper())}")
    if text:
        parts.append(f"text = {_q(text)}")
    return "{ " + ", ".join(parts) + " }"


def _analyse(records: list[Record]) -> _Session:
    s = _Session()
    counts: Counter[str] = Counter()  # command name -> how many so far, server-wide
    logins = 0
    last_cmd: dict[int, tuple[str, int, int]] = {}  # conn -> (name, nth, server bytes since)
    selected: dict[int, str] = {}
    for r in records:
        if r.kind == "line" and r.text is not None and r.dir == ">":
            m = _CMD.match(r.text)
            if not m:
                continue
            name = m.group(2).upper()
            if name in ("LOGIN", "AUTHENTICATE"):
                logins += 1
                lm = _LOGIN.match(r.text)
                if lm and s.user is None:
                    s.user = _unquote(lm.group(1))
            counts[name] += 1
            last_cmd[r.conn] = (name, counts[name], 0)
            if name in ("SELECT", "EXAMINE") and m.group(3):
                selected[r.conn] = _mailbox(m.group(3).split(" (")[0])
            if name in _TOUCHES and m.group(3):  # a folder used without LIST is still there
                touched = _mailbox(_first_arg(m.group(3)))
                if touched:
                    s.touched.setdefault(touched, None)
        elif r.kind == "line" and r.text is not None:
            text = r.text
            if r.conn in last_cmd:
                name, nth, sent = last_cmd[r.conn]
                last_cmd[r.conn] = (name, nth, sent + _wire_size(text))
            g = _GREETING.match(text)
            if s.greeting is None and g and r.conn not in last_cmd:
                s.greeting = g.group(1)
            lm2 = _LIST.match(text)
            if lm2:
                known = {u.lower(): u for u in _SPECIAL}
                s.folders[_mailbox(lm2.group(2))] = [known[a.lower()] for a in
                                                     lm2.group(1).split() if a.lower() in known]
            if r.conn in selected and " FETCH " in text:
                for lit in _LITERAL_SIZE.finditer(text):
                    s.sizes.setdefault(selected[r.conn], []).append(int(lit.group(1)))
            em = _EXISTS.match(text)
            if em and r.conn in selected:
                s.counts[selected[r.conn]] = int(em.group(1))
            sm = _STATUS.match(text)
            if sm:
                found = re.search(r"MESSAGES (\d+)", sm.group(2), re.I)
                if found:
                    s.counts[_mailbox(sm.group(1))] = int(found.group(1))
            bye = _BYE.match(text)
            tagged = _TAGGED.match(text)
            cmd = last_cmd.get(r.conn)
            if bye and cmd and cmd[0] != "LOGOUT":
                # A BYE the server sends on its own (shutdown) is not about the command it
                # interrupted: a replaying client that never sends that command (NOOP, IDLE)
                # must meet it too, at about the same point of its session.
                trigger = _at(cmd[0], cmd[1], sum(counts.values()))
                s.fault = (trigger, _action("bye", bye.group(1), bye.group(2)))
                s.story = f"the server said BYE after {cmd[0]} #{cmd[1]}"
                s.cause = diagnose(Disconnected("BYE", code="server_bye",
                                                response_code=bye.group(1),
                                                server_text=bye.group(2),
                                                stage=_stage(cmd[0]))).code
            elif tagged and tagged.group(2).upper() in ("NO", "BAD") and cmd:
                kind = tagged.group(2).lower()
                act = _action(kind, tagged.group(3), tagged.group(4))
                if cmd[0] in ("LOGIN", "AUTHENTICATE"):
                    s.fault = (f"{{ login = {logins}, times = 0 }}", act)
                    s.story = f"login #{logins} was refused, and every one after it"
                else:
                    s.fault = (_at(cmd[0], cmd[1], sum(counts.values()), every=False), act)
                    s.story = f"{cmd[0]} #{cmd[1]} was refused ({tagged.group(2).upper()})"
                s.cause = diagnose(refusal(tagged.group(2).upper(), tagged.group(3), (),
                                           tagged.group(4), stage=_stage(cmd[0]),
                                           command=cmd[0])).code
        elif r.kind in ("reset", "eof") and r.conn in last_cmd:
            name, nth, sent = last_cmd[r.conn]
            if s.fault is not None and s.fault[1].startswith('{ type = "bye"'):
                continue  # the close that follows a BYE is part of the BYE
            kind = "reset" if r.kind == "reset" else "close"
            # Placed at the command it hit, not at a byte offset: the replaying client may
            # ask for less (headers where the recorded one fetched bodies), and a cut 11 MB
            # into an answer of 2 kB never fires. From that command on, every time.
            s.fault = (_at(name, nth, sum(counts.values())),
                       f'{{ type = "{kind}", direction = "to_client" }}')
            s.story = (f"the server {'reset' if kind == 'reset' else 'closed'} the connection "
                       f"during {name} #{nth}, {sent + (r.partial or 0)} bytes into the answer")
            s.cause = "connection_reset"
        elif r.kind == "client_closed" and r.waiting and r.conn in last_cmd:
            name, nth, _ = last_cmd[r.conn]
            # SELECT and EXAMINE are one command to a stalled server: either stalls
            trigger = ('{ regex = "\\\\b(SELECT|EXAMINE)\\\\b", times = 0 }'
                       if name in ("SELECT", "EXAMINE")
                       else _at(name, nth, sum(counts.values())))
            s.fault = (trigger, '{ type = "tarpit", direction = "to_client" }')
            s.story = f"the server went silent after {name} #{nth}; the client gave up"
            s.cause = "tarpit"
        elif r.kind == "client_closed" and not r.waiting and r.conn not in last_cmd \
                and s.fault is None:
            # connected, never greeted, the client gave up: a stalled server
            s.fault = (f"{{ connection = {r.conn}, times = 0 }}",
                       '{ type = "tarpit", direction = "to_client" }')
            s.story = "the server accepted the connection and never greeted"
            s.cause = "tarpit"
        elif r.kind == "upstream_failed" and s.fault is None:
            s.fault = (f"{{ connection = {r.conn}, times = 0 }}",
                       '{ type = "down", seconds = 86400 }')
            s.story = f"the server could not be reached ({r.info})"
            s.cause = "connect_refused"
            s.first = False  # the replay's first connection is dropped on the way down
    return s


def _profile(greeting: str | None) -> str:
    g = (greeting or "").lower()
    if "gimap" in g:
        return "gmail"
    if "microsoft exchange" in g:
        return "office365"
    if "dovecot" in g:
        return "dovecot"
    return "generic-no-special-use"


def replay_scenario(records: list[Record], *, name: str = "from-trace",
                    seed: int = 1) -> tuple[str, Scenario]:
    """The scenario for a recorded session: its TOML text and the ``Scenario`` the fake
    server's loader built from it (a ``ScenarioError`` if the loader refuses it)."""
    text = scenario_from_trace(records, name=name, seed=seed)
    return text, loads(text, file=f"<from-trace {name}>", default_name=name)


def scenario_from_trace(records: list[Record], *, name: str = "from-trace", seed: int = 1) -> str:
    """The scenario TOML text for a recorded session (``replay_scenario`` validates it)."""
    s = _analyse(records)
    out = [f"# Generated by `inboxlab scenario from-trace`: {s.story}.",
           f"# Log in as {s.user or 'user@example.com'} with the password {REPLAY_PASSWORD!r}.",
           f"name = {_q(name)}",
           f"description = {_q('Replay of a recorded session: ' + s.story)}",
           f"seed = {seed}", "", "[server]", f'profile = "{_profile(s.greeting)}"']
    if s.greeting:
        out.append(f"greeting = {_q(s.greeting)}")
    out += ["", "[[accounts]]", f"username = {_q(s.user or 'user@example.com')}",
            f'password = "{REPLAY_PASSWORD}"', "profile_folders = false"]
    folders = dict(s.folders)
    folders.setdefault("INBOX", [])
    for touched in s.touched:
        folders.setdefault(touched, [])
    for folder, uses in folders.items():
        out += ["", "[[accounts.folders]]", f"name = {_q(folder)}"]
        if uses and folder != "INBOX":
            out.append("special_use = [" + ", ".join(_q(u) for u in uses) + "]")
        if s.counts.get(folder):
            out += ["[accounts.folders.generate]", f"count = {s.counts[folder]}"]
            seen = s.sizes.get(folder)
            if seen:  # messages as big as the recorded ones, so a cut lands mid-answer too
                out.append(f"size_range = [{min(seen)}, {max(seen)}]")
    if s.fault is not None:
        trigger, action = s.fault
        out += ["", "[[timeline]]", f"name = {_q(s.story)}", f"trigger = {trigger}",
                f"action = {action}"]
    if s.cause is not None:
        out += ["", "# the recorded cause must come back (and, where it was the first, first)",
                "[[expect]]", 'check = "error"', f"cause = {_q(s.cause)}"]
        if s.first:
            out.append("first = true")
    return "\n".join(out) + "\n"


# Commands every client of a mailbox sends (a fault placed on one of them is met again).
# Not CAPABILITY: ``diagnose`` asks it, the engine does not when the greeting lists them.
_REPLAYED_COMMANDS = frozenset({"LOGIN", "AUTHENTICATE", "LIST", "SELECT", "EXAMINE", "STATUS",
                                "FETCH", "UID FETCH", "SEARCH", "UID SEARCH"})
_TOUCHES = ("SELECT", "EXAMINE", "STATUS", "APPEND", "UID COPY", "COPY", "UID MOVE", "MOVE")
_STAGES = {"LOGIN": "imap_login", "AUTHENTICATE": "imap_login", "SELECT": "imap_select",
           "EXAMINE": "imap_select", "STATUS": "imap_status", "LIST": "imap_list",
           "FETCH": "imap_fetch", "UID FETCH": "imap_fetch", "SEARCH": "imap_search",
           "UID SEARCH": "imap_search", "APPEND": "imap_append", "IDLE": "imap_idle",
           "NOOP": "imap_noop", "CAPABILITY": "imap_capability"}


def _at(name: str, nth: int, total: int, *, every: bool = True) -> str:
    """The trigger of a fault met at ``name`` #nth, the ``total``-th command server-wide:
    on that command when every replaying client sends it, else on whatever command comes
    at the same count (the engine sends no NOOP, IDLE only when watching, CAPABILITY only
    when the greeting lacks it). ``every``: from then on, every time."""
    times = ", times = 0" if every else ""
    if name in _REPLAYED_COMMANDS:
        return f'{{ command = "{name}", nth = {nth}{times} }}'
    return f'{{ regex = ".*", nth = {total}{times} }}'


def _stage(command: str) -> str:
    return _STAGES.get(command, "imap_command")


def _first_arg(args: str) -> str:
    """The first argument of a command line: a quoted string or an atom."""
    args = args.strip()
    if args.startswith('"'):
        m = re.match(r'"(?:[^"\\]|\\.)*"', args)
        return m.group(0) if m else args
    return args.split(" ", 1)[0]


def fromtrace_main(trace: str, out: str | None = None, name: str = "from-trace") -> int:
    """The CLI: print or write the scenario; a bad trace file is exit 3 (usage) with the
    reason."""
    try:
        text, _ = replay_scenario(read_trace(trace), name=name)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return Exit.USAGE
    except ScenarioError as exc:  # this module wrote what the loader refuses: a bug here
        print(f"error: the replay of {trace} is not a valid scenario: {exc}", file=sys.stderr)
        return Exit.FAILED
    if out is None:
        sys.stdout.write(text)
    else:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(text)
        print(f"wrote {out}; check it with `inboxlab scenario check {out}`")
    return 0


__all__ = ["REPLAY_PASSWORD", "fromtrace_main", "replay_scenario", "scenario_from_trace"]
