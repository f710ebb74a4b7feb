"""Sans-I/O protocol details: IDLE pushes, ESEARCH, CONDSTORE activation, framing errors,
transcript redaction and modified UTF-7.
"""

from __future__ import annotations

import base64

import pytest

from inboxlab.fakeserver.imap import mutf7
from inboxlab.fakeserver.imap.hooks import ServerHooks
from inboxlab.fakeserver.imap.transcript import Redactor


def test_idle_pushes_other_sessions_changes_immediately(lab) -> None:
    idler = lab.driver(select="INBOX")
    other = lab.driver(select="INBOX")
    assert idler.send("i IDLE") == b"+ idling\r\n"
    assert idler.session.push_updates() == b""
    other.send(b"a APPEND INBOX {2+}\r\nhi")
    assert idler.session.push_updates() == b"* 21 EXISTS\r\n"
    other.send("b STORE 5 +FLAGS.SILENT (\\Deleted)")
    other.send("c EXPUNGE")
    assert idler.session.push_updates() == b"* 5 EXPUNGE\r\n"  # allowed while idling
    assert idler.send("DONE") == b"i OK IDLE terminated\r\n"
    assert idler.send("n NOOP") == b"n OK NOOP completed\r\n"


def test_idle_wakeup_is_called_for_changes(lab) -> None:
    idler = lab.driver(select="INBOX")
    calls: list[int] = []
    idler.session.wakeup = lambda: calls.append(1)
    idler.send("i IDLE")
    lab.driver(select="INBOX").send("s STORE 1 +FLAGS.SILENT (\\Flagged)")
    assert calls == [1]


def test_idle_expects_done(lab) -> None:
    d = lab.driver(select="INBOX")
    d.send("i IDLE")
    assert d.send("NOPE") == b"i BAD Expected DONE to end IDLE\r\n"
    assert d.send("n NOOP") == b"n OK NOOP completed\r\n"


def test_esearch_only_when_advertised(make_lab) -> None:
    on = make_lab(esearch=True).driver(select="INBOX")
    assert on.send("a UID SEARCH RETURN (MIN MAX COUNT) 3:6") == (
        b'* ESEARCH (TAG "a") UID MIN 3 MAX 6 COUNT 4\r\na OK SEARCH completed\r\n')
    assert on.send("b SEARCH RETURN () 1:3,5") == (
        b'* ESEARCH (TAG "b") ALL 1:3,5\r\nb OK SEARCH completed\r\n')
    off = make_lab().driver(select="INBOX")
    assert off.send("c SEARCH RETURN (MIN) ALL").startswith(b"c BAD ")


def test_select_condstore_adds_modseq_to_flag_updates(lab) -> None:
    plain = lab.driver(select="INBOX")
    assert b"MODSEQ" not in plain.send("a STORE 1 +FLAGS (\\Flagged)")
    cond = lab.driver()
    cond.send("s SELECT INBOX (CONDSTORE)")
    assert b"MODSEQ (" in cond.send("b STORE 2 +FLAGS (\\Flagged)")


def test_qresync_select_without_enable_is_bad(lab) -> None:
    d = lab.driver()
    assert d.send("s SELECT INBOX (QRESYNC (1 1))").startswith(b"s BAD ")


def test_oversized_literal_plus_is_fatal_bye_and_close(lab) -> None:
    from dataclasses import replace

    lab.config = replace(lab.config, max_literal=100)
    d = lab.driver()
    out = d.send(b"a APPEND INBOX {5000+}")
    assert out.startswith(b"* BYE ") and d.closed


def test_broken_command_hook_does_not_break_the_session(lab) -> None:
    class Broken(ServerHooks):
        def on_command(self, session, command):
            raise RuntimeError("hook bug")

    d = lab.driver(login=False, hooks=Broken())
    assert d.send("n NOOP") == b"n OK NOOP completed\r\n"


def test_enable_is_refused_once_selected(lab) -> None:
    d = lab.driver(select="INBOX")
    assert d.send("e ENABLE QRESYNC").startswith(b"e BAD ")


# -- transcript redaction ----------------------------------------------------------------


def _redact(*chunks: bytes, server: tuple[bytes, ...] = ()) -> bytes:
    red = Redactor()
    out = []
    for i, chunk in enumerate(chunks):
        out.append(red.inbound(chunk))
        if i < len(server):
            red.outbound(server[i])
    return b"".join(out)


def test_redactor_hides_login_arguments_quoted_and_literal() -> None:
    assert _redact(b'a LOGIN "me" "s3cret"\r\nb NOOP\r\n') == (
        b"a LOGIN [redacted]\r\nb NOOP\r\n")
    shown = _redact(b"a LOGIN me {6}\r\n", b"s3cret", b"\r\nb NOOP\r\n")
    assert b"s3cret" not in shown and shown.endswith(b"b NOOP\r\n")


def test_redactor_hides_sasl_initial_and_continued_responses() -> None:
    token = base64.b64encode(b"\0me\0s3cret")
    assert _redact(b"a AUTHENTICATE PLAIN " + token + b"\r\n") == (
        b"a AUTHENTICATE PLAIN [redacted]\r\n")
    shown = _redact(b"b AUTHENTICATE PLAIN\r\n", token + b"\r\n", b"c NOOP\r\n",
                    server=(b"+ \r\n", b"b OK done\r\n"))
    assert token not in shown and b"c NOOP" in shown


def test_redactor_keeps_other_literals_and_survives_split_lines() -> None:
    message = b"Subject: x\r\n\r\nbody\r\n"
    data = b"a APPEND INBOX {%d}\r\n%b\r\n" % (len(message), message)
    red = Redactor()
    assert b"".join(red.inbound(data[i : i + 3]) for i in range(0, len(data), 3)) == data


@pytest.mark.parametrize("name", ["Entwürfe", "Elementy wysłane", "A&B", "日本語/子", "plain"])
def test_modified_utf7_round_trip(name: str) -> None:
    encoded = mutf7.encode(name)
    assert encoded.isascii() and mutf7.decode(encoded) == name


def test_modified_utf7_known_values() -> None:
    assert mutf7.encode("Entwürfe") == "Entw&APw-rfe"
    assert mutf7.encode("A&B") == "A&-B"
