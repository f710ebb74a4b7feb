"""Sans-I/O IMAP response parser: bytes in (``feed``), events out (``next_event``).

No sockets and no asyncio here, so the same class is driven by the asyncio client, by
unit tests with canned bytes, and by the fuzzer. Written independently of the fake
server's parser on purpose: the engine and the fake server meet only over sockets.

How it stays fast on a 50 MB FETCH stream (100k header fetches):

- Framing: one response is a line plus any ``{n}`` literals and their continuation
  lines. We find line ends with ``bytearray.find`` from a resume offset and jump over
  literal bodies by their announced length, so a huge literal is never rescanned
  and its bytes are never looked at one by one. The buffer is compacted only when the
  consumed prefix is large, not per line.
- FETCH has a hand-written scanner for the common items (UID, FLAGS, RFC822.SIZE,
  INTERNALDATE, MODSEQ, BODY[...] literals); everything else goes through one
  generic, iterative (non-recursive) s-expression reader.
- Anything malformed raises ``ProtocolViolation`` carrying the offending bytes; the
  parser skips that response and carries on with the next one. No ``IndexError``
  or ``ValueError`` escapes: they are translated at this boundary.
"""

from __future__ import annotations

from inboxlab.engine.errors import LimitExceeded, ProtocolViolation
from inboxlab.engine.imap import utf7
from inboxlab.engine.imap.fetch import FetchShapes, ShapeItem, copy_out, fetch_items
from inboxlab.engine.imap.lexer import ATOM_STOP, CR, DIGITS, RC, SP, values
from inboxlab.engine.imap.limits import BODY, Limits
from inboxlab.engine.imap.model import (
    Bye,
    Capability,
    Continuation,
    Enabled,
    ESearch,
    Event,
    Exists,
    Expunge,
    Fetch,
    Flags,
    Greeting,
    ListItem,
    Recent,
    Search,
    Status,
    Tagged,
    Untagged,
    UntaggedStatus,
    Value,
    Vanished,
)

_COMPACT_AT = 1 << 20
_INT_STATUS = {"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ",
               "SIZE", "DELETED", "APPENDLIMIT"}
_INT_ESEARCH = {"MIN", "MAX", "COUNT", "MODSEQ"}


class ResponseParser:
    """Turns the server's byte stream into ``Event`` objects, one complete response at a time.

    ``expect_greeting``: the first response must be the server greeting (``* OK``,
    ``* PREAUTH`` or ``* BYE``) and is reported as ``Greeting``.
    ``fast_fetch=False`` turns off the learned FETCH regexes (tests compare both paths).
    ``limits`` (``engine.imap.limits``) bound lines, literals and whole responses; the
    connection changes them with the context (``limits`` is a plain attribute). A break
    raises ``LimitExceeded`` naming the limit; the parser itself can carry on past it
    (it skips the line), but the connection closes instead: see ``Router.route``.
    ``max_line``/``max_literal`` override the default limits' fields (tests).
    """

    def __init__(
        self,
        *,
        expect_greeting: bool = True,
        limits: Limits = BODY,
        max_line: int | None = None,
        max_literal: int | None = None,
        fast_fetch: bool = True,
    ) -> None:
        self._buf = bytearray()
        self._pos = 0  # start of the first unparsed response
        self._scan = 0  # where the search for its end resumes (may point past a literal)
        self._seg = 0  # start of the current line segment (after the last literal)
        self._skipping = False  # discarding an over-long line up to its end
        self._greeting = expect_greeting
        if max_line is not None or max_literal is not None:
            limits = Limits("custom", max_line or limits.line, max_literal or limits.literal,
                            limits.response)
        self.limits = limits
        self._shapes = FetchShapes(limit=8 if fast_fetch else 0)
        self.keep_raw = False  # set by a tracing client: ``last_raw`` = bytes of the last event
        self.last_raw = b""

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as events."""
        return len(self._buf) - self._pos

    def unparsed(self) -> bytes:
        """The bytes received but not yet returned as events (a copy)."""
        return bytes(self._buf[len(self._buf) - self.buffered :])

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        buf = self._buf
        pos = self._pos
        if pos >= _COMPACT_AT and pos * 2 >= len(buf):
            del buf[:pos]  # cheap in CPython: the bytearray just moves its start
            self._scan -= pos
            self._seg -= pos
            self._pos = 0
        buf += data

    def next_event(self) -> Event | None:
        """The next complete response as an event, or None until more bytes are fed."""
        if self._shapes.active and not self._skipping:
            hit = self._shapes.match(self._buf, self._pos, self.limits.literal)
            if hit is not None:
                event, end = hit
                if event is not None:
                    if self.keep_raw:
                        self.last_raw = copy_out(self._buf, self._pos, end)
                    self._pos = self._scan = self._seg = end
                return event
        end = self._frame()
        if end < 0:
            return None
        data = copy_out(self._buf, self._pos, end)
        if self.keep_raw:
            self.last_raw = data
        if end - self._pos >= _COMPACT_AT:
            # A big response (a message body): drop it from the buffer now, before its
            # literal is copied out of ``data``, so peak memory is about twice the message,
            # not three times (a large front deletion makes CPython reallocate the rest).
            del self._buf[:end]
            end = 0
        self._pos = self._scan = self._seg = end
        try:
            return self._parse(data)
        except ProtocolViolation:
            raise
        except (IndexError, ValueError, UnicodeDecodeError) as exc:
            raise ProtocolViolation(f"unparseable response ({exc})", data) from None

    def fetch_run(self, out: list[Fetch]) -> int:
        """Append consecutive FETCH responses of a learned shape to ``out``; how many.

        A batch shortcut for streaming consumers: same events as ``next_event`` would
        give, minus its per-call overhead. Does nothing when the next response is of
        another kind. ``last_raw`` is not set (a tracer summarizes the run instead).
        """
        if self._skipping or not self._shapes.active:
            return 0
        before = len(out)
        pos = self._shapes.run(self._buf, self._pos, self.limits.literal, out)
        if pos != self._pos:
            self._pos = self._scan = self._seg = pos
        return len(out) - before

    def events(self) -> list[Event]:
        """All complete events currently available (a ProtocolViolation stops the batch)."""
        out: list[Event] = []
        while (event := self.next_event()) is not None:
            out.append(event)
        return out

    # -- framing -----------------------------------------------------------------

    def _frame(self) -> int:
        """Offset just past the current complete response, or -1 if it is incomplete."""
        buf = self._buf
        i = self._scan
        size = len(buf)
        if i > size:
            return -1  # still inside a literal's body
        if self._skipping:
            nl = buf.find(b"\n", i)
            if nl < 0:
                self._pos = self._scan = self._seg = size
                return -1
            self._skipping = False
            self._pos = self._seg = i = nl + 1
        seg = self._seg
        limits = self.limits
        while True:
            nl = buf.find(b"\n", i)
            if nl < 0:
                if size - seg > limits.line:  # literal bytes do not count
                    bad = bytes(buf[self._pos : self._pos + 200])
                    self._skipping = True
                    self._pos = self._scan = self._seg = size
                    raise LimitExceeded(
                        f"response line longer than the {limits.name} limit of "
                        f"{limits.line} bytes", bad, limit=f"{limits.name}_line")
                self._scan = size
                return -1
            le = nl - 1 if nl > 0 and buf[nl - 1] == CR else nl
            if le > seg and buf[le - 1] == RC:
                ob = buf.rfind(b"{", seg, le)
                if ob >= 0:
                    digits = bytes(buf[ob + 1 : le - 1]).rstrip(b"+")
                    if digits.isdigit():
                        n = int(digits) if len(digits) < 12 else 1 << 40
                        what, cap, seen = "", 0, n
                        if n > limits.literal:
                            what, cap = "literal", limits.literal
                        elif nl + 1 + n - self._pos > limits.response:
                            what, cap, seen = "response", limits.response, nl + 1 + n - self._pos
                        if what:
                            bad = bytes(buf[self._pos : min(nl + 1, self._pos + 200)])
                            self._pos = self._scan = self._seg = nl + 1
                            self._skipping = False
                            raise LimitExceeded(
                                f"{what} of {seen} bytes announced; the "
                                f"{limits.name} limit is {cap} bytes", bad,
                                limit=f"{limits.name}_{what}")
                        i = seg = self._seg = nl + 1 + n
                        if i > size:
                            self._scan = i
                            return -1
                        continue
            return nl + 1

    # -- dispatch ------------------------------------------------------------------

    def _parse(self, data: bytes) -> Event:
        first = data[0]
        if self._greeting:
            self._greeting = False
            if not data.startswith(b"* "):
                raise ProtocolViolation("expected a server greeting (* OK)", data)
            word, i = _word(data, 2)
            if word not in ("OK", "PREAUTH", "BYE"):
                raise ProtocolViolation(f"greeting must be OK, PREAUTH or BYE, not {word!r}", data)
            code, args, text = _status_tail(data, i)
            return Greeting(word, code, args, text)
        if first == 42:  # '*'
            if data[1] != SP:
                raise ProtocolViolation("'*' must be followed by a space", data)
            if data[2] in DIGITS:
                event = _numbered(data)
                if isinstance(event, tuple):
                    event, shape = event
                    if shape is not None:
                        self._shapes.learn(shape)
                return event
            return _untagged(data)
        if first == 43:  # '+'
            return Continuation(_line_text(data, 2 if data[1:2] == b" " else 1))
        sp = data.find(b" ")
        tag = data[:sp] if sp > 0 else b""
        if not tag or any(c in ATOM_STOP or c < 0x21 or c > 0x7E or c == 43 for c in tag):
            raise ProtocolViolation("response is neither tagged, untagged nor continuation", data)
        word, i = _word(data, sp + 1)
        if word not in ("OK", "NO", "BAD"):
            raise ProtocolViolation(f"tagged status must be OK, NO or BAD, not {word!r}", data)
        code, args, text = _status_tail(data, i)
        return Tagged(tag.decode("ascii"), word, code, args, text)


def _word(data: bytes, i: int) -> tuple[str, int]:
    """An upper-cased keyword starting at ``i`` and the offset just after it."""
    j = i
    while data[j] not in ATOM_STOP:
        j += 1
    if j == i:
        raise ProtocolViolation(f"expected a keyword at offset {i}", data)
    return data[i:j].decode("ascii").upper(), j


def _line_text(data: bytes, i: int) -> str:
    return data[i:].rstrip(b"\r\n").decode("utf-8", "replace")


def _status_tail(data: bytes, i: int) -> tuple[str | None, tuple[Value, ...], str]:
    """``[CODE args] text`` after a status word -> (code, args, text)."""
    if data[i : i + 1] == b" ":
        i += 1
    if data[i : i + 1] != b"[":
        return None, (), _line_text(data, i)
    close = data.find(b"]", i)
    nl = data.find(b"\n", i)
    if close < 0 or close > nl:
        raise ProtocolViolation("unterminated response code '['", data)
    inner = data[i + 1 : close]
    sp = inner.find(b" ")
    code = (inner if sp < 0 else inner[:sp]).decode("ascii").upper()
    if not code:
        raise ProtocolViolation("empty response code", data)
    args: tuple[Value, ...] = ()
    if sp >= 0:
        args, _ = values(inner + b"\r\n", sp + 1)
    rest = close + 1
    if data[rest : rest + 1] == b" ":
        rest += 1
    return code, args, _line_text(data, rest)


def _numbered(data: bytes) -> Event | tuple[Fetch, tuple[ShapeItem, ...] | None]:
    sp = data.find(b" ", 2)
    if sp < 0:
        raise ProtocolViolation("number without a response kind", data)
    n = int(data[2:sp])
    kind, i = _word(data, sp + 1)
    if kind == "FETCH":
        if data[i] != SP:
            raise ProtocolViolation("FETCH without data", data)
        items, shape = fetch_items(data, i + 1)
        return Fetch(n, items), shape
    if kind == "EXISTS":
        return Exists(n)
    if kind == "EXPUNGE":
        return Expunge(n)
    if kind == "RECENT":
        return Recent(n)
    args, _ = values(data, i)
    return Untagged(kind, (str(n), *args))


def _untagged(data: bytes) -> Event:
    kind, i = _word(data, 2)
    if kind in ("OK", "NO", "BAD", "PREAUTH"):
        code, args, text = _status_tail(data, i)
        return UntaggedStatus(kind, code, args, text)
    if kind == "BYE":
        code, args, text = _status_tail(data, i)
        return Bye(code, args, text)
    if kind == "CAPABILITY":
        return Capability(tuple(data[i:].decode("ascii").upper().split()))
    if kind == "ENABLED":
        return Enabled(tuple(data[i:].decode("ascii").upper().split()))
    if kind == "SEARCH":
        rest = data[i:]
        modseq = None
        paren = rest.find(b"(")
        if paren >= 0:
            inner = rest[paren + 1 : rest.index(b")")].split()
            if len(inner) != 2 or inner[0].upper() != b"MODSEQ":
                raise ProtocolViolation("SEARCH with an unknown (...) part", data)
            modseq = int(inner[1])
            rest = rest[:paren]
        return Search(tuple(map(int, rest.split())), modseq)
    if kind in ("LIST", "LSUB", "XLIST"):
        return _list_item(kind, data, i)
    args, _ = values(data, i)
    if kind == "FLAGS":
        if len(args) != 1 or not isinstance(args[0], tuple):
            raise ProtocolViolation("FLAGS wants one parenthesised list", data)
        return Flags(tuple(_text(f) for f in args[0]))
    if kind == "STATUS":
        if len(args) != 2 or not isinstance(args[1], tuple) or len(args[1]) % 2:
            raise ProtocolViolation("STATUS wants a mailbox and (name value ...)", data)
        raw = _raw(args[0])
        pairs = args[1]
        items = {
            _text(pairs[k]).upper(): _int(pairs[k + 1], data) for k in range(0, len(pairs), 2)
        }
        return Status(_mailbox_name(raw), items, raw)
    if kind == "ESEARCH":
        return _esearch(args, data)
    if kind == "VANISHED":
        earlier = bool(args) and isinstance(args[0], tuple)
        if earlier:
            if tuple(_text(a).upper() for a in args[0]) != ("EARLIER",):
                raise ProtocolViolation("VANISHED with an unknown (...) part", data)
            args = args[1:]
        if len(args) != 1 or not isinstance(args[0], str):
            raise ProtocolViolation("VANISHED wants one UID set", data)
        return Vanished(args[0], earlier)
    return Untagged(kind, args)


def _list_item(kind: str, data: bytes, i: int) -> ListItem:
    args, _ = values(data, i)
    if len(args) < 3 or not isinstance(args[0], tuple):
        raise ProtocolViolation(f"{kind} wants (attributes) delimiter name", data)
    attrs = tuple(_text(a) for a in args[0])
    delim = args[1]
    if delim is not None and not isinstance(delim, bytes):
        raise ProtocolViolation(f"{kind} delimiter must be a quoted string or NIL", data)
    raw = _raw(args[2])
    return ListItem(
        attrs, None if delim is None else delim.decode("utf-8", "replace"),
        _mailbox_name(raw), raw, kind, tuple(args[3:]),
    )


def _esearch(args: tuple[Value, ...], data: bytes) -> ESearch:
    tag = None
    k = 0
    if args and isinstance(args[0], tuple):
        corr = args[0]
        if len(corr) == 2 and _text(corr[0]).upper() == "TAG":
            tag = _text(corr[1])
        k = 1
    uid = k < len(args) and isinstance(args[k], str) and args[k].upper() == "UID"
    if uid:
        k += 1
    rest = args[k:]
    if len(rest) % 2:
        raise ProtocolViolation("ESEARCH wants name value pairs", data)
    items: dict[str, Value] = {}
    for j in range(0, len(rest), 2):
        name = _text(rest[j]).upper()
        items[name] = _int(rest[j + 1], data) if name in _INT_ESEARCH else rest[j + 1]
    return ESearch(tag, uid, items)


def _mailbox_name(raw: bytes) -> str:
    if raw.upper() == b"INBOX":
        return "INBOX"
    try:
        return utf7.decode(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")


def _raw(v: Value) -> bytes:
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("ascii")
    raise ValueError(f"expected a string, got {type(v).__name__}")


def _text(v: Value) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    raise ValueError(f"expected an atom or string, got {v!r}")


def _int(v: Value, data: bytes) -> int:
    if isinstance(v, str) and v.isdigit():
        return int(v)
    raise ProtocolViolation(f"expected a number, got {v!r}", data)


