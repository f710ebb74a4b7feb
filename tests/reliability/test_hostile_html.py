"""Hostile HTML replies must not stall the engine (issue 12, item 3).

nh3's cost grows quadratically with nesting depth and it ran on the event loop: a 300 KB
reply of 64k unclosed ``<div>`` took 22.8 s, and the next reply was logged 34 s late.
Now the whole parse runs in a worker thread, cheap guards keep such HTML away from nh3
(the text is stored, with a note saying why), and a time limit bounds what passes them.

No timing assertion: the loop's responsiveness is a condition. The sanitizer is made to
wait until a heartbeat task on the loop has ticked; if the sanitizer ran on the loop,
the heartbeat could never tick (the wait gives up after a deadline and the test fails).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import nh3
import pytest
from mime_evil import HEADER

from inboxlab.engine.crm import sanitize
from inboxlab.engine.crm.ingest import LoggedEmail, parse_message

DEADLINE = 10.0  # seconds the sanitizer waits for the heartbeat before giving up


def html_reply(html: bytes, mid: bytes = b"<evil@client.test>") -> bytes:
    return (HEADER.replace(b"<evil@client.test>", mid)
            + b"Content-Type: text/html; charset=utf-8\r\n\r\n" + html + b"\r\n")


async def _logged(lab: Any) -> dict[str, tuple[str, str, str]]:
    async with lab.db.transaction(write=False) as conn, conn.execute(
            "SELECT message_id, text_body, html_body, notes FROM emails") as cur:
        return {str(r[0]): (r[1] or "", r[2] or "", r[3] or "") for r in await cur.fetchall()}


async def test_the_event_loop_ticks_while_a_reply_is_sanitized(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crm.crm_kit import crm_lab

    from inboxlab.engine.crm.ingest import Address
    from inboxlab.engine.crm.send import Draft

    inside = threading.Event()  # the sanitizer is running
    ticked = threading.Event()  # the heartbeat ran on the loop meanwhile
    waited: list[bool] = []
    real = nh3.clean

    def slow_clean(html: str, **kw: Any) -> str:
        inside.set()
        waited.append(ticked.wait(DEADLINE))
        return real(html, **kw)

    async def heartbeat() -> None:
        beats = 0  # ticks of the loop while the sanitizer is busy
        while beats < 3:
            await asyncio.sleep(0.005)
            beats += inside.is_set()
        ticked.set()

    monkeypatch.setattr(nh3, "clean", slow_clean)
    async with crm_lab(tmp_path) as lab:
        rec = await lab.outbox.send(Draft((Address("bob@client.test", "Bob"),), "q", "hi\n"))
        account = lab.imap.store.authenticate("sam@crm.test", "lab password")
        assert account is not None
        raw = html_reply(b"<p>Thanks, <b>deal</b>.</p>").replace(
            b"<q1@crm.test>", rec.message_id.encode())
        account.get("INBOX").append(raw)
        beat = asyncio.create_task(heartbeat())
        try:
            await lab.scan()
        finally:
            ticked.set()
            beat.cancel()
        logged = await _logged(lab)
    assert waited == [True], "the event loop did not run while the HTML was sanitized"
    assert "deal" in logged["<evil@client.test>"][1]


def test_64k_unclosed_divs_are_stored_as_text_with_the_reason() -> None:
    html = b"<div>" * 65536 + b"Thanks, deal &amp; done"  # the 320 KB case
    email = parse_message(html_reply(html))
    assert isinstance(email, LoggedEmail)
    assert email.html == ""
    assert "deal & done" in email.text
    assert any(f"nested more than {sanitize.MAX_HTML_DEPTH} elements deep" in n
               and "stored as text only" in n for n in email.notes), email.notes


def test_too_many_tags_are_stored_as_text_with_the_reason() -> None:
    # (the size guard needs no test of its own here: a part's text is cut to MAX_TEXT
    # characters before it reaches the sanitizer, and MAX_HTML is the same)
    email = parse_message(html_reply(b"<span>x</span>" * (sanitize.MAX_HTML_TAGS // 2 + 1)))
    assert email.html == "" and "x" in email.text
    assert any("more than 50000 tags" in n for n in email.notes), email.notes[:1]


def test_ordinary_html_is_still_sanitized_and_kept() -> None:
    deep_but_fine = b"<div>" * 200 + b"<script>x()</script><a href='javascript:y'>ok</a>"
    list_items = b"<ul>" + b"<li>item" * 2000 + b"</ul>"  # unclosed <li> do not nest
    for html in (deep_but_fine, list_items):
        email = parse_message(html_reply(html))
        assert email.html and "<script" not in email.html and "javascript" not in email.html
        assert not email.notes


def test_a_sanitizer_that_takes_too_long_is_given_up_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def stuck(html: str, **kw: Any) -> str:
        release.wait(DEADLINE)
        return ""

    monkeypatch.setattr(nh3, "clean", stuck)
    monkeypatch.setattr(sanitize, "SANITIZE_SECONDS", 0.2)
    try:
        email = parse_message(html_reply(b"<p>Thanks, deal</p>"))
    finally:
        release.set()
    assert email.html == "" and "Thanks, deal" in email.text
    assert any("took longer than 0.2 s" in n for n in email.notes), email.notes
