"""One IMAP connection's protocol state, sans-I/O: client bytes in, response bytes out.

``receive_data()`` returns a lazy iterator of outputs (``bytes`` to write, or the
``StartTls`` / ``CloseConnection`` markers). Being lazy is what lets a 50 MB FETCH
stream: the asyncio shell writes and drains between items while the handler is
suspended, so memory stays flat whatever the mailbox size.

Each command's allowed states (RFC 3501 section 3), capability gate and handler are
its one entry in ``command_specs.COMMANDS``; this module checks the states in one place
(``_dispatch``). Handlers live in ``handlers/`` (``basic``, ``mailbox``, ``selected``,
``sort``, ``fetch``, ``search``), each a generator
``handler(session, command) -> Iterator[bytes]`` returning a ``Done`` (the tagged OK
text) or ``HELD`` (no tagged reply yet: IDLE, AUTHENTICATE continuation).

Response boundaries: every ``bytes`` item the session yields is whole responses (a
handler yields whole lines, literals included), so the shell may slip out-of-band
bytes (a BYE fired by a scenario) in after any item while ``between_responses`` holds.
Only a hook's verbatim reply can end inside a response (the deliberate
"cut mid-literal" fault); it clears the flag until the next command starts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from inboxlab.fakeserver.config import Capabilities, ServerConfig
from inboxlab.fakeserver.errors import FakeServerError
from inboxlab.fakeserver.imap import responses as r
from inboxlab.fakeserver.imap.hooks import ConnectionInfo, ServerHooks
from inboxlab.fakeserver.imap.syntax.commands import (
    Command,
    ContinuationRequest,
    CutMidLiteral,
    Fatal,
    Malformed,
    RawLine,
    ReaderEvent,
)
from inboxlab.fakeserver.imap.syntax.grammar import ParserEntry
from inboxlab.fakeserver.imap.syntax.reader import CommandReader
from inboxlab.fakeserver.store import Account, Store

if TYPE_CHECKING:
    from inboxlab.fakeserver.imap.view import MailboxView

log = logging.getLogger(__name__)


class State(StrEnum):
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


@dataclass(frozen=True)
class StartTls:
    """Output marker: upgrade the transport to TLS now, then call ``tls_started()``."""


@dataclass(frozen=True)
class CloseConnection:
    """Output marker: flush what was written and close the connection."""


Output = bytes | StartTls | CloseConnection


@dataclass(frozen=True)
class Done:
    """A handler's result: the tagged OK line's text and optional response code."""

    text: str = "Completed"
    code: str | None = None


class Answered(Exception):
    """A hook already sent the reply; the session adds nothing (and closes if asked)."""

    def __init__(self, *, close: bool) -> None:
        super().__init__("answered by a hook")
        self.close = close


HELD = Done("held")  # no tagged reply yet; a RawLine continues the command
Steps = Generator[bytes, None, Done]  # what a handler is: lines out, then its Done
Handler = Callable[["ImapSession", Command], Steps]
# the rest of a held command, given the client's continuation line (AUTHENTICATE)
Resume = Callable[["ImapSession", Command, bytes], Steps]


class CommandEntry(ParserEntry, Protocol):
    """What the session needs of a command's entry in the command table
    (``command_specs.CommandSpec``). The table imports the handlers, which import this
    module, so the session is handed the table (``commands=``) instead of importing it."""

    @property
    def states(self) -> frozenset[str]: ...

    @property
    def handler(self) -> Handler: ...

    @property
    def resume(self) -> Resume | None: ...

    def offered(self, caps: Capabilities, *, uid: bool) -> bool: ...

_LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}\r\n$")


def ends_between_responses(data: bytes) -> bool:
    """True when ``data`` (starting at a response boundary) ends with CRLF outside a literal."""
    at = 0
    while at < len(data):
        end = data.find(b"\r\n", at)
        if end < 0:
            return False
        literal = _LITERAL_AT_END.search(data, at, end + 2)
        at = end + 2 + (int(literal.group(1)) if literal else 0)
        if literal and at >= len(data):
            return False  # inside the literal, or just after it with the line unfinished
    return True


# RFC 3501 7.4.1: EXPUNGE must not be sent while FETCH, STORE or SEARCH run (UID forms ok).
_NO_EXPUNGE_DURING = frozenset({"FETCH", "STORE", "SEARCH"})
# ... and Dovecot 2.3 sends none after UID SEARCH either (allowed, not required)
_NO_EXPUNGE_AFTER_UID = frozenset({"SEARCH"})
# Commands that leave the selected mailbox: no news of it is due before them.
_OPENS_OR_CLOSES = frozenset({"SELECT", "EXAMINE", "CLOSE", "UNSELECT", "LOGOUT"})


class SessionRegistry:
    """Authenticated sessions per user, shared by a server's sessions (connection limits)."""

    def __init__(self) -> None:
        self._by_user: dict[str, set[ImapSession]] = {}

    def add(self, username: str, session: ImapSession) -> None:
        self._by_user.setdefault(username, set()).add(session)

    def discard(self, username: str, session: ImapSession) -> None:
        self._by_user.get(username, set()).discard(session)

    def count(self, username: str) -> int:
        return len(self._by_user.get(username, ()))

    def sessions(self) -> list[ImapSession]:
        return [s for group in self._by_user.values() for s in group]


class ImapSession:
    """Protocol state of one connection. Not thread-safe: one event loop owns it."""

    def __init__(
        self,
        config: ServerConfig,
        store: Store,
        *,
        conn: ConnectionInfo,
        commands: Mapping[str, CommandEntry],
        hooks: ServerHooks | None = None,
        registry: SessionRegistry | None = None,
    ) -> None:
        self.commands = commands  # the command table (``command_specs.COMMANDS``)
        self.config = config
        self.caps = config.capabilities
        self.store = store
        self.conn = conn
        self.hooks = hooks or ServerHooks()
        self.registry = registry or SessionRegistry()
        self.tls_active = conn.tls
        self.state = State.NOT_AUTHENTICATED
        self.account: Account | None = None
        self.view: MailboxView | None = None
        self.enabled: set[str] = set()  # ENABLEd extensions (CONDSTORE, QRESYNC)
        self.condstore_active = False  # RFC 7162 3.1: any CONDSTORE-enabling command seen
        self.held: tuple[str, Command] | None = None  # ("idle" | "auth", command)
        # an OAuth error challenge was sent: the NO (text, code) that ends the exchange
        self.sasl_failure: tuple[str, str | None] | None = None
        self.wakeup: Callable[[], None] = lambda: None  # the shell's "updates available"
        # after the last bytes yielded: may out-of-band bytes go next? (module docstring)
        self.between_responses = True
        self._reader = self._new_reader()

    def _new_reader(self) -> CommandReader:
        return CommandReader(
            commands=self.commands,
            max_line=self.config.max_line,
            max_literal=self.config.max_literal,
            literal_plus=self.caps.literal_plus,
            literal_minus="LITERAL-" in self.caps.extra,
        )

    # -- what the shell calls ---------------------------------------------------------

    @property
    def username(self) -> str | None:
        return self.account.username if self.account else None

    @property
    def idling(self) -> bool:
        return self.held is not None and self.held[0] == "idle"

    def greeting(self) -> bytes:
        caps = " ".join(self.capabilities())
        return r.ok_code(f"CAPABILITY {caps}", self.config.greeting)

    def capabilities(self) -> tuple[str, ...]:
        return self.caps.advertised(
            authenticated=self.state in (State.AUTHENTICATED, State.SELECTED),
            tls_active=self.tls_active,
        )

    def receive_data(self, data: bytes) -> Iterator[Output]:
        """Feed client bytes; iterate the result to get what to send (lazily)."""
        self._reader.feed(data)
        while self.state is not State.LOGOUT:
            event = self._reader.next_event()
            if event is None:
                return
            self.between_responses = True  # a hook's partial reply closed or was answered
            for out in self._on_event(event):
                yield out
                if isinstance(out, StartTls):
                    # RFC 3207-style injection defence: bytes pipelined after STARTTLS
                    # arrived in plaintext and must not be executed after the upgrade.
                    self._reader = self._new_reader()
                    return
                if isinstance(out, CloseConnection):
                    self._finish()
                    return

    def receive_eof(self) -> None:
        """The client went away. A command cut inside its literal leaves nothing behind."""
        event = self._reader.eof()
        if isinstance(event, CutMidLiteral):
            log.info("conn %d: client left inside a literal (tag %s)", self.conn.conn_id,
                     event.tag)
        self._finish()

    def tls_started(self) -> None:
        self.tls_active = True

    def push_updates(self) -> bytes:
        """Untagged updates to send right now (only while IDLE; else they wait)."""
        if not self.idling or self.view is None:
            return b""
        return b"".join(self.updates(allow_expunge=True))

    def autologout(self) -> bytes:
        self._finish()
        return r.untagged("BYE Autologout; idle for too long")

    def hold(self, kind: str, command: Command) -> Done:
        """Keep ``command`` open: the next client line is raw (IDLE's DONE, SASL data)."""
        self.held = (kind, command)
        self._reader.expect_line()
        return HELD

    def _finish(self) -> None:
        if self.view is not None:
            self.view.close()
            self.view = None
        if self.account is not None:
            self.registry.discard(self.account.username, self)
        self.state = State.LOGOUT

    # -- events ----------------------------------------------------------------------------

    def _on_event(self, event: ReaderEvent) -> Iterator[Output]:
        if isinstance(event, Command):
            yield from self._dispatch(event)
        elif isinstance(event, ContinuationRequest):
            yield f"+ {event.text}\r\n".encode()
        elif isinstance(event, RawLine):
            yield from self._raw_line(event.line)
        elif isinstance(event, Malformed):
            yield event.error.response(event.tag or "*")
        elif isinstance(event, Fatal):
            yield r.untagged("BYE " + " ".join(event.error.text.split()))  # one line
            yield CloseConnection()

    def _raw_line(self, line: bytes) -> Iterator[Output]:
        held, self.held = self.held, None
        if held is None:
            yield r.untagged("BAD Unexpected continuation data")
            return
        kind, command = held
        if kind == "idle":
            if line.strip().upper() != b"DONE":
                yield r.tagged(command.tag, "BAD", "Expected DONE to end IDLE")
                return
            yield from self.updates(allow_expunge=True)
            yield r.tagged(command.tag, "OK", "IDLE terminated")
            return
        spec = self.commands.get(command.name)
        resume = spec.resume if spec is not None else None
        if resume is None:  # only AUTHENTICATE holds for a continuation line
            yield r.tagged(command.tag, "BAD", f"{command.name} takes no continuation")
            return
        yield from self._run(command, lambda s, c: resume(s, c, line))

    def _dispatch(self, command: Command) -> Iterator[Output]:
        try:
            override = self.hooks.on_command(self, command)
        except Exception:  # a broken hook must not break the session
            log.exception("conn %d: on_command hook failed", self.conn.conn_id)
            override = None
        if override is not None:
            self.between_responses = ends_between_responses(override.data)
            yield override.data
            if override.close:
                yield CloseConnection()
            return
        spec = self._spec(command)
        if spec is None:
            yield r.tagged(command.tag, "BAD", f"Unknown command {command.name}")
            return
        if self.state.value not in spec.states:
            where = self.state.value.replace("_", " ")
            yield r.tagged(command.tag, "BAD", f"{command.name} is not allowed when {where}")
            return
        yield from self._run(command, spec.handler)

    def _run(self, command: Command, handler: Handler) -> Iterator[Output]:
        if self.view is not None and command.name not in _OPENS_OR_CLOSES:
            yield from self.keyword_news()  # before any FETCH of this command shows one
        condstore_was = self.condstore_active
        try:
            done = yield from handler(self, command)
        except FakeServerError as exc:
            yield exc.response(command.tag)
            return
        except Answered as answered:
            if answered.close:
                yield CloseConnection()
            return
        except Exception:
            log.exception("conn %d: handler for %s failed", self.conn.conn_id, command.name)
            yield r.tagged(command.tag, "NO", "Internal error in the fake server", "SERVERBUG")
            return
        if done is HELD:  # the handler called hold(): IDLE or a SASL continuation
            if self.idling:
                yield from self.updates(allow_expunge=True)
            return
        if self.view is not None and self.condstore_active and not condstore_was and (
                command.name not in _OPENS_OR_CLOSES):
            # RFC 7162 3.1: the first CONDSTORE-enabling command (FETCH MODSEQ, SEARCH
            # MODSEQ, STORE UNCHANGEDSINCE...) tells the mailbox's HIGHESTMODSEQ, as Dovecot
            yield r.ok_code(f"HIGHESTMODSEQ {self.view.folder.highestmodseq}", "Highest")
        if self.view is not None:
            names = _NO_EXPUNGE_AFTER_UID if command.uid else _NO_EXPUNGE_DURING
            yield from self.updates(allow_expunge=command.name not in names)
        assert isinstance(done, Done)
        if self.state is State.LOGOUT and command.name != "LOGOUT":
            yield CloseConnection()  # an update said BYE
            return
        yield r.tagged(command.tag, "OK", done.text, done.code)
        if command.name == "STARTTLS":
            yield StartTls()
        elif self.state is State.LOGOUT:
            yield CloseConnection()

    def _spec(self, command: Command) -> CommandEntry | None:
        """The command's entry, or None when the command is unknown on this server."""
        spec = self.commands.get(command.name)
        if spec is None or not spec.offered(self.caps, uid=command.uid):
            return None
        return spec

    # -- untagged updates for the selected mailbox ------------------------------------------

    @property
    def qresync(self) -> bool:
        return "QRESYNC" in self.enabled

    def updates(self, *, allow_expunge: bool) -> Iterator[bytes]:
        """Report what other sessions changed: EXPUNGE/VANISHED, EXISTS, FETCH FLAGS."""
        view = self.view
        if view is None:
            return
        if view.uidvalidity_changed:  # UIDs were renumbered: no way to tell the client
            yield r.untagged("BYE [UNAVAILABLE] UIDVALIDITY changed; please reconnect")
            self._finish()
            return
        if self.account is not None and self.account.folders.get(view.folder.name) is not (
                view.folder):  # deleted by another session (Dovecot's words)
            yield r.untagged("BYE Selected mailbox was deleted, have to disconnect.")
            self._finish()
            return
        if allow_expunge and view.pending:
            if self.qresync:
                yield r.untagged(f"VANISHED {r.uid_set(view.take_vanished())}")
            else:
                for gone in view.take_expunges():
                    yield r.untagged(f"{gone} EXPUNGE")
        exists = view.take_exists()
        if exists is not None:
            yield r.untagged(f"{exists} EXISTS")
        recent = view.take_recent()
        if recent is not None:
            yield r.untagged(f"{recent} RECENT")
        yield from self.keyword_news()
        folder = view.folder
        for uid in view.take_flag_changes():
            at = view.seq_of(uid)
            if at is not None and (uid in view.gone or folder.seq_of(uid) is not None):
                yield self.flags_line(at, uid)

    def keyword_news(self) -> Iterator[bytes]:
        """FLAGS and PERMANENTFLAGS again when the selected folder gained keywords since
        this client was last told (by any session: Dovecot tells every one)."""
        if self.view is not None and self.view.take_new_keywords():
            yield from r.flag_lines(self.view.folder.keywords(), readonly=self.view.readonly)

    def flags_line(self, seq: int, uid: int) -> bytes:
        """``* seq FETCH (UID u FLAGS (...) [MODSEQ (m)])`` for a flag change."""
        view = self.view
        assert view is not None
        modseq = b" MODSEQ (%d)" % view.modseq_of(uid) if self.condstore_active else b""
        flags = view.flags_of(uid)
        if uid in view.recent:
            flags = flags | r.RECENT
        return b"* %d FETCH (UID %d FLAGS %b%b)\r\n" % (
            seq, uid, r.flag_list(flags), modseq)

    def deselect(self) -> None:
        if self.view is not None:
            self.view.close()
            self.view = None
        if self.state is State.SELECTED:
            self.state = State.AUTHENTICATED
