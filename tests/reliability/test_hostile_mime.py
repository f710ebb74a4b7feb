"""MIME bombs are refused while parsing, not after (issue 12, item 4).

100k empty parts took 32 s to refuse (the part count was checked after a full parse); a
64 MB header folded into 16M lines took 30 s and 1.9 GB even for headers only. The stdlib
parser stays; ``engine.crm.mimelimits`` stops it at the first broken limit. No timing
assertion: the tests count the work the parser did (parts created, header blocks
parsed), which is what refusal time and memory grow with.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.feedparser import FeedParser
from pathlib import Path
from typing import Any

import pytest
from mime_evil import HEADER, nested

from inboxlab.engine.crm import mimelimits
from inboxlab.engine.crm.errors import MalformedMessage
from inboxlab.engine.crm.ingest import LoggedEmail, parse_headers, parse_message


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Counts of the feed parser's own steps: parts created, header blocks parsed."""
    seen = {"parts": 0, "header_blocks": 0}
    new_message, parse_headers_ = FeedParser._new_message, FeedParser._parse_headers  # type: ignore[attr-defined]

    def counting_new(self: Any) -> None:
        seen["parts"] += 1
        new_message(self)

    def counting_headers(self: Any, lines: list[str]) -> None:
        seen["header_blocks"] += 1
        parse_headers_(self, lines)

    monkeypatch.setattr(FeedParser, "_new_message", counting_new)
    monkeypatch.setattr(FeedParser, "_parse_headers", counting_headers)
    yield seen


def refused(raw: bytes, *, headers_only: bool = False) -> MalformedMessage:
    with pytest.raises(MalformedMessage) as err:
        if headers_only:
            parse_headers(raw)
        else:
            parse_message(raw)
    return err.value


def test_100k_empty_parts_stop_the_parse_at_the_limit(work: dict[str, int]) -> None:
    raw = (HEADER + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
           + b"--b\r\n\r\n" * 100_000 + b"--b--\r\n")
    err = refused(raw)
    assert err.code == "too_many_parts" and f"{mimelimits.MAX_PARTS} MIME parts" in err.message
    assert work["parts"] <= mimelimits.MAX_PARTS  # not 100,001 parts built first


@pytest.mark.parametrize("headers_only", [False, True], ids=["message", "headers"])
def test_a_header_folded_into_a_million_lines_is_refused_unparsed(
        work: dict[str, int], headers_only: bool) -> None:
    raw = HEADER + b"X-Bomb: a" + b"\r\n b" * 1_000_000 + b"\r\n\r\nbody\r\n"
    err = refused(raw, headers_only=headers_only)
    assert err.code == "too_many_header_lines" and "lines (limit" in err.message
    assert work == {"parts": 0, "header_blocks": 0}  # refused before the parser ran


def test_a_part_header_bomb_is_refused_at_that_part(work: dict[str, int]) -> None:
    part = b"--b\r\nContent-Type: text/plain\r\nX-Bomb: a" + b"\r\n b" * 20_000 + b"\r\n\r\nhi\r\n"
    raw = (HEADER + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
           + b"--b\r\n\r\nfirst\r\n" + part + b"--b--\r\n")
    err = refused(raw)
    assert err.code == "too_many_header_lines" and "a part's header" in err.message


def test_nesting_deeper_than_the_limit_is_refused_as_it_is_reached(
        work: dict[str, int]) -> None:
    err = refused(nested(mimelimits.MAX_DEPTH + 50))
    assert err.code == "too_deep"
    assert work["parts"] <= mimelimits.MAX_DEPTH + 1


def test_millions_of_lines_are_refused_before_parsing(work: dict[str, int]) -> None:
    raw = HEADER + b"\r\n" + b"\n" * (mimelimits.MAX_LINES + 1)
    err = refused(raw)
    assert err.code == "too_many_lines" and work["parts"] == 0


def test_the_limits_leave_real_mail_alone() -> None:
    ok = parse_message(nested(100))  # the corpus' 100-deep multipart stays usable
    assert isinstance(ok, LoggedEmail) and "innermost" in ok.text
    subject = HEADER.replace(b"Subject: Re: q", b"Subject: " + b"x" * 10_000_000)
    assert isinstance(parse_message(subject + b"\r\nbody\r\n"), LoggedEmail)
    parts = (HEADER + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
             + b"--b\r\nContent-Type: text/plain\r\n\r\npart\r\n" * 900 + b"--b--\r\n")
    assert parse_message(parts).text.startswith("part")


async def test_a_mime_bomb_reply_is_refused_and_the_next_reply_logged(tmp_path: Path) -> None:
    """Through the product path (scan, body fetch, off-loop parse): the bomb gets a
    refusal with its reason, the good reply after it is logged."""
    from crm.crm_kit import crm_lab

    from inboxlab.engine.crm.ingest import Address
    from inboxlab.engine.crm.send import Draft

    bomb = (HEADER + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
            + b"--b\r\n\r\n" * 20_000 + b"--b--\r\n")
    good = HEADER + b"\r\nThanks, deal.\r\n"
    async with crm_lab(tmp_path) as lab:
        rec = await lab.outbox.send(Draft((Address("bob@client.test", "Bob"),), "q", "hi\n"))
        account = lab.imap.store.authenticate("sam@crm.test", "lab password")
        assert account is not None
        for i, raw in enumerate((bomb, good)):
            account.get("INBOX").append(
                raw.replace(b"<q1@crm.test>", rec.message_id.encode())
                .replace(b"<evil@client.test>", b"<r%d@client.test>" % i))
        await lab.scan()
        refusals = await lab.store.refusals()
        async with lab.db.transaction(write=False) as conn, conn.execute(
                "SELECT message_id FROM emails") as cur:
            stored = {str(r[0]) for r in await cur.fetchall()}
    assert "<r1@client.test>" in stored and "<r0@client.test>" not in stored
    assert any(r[0] == "<r0@client.test>" and "MIME parts" in r[2] for r in refusals), refusals
