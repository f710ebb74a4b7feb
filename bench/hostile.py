"""Time and peak RSS of the engine against hostile input (issue 12), each beside a reference.

Every case runs in a child process of its own, so its peak RSS (``VmHWM``) is that case's
alone. Each hostile case is paired with a reference measured in the same run:

- ``greeting``: ``ImapClient.connect`` against a server whose greeting announces a
  1 GiB literal and then pushes bytes (up to ``--flood`` MB). Reference: the same client
  against an honest greeting (connect, CAPABILITY, LOGOUT). ``greeting-unbounded`` is
  the old behaviour (the pre-login limit widened to 1 GiB), for the memory it costs.
- ``html``: a reply of N unclosed ``<div>`` (the issue's 64k: 320 KB) through
  ``parse_message_off_loop`` while a 10 ms heartbeat runs on the loop; its longest gap is
  the stall other replies would see. Reference: the old path, nh3 on the loop (same
  input, ``--html-ref-divs`` so the run stays short: nh3 is quadratic, 64k took 22.8 s).
- ``parts``: 100k empty MIME parts. ``header``: one header folded into 16M lines (64 MB),
  headers only. Both through ``parse_message``/``parse_headers`` (refused); reference:
  the stdlib ``BytesParser`` on the same bytes (what the engine did before the limits).

    .venv/bin/python -m bench.hostile            # all cases, the issue's sizes
    .venv/bin/python -m bench.hostile --json
    .venv/bin/python -m bench.hostile --case html
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MB = 1e6


def peak_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / MB
    return float("nan")


# -- the cases (each runs in a child: ``--case NAME``) ---------------------------------

async def _flood_server(announce: bytes, flood: int) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(announce)
            await writer.drain()
            chunk, sent = b"x" * (1 << 20), 0
            while sent < flood:
                writer.write(chunk)
                await writer.drain()
                sent += len(chunk)
            await reader.read(1)  # hold the connection until the client gives up
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _honest_server() -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK [CAPABILITY IMAP4rev1] honest\r\n")
        while line := await reader.readline():
            tag, _, verb = line.partition(b" ")
            if verb.upper().startswith(b"LOGOUT"):
                writer.write(b"* BYE bye\r\n" + tag + b" OK done\r\n")
                await writer.drain()
                break
            writer.write(b"* CAPABILITY IMAP4rev1\r\n" + tag + b" OK done\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def case_greeting(opts: argparse.Namespace, unbounded: bool = False) -> dict[str, Any]:
    """The flood server shares the child (it reuses one 1 MB chunk: the peak is the
    client's); ``unbounded`` widens the pre-login limit to the old 1 GiB cap."""
    from inboxlab.engine.errors import EngineError
    from inboxlab.engine.imap import connection, limits
    from inboxlab.engine.imap.client import ImapClient

    if unbounded:
        connection.PRE_AUTH = limits.Limits("pre_auth", 1 << 30, 1 << 30, 1 << 31)

    async def run() -> str:
        server, port = await _flood_server(b"* OK {1073741000}\r\n", int(opts.flood * MB))
        client = ImapClient("127.0.0.1", port, security="plain", timeout=opts.timeout,
                            connect_timeout=opts.timeout)
        try:
            await client.connect()
            return "connected"
        except EngineError as exc:
            return f"{type(exc).__name__} {getattr(exc, 'limit', '') or exc.code}"
        finally:
            await client.close()
            server.close()

    t0 = time.perf_counter()
    outcome = asyncio.run(run())
    return {"seconds": time.perf_counter() - t0, "peak_mb": peak_mb(), "outcome": outcome}


def case_greeting_unbounded(opts: argparse.Namespace) -> dict[str, Any]:
    return case_greeting(opts, unbounded=True)


def case_greeting_ref(opts: argparse.Namespace) -> dict[str, Any]:
    from inboxlab.engine.imap.client import ImapClient

    async def run() -> str:
        server, port = await _honest_server()
        client = ImapClient("127.0.0.1", port, security="plain", timeout=opts.timeout)
        await client.connect()
        await client.capability()
        await client.logout()
        server.close()
        return "ok"

    t0 = time.perf_counter()
    outcome = asyncio.run(run())
    return {"seconds": time.perf_counter() - t0, "peak_mb": peak_mb(), "outcome": outcome}


def _html_reply(divs: int) -> bytes:
    return (b"From: Bob <bob@client.test>\r\nMessage-ID: <h@client.test>\r\n"
            b"Content-Type: text/html; charset=utf-8\r\n\r\n"
            + b"<div>" * divs + b"Thanks, deal\r\n")


async def _with_heartbeat(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """(seconds, longest heartbeat gap, result) of ``await work()`` beside a 10 ms tick."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.02)
    t0 = time.perf_counter()
    result = await work()
    seconds = time.perf_counter() - t0
    done.set()
    await beat
    return seconds, max(gaps), result


def case_html(opts: argparse.Namespace) -> dict[str, Any]:
    from inboxlab.engine.crm.ingest import parse_message_off_loop

    raw = _html_reply(opts.html_divs)
    seconds, stall, email = asyncio.run(_with_heartbeat(lambda: parse_message_off_loop(raw)))
    return {"seconds": seconds, "peak_mb": peak_mb(), "longest_stall": stall,
            "outcome": "; ".join(email.notes) or "kept", "bytes": len(raw)}


def case_html_ref(opts: argparse.Namespace) -> dict[str, Any]:
    import nh3

    from inboxlab.engine.crm.sanitize import HTML_TAGS

    html = _html_reply(opts.html_ref_divs).split(b"\r\n\r\n", 1)[1].decode()

    async def on_loop() -> str:
        return nh3.clean(html, tags=set(HTML_TAGS))

    seconds, stall, _ = asyncio.run(_with_heartbeat(on_loop))
    return {"seconds": seconds, "peak_mb": peak_mb(), "longest_stall": stall,
            "outcome": f"nh3 on the loop, {opts.html_ref_divs} divs", "bytes": len(html)}


def _parts_bomb(n: int) -> bytes:
    return (b"From: Bob <bob@client.test>\r\nMessage-ID: <p@client.test>\r\n"
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + b"--b\r\n\r\n" * n
            + b"--b--\r\n")


def _header_bomb(lines: int) -> bytes:
    return (b"From: Bob <bob@client.test>\r\nX-Bomb: a" + b"\r\n b" * lines
            + b"\r\n\r\nbody\r\n")


def _refusal(fn: Callable[[bytes], Any], raw: bytes) -> dict[str, Any]:
    from inboxlab.engine.crm.errors import MalformedMessage

    t0 = time.perf_counter()
    try:
        fn(raw)
        outcome = "parsed"
    except MalformedMessage as exc:
        outcome = f"refused: {exc.code}"
    return {"seconds": time.perf_counter() - t0, "peak_mb": peak_mb(), "outcome": outcome,
            "bytes": len(raw)}


def _stdlib(raw: bytes, headersonly: bool = False) -> dict[str, Any]:
    from email import policy
    from email.parser import BytesParser

    t0 = time.perf_counter()
    msg = BytesParser(policy=policy.default).parsebytes(raw, headersonly=headersonly)
    parts = sum(1 for _ in msg.walk())
    return {"seconds": time.perf_counter() - t0, "peak_mb": peak_mb(),
            "outcome": f"stdlib parse, {parts} parts", "bytes": len(raw)}


def case_parts(opts: argparse.Namespace) -> dict[str, Any]:
    from inboxlab.engine.crm.ingest import parse_message

    return _refusal(parse_message, _parts_bomb(opts.parts))


def case_parts_ref(opts: argparse.Namespace) -> dict[str, Any]:
    return _stdlib(_parts_bomb(opts.parts))


def case_header(opts: argparse.Namespace) -> dict[str, Any]:
    from inboxlab.engine.crm.ingest import parse_headers

    return _refusal(parse_headers, _header_bomb(opts.header_lines))


def case_header_ref(opts: argparse.Namespace) -> dict[str, Any]:
    return _stdlib(_header_bomb(opts.header_lines), headersonly=True)


def case_baseline(opts: argparse.Namespace) -> dict[str, Any]:
    """A child that imports the engine and does nothing: the RSS floor."""
    import inboxlab.engine.crm.ingest
    import inboxlab.engine.imap.client  # noqa: F401

    return {"seconds": 0.0, "peak_mb": peak_mb(), "outcome": "imports only"}


CASES: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "baseline": case_baseline,
    "greeting": case_greeting,
    "greeting-ref": case_greeting_ref,
    "greeting-unbounded": case_greeting_unbounded,
    "html": case_html,
    "html-ref": case_html_ref,
    "parts": case_parts,
    "parts-ref": case_parts_ref,
    "header": case_header,
    "header-ref": case_header_ref,
}


# -- the parent: one child per case, a table ----------------------------------------------

def run_child(name: str, argv: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.hostile", "--child", name, *argv],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout).strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", action="append", choices=[c for c in CASES if "-" not in c])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--flood", type=float, default=256.0, help="MB the greeting flood pushes")
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--html-divs", type=int, default=65536)
    ap.add_argument("--html-ref-divs", type=int, default=16384)
    ap.add_argument("--parts", type=int, default=100_000)
    ap.add_argument("--header-lines", type=int, default=16_000_000)
    opts = ap.parse_args()
    if opts.child:
        print(json.dumps(CASES[opts.child](opts)))
        return
    argv = [f"--flood={opts.flood}", f"--timeout={opts.timeout}",
            f"--html-divs={opts.html_divs}", f"--html-ref-divs={opts.html_ref_divs}",
            f"--parts={opts.parts}", f"--header-lines={opts.header_lines}"]
    chosen = opts.case or ["greeting", "html", "parts", "header"]
    names = ["baseline"] + [n for c in chosen for n in CASES if n == c or n.startswith(c + "-")]
    results = {name: run_child(name, argv) for name in names}
    info = {"load": os.getloadavg(), "python": sys.version.split()[0]}
    if opts.json:
        print(json.dumps({"info": info, "results": results}, indent=2))
        return
    print(f"load average {info['load'][0]:.1f} {info['load'][1]:.1f}; one child per case")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:20} ERROR {r['error']}")
            continue
        stall = f" longest loop stall {r['longest_stall']:.3f} s" if "longest_stall" in r else ""
        print(f"{name:20} {r['seconds']:8.3f} s  peak RSS {r['peak_mb']:7.1f} MB{stall}  "
              f"{r['outcome']}")
    for c in chosen:
        a, b = results.get(c, {}), results.get(f"{c}-ref", {})
        if "seconds" in a and "seconds" in b and b["seconds"] > 0:
            print(f"{c}: time {a['seconds'] / b['seconds']:.3f}x the reference, peak RSS "
                  f"{a['peak_mb'] / b['peak_mb']:.2f}x")


if __name__ == "__main__":
    main()
