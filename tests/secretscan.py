"""Find a secret in bytes: plain, or inside any base64 run at any alignment (SASL, XOAUTH2).

Top-level in tests/ so the diag and reliability secret checks share one scanner."""

from __future__ import annotations

import base64
import binascii
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

_B64 = re.compile(rb"[A-Za-z0-9+/]{8,}={0,2}")


def leaks(data: bytes, secrets: Iterable[bytes]) -> list[str]:
    wanted = tuple(secrets)
    found = [s.decode(errors="replace") for s in wanted if s in data]
    for m in _B64.finditer(data):
        word = m.group(0)
        for start in range(4):  # the secret may sit inside a longer base64 run
            chunk = word[start:]
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            try:
                decoded = base64.b64decode(chunk)
            except (binascii.Error, ValueError):
                continue
            found += [f"base64 of {s.decode(errors='replace')}" for s in wanted if s in decoded]
    return found


def checkpoint(db: Path) -> None:
    """Fold the WAL into the file so the scan reads every page SQLite ever wrote."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(FULL)")


def scan_tree(roots: Iterable[Path], secrets: Iterable[bytes]) -> dict[str, list[str]]:
    """Every file under ``roots`` (names included) that holds a secret, with what was found."""
    wanted = tuple(secrets)
    out: dict[str, list[str]] = {}
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            hit = leaks(path.read_bytes() + b"\n" + str(path).encode(), wanted)
            if hit:
                out[str(path)] = hit
    return out
