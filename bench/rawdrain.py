"""Drain a folder's sync metadata as fast as a socket allows, and the imaplib reference.

"Drain" is the connector's initial sync read: one ``UID FETCH 1:*`` of the items the engine
needs for threading and listing. The raw client measures the *server*: it does no parsing
while the clock runs, only looks at the last bytes of each read for the tagged completion,
so its time is what the server (plus the kernel) costs. The imaplib drain is the reference
a plain Python client gets (it parses every line and literal).

    python -m bench.rawdrain HOST PORT USER PASSWORD [FOLDER]
"""

from __future__ import annotations

import imaplib
import socket
import ssl
import sys
import time
from dataclasses import dataclass

FETCH_ITEMS = (b"(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS "
               b"(MESSAGE-ID IN-REPLY-TO REFERENCES FROM TO CC SUBJECT DATE)])")
_READ = 1 << 20  # one recv_into of up to 1 MiB: fewer syscalls than the 64 KiB default
# Bytes of the stream end searched for the tagged line. It must hold the whole tagged line
# (a LOGIN reply with CAPABILITY is ~600 bytes); copying 8 KiB per read is noise.
_TAIL = 8192
_FETCH_MARK = b" FETCH ("


class DrainError(RuntimeError):
    """The server refused or cut the drain; carries the server's own line."""


@dataclass(frozen=True)
class Drain:
    """One drain: bytes the server sent for the FETCH, wall seconds, FETCH responses seen."""

    nbytes: int
    seconds: float
    messages: int

    @property
    def mb(self) -> float:
        return self.nbytes / 1e6


def quote(text: str) -> bytes:
    """An IMAP quoted string."""
    return b'"' + text.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'


class RawConnection:
    """Blocking socket with just enough IMAP to log in and wait for a tagged reply."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext | None,
                 timeout: float) -> None:
        raw = socket.create_connection((host, port), timeout=timeout)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock: socket.socket = (
            context.wrap_socket(raw, server_hostname=host) if context else raw)
        self.buf = bytearray(_READ)
        self.view = memoryview(self.buf)
        greeting = self.sock.recv(4096)
        if not greeting.startswith(b"* OK"):
            raise DrainError(f"bad greeting: {greeting[:200]!r}")

    def command(self, tag: bytes, line: bytes) -> tuple[bytes, int, int]:
        """Send ``tag line``; read to the tagged reply. Returns (tagged line, bytes, FETCHes).

        Counting FETCH responses costs one C-speed scan per read; matches split across
        reads are caught because each scan includes the previous read's last bytes.
        """
        self.sock.sendall(tag + b" " + line + b"\r\n")
        sock, buf, view = self.sock, self.buf, self.view
        mark = b"\r\n" + tag + b" "
        tail = b"\r\n"  # as if the previous line had just ended
        total = fetches = 0
        keep = len(_FETCH_MARK) - 1
        while True:
            n = sock.recv_into(buf)
            if n == 0:
                verb = line.split(b" ", 1)[0].decode()  # never the arguments: LOGIN has a password
                raise DrainError(f"server closed the connection during {verb}")
            total += n
            head = view[:min(n, keep)].tobytes()
            # matches inside this read, plus one split across the previous read and this one
            fetches += buf.count(_FETCH_MARK, 0, n) + (tail[-keep:] + head).count(_FETCH_MARK)
            window = tail + view[max(0, n - _TAIL):n].tobytes()
            if window.endswith(b"\r\n"):
                start = window.rfind(mark, 0, len(window) - 2)
                if start >= 0 and window.find(b"\r\n", start + 2) == len(window) - 2:
                    return window[start + 2:-2], total, fetches
            tail = window[-_TAIL:]

    def close(self) -> None:
        try:
            self.sock.sendall(b"Z LOGOUT\r\n")
        except OSError:
            pass
        self.sock.close()


def raw_drain(host: str, port: int, user: str, password: str, folder: str = "INBOX", *,
              context: ssl.SSLContext | None = None, timeout: float = 600.0,
              items: bytes = FETCH_ITEMS) -> Drain:
    """Log in, EXAMINE folder, time the UID FETCH 1:* ``items`` until its tagged OK."""
    conn = RawConnection(host, port, context, timeout)
    try:
        for tag, line in ((b"L", b"LOGIN " + quote(user) + b" " + quote(password)),
                          # EXAMINE, not SELECT: read-only, so \Recent and flags stay
                          # identical between rounds and the bytes compare across servers
                          (b"S", b"EXAMINE " + quote(folder))):
            reply, _, _ = conn.command(tag, line)
            if not reply.startswith(tag + b" OK"):
                verb = line.split()[0].decode()
                raise DrainError(f"{verb} failed: {reply.decode(errors='replace')}")
        started = time.perf_counter()
        reply, nbytes, fetches = conn.command(b"F", b"UID FETCH 1:* " + items)
        seconds = time.perf_counter() - started
        if not reply.startswith(b"F OK"):
            raise DrainError(f"FETCH failed: {reply.decode(errors='replace')}")
        return Drain(nbytes, seconds, fetches)
    finally:
        conn.close()


def imaplib_drain(host: str, port: int, user: str, password: str, folder: str = "INBOX", *,
                  context: ssl.SSLContext | None = None, timeout: float = 600.0,
                  items: bytes = FETCH_ITEMS) -> Drain:
    """The same drain through the standard library's imaplib (it parses as it reads)."""
    client = (imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=timeout) if context
              else imaplib.IMAP4(host, port, timeout=timeout))
    try:
        client.login(user, password)
        typ, data = client.select(quote(folder).decode(), readonly=True)
        if typ != "OK":
            raise DrainError(f"EXAMINE failed: {data!r}")
        started = time.perf_counter()
        typ, rows = client.uid("FETCH", "1:*", items.decode())
        seconds = time.perf_counter() - started
        if typ != "OK":
            raise DrainError(f"FETCH failed: {rows!r}")
        nbytes = messages = 0
        for row in rows:
            if isinstance(row, tuple):
                messages += 1
                nbytes += sum(len(part) for part in row)
            elif row is not None:
                nbytes += len(row)
        return Drain(nbytes, seconds, messages)
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def main(argv: list[str]) -> int:
    if len(argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    host, port, user, password = argv[0], int(argv[1]), argv[2], argv[3]
    folder = argv[4] if len(argv) == 5 else "INBOX"
    for name, drain in (("raw", raw_drain), ("imaplib", imaplib_drain)):
        got = drain(host, port, user, password, folder)
        print(f"{name:8} {got.messages:8d} msgs {got.mb:9.1f} MB {got.seconds:8.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
