"""Redaction at record time: no password, SASL payload or token survives into a ring."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import pytest

from inboxlab.engine.diag.record import Recorder
from inboxlab.engine.diag.redact import REDACTED, Redactor, omit_literals
from inboxlab.engine.diag.tracering import TraceRing
from inboxlab.engine.imap.client import ImapClient
from inboxlab.engine.imap.results import Credentials
from inboxlab.fakeserver.config import AccountConfig, Capabilities, FolderConfig, ServerConfig
from inboxlab.fakeserver.imap.server import FakeImapServer

PASSWORD = "s3cret-Pa55word!"
TOKEN = "ya29.a0AfH6SMB-known-token-value"


def test_imap_login_keeps_the_user_and_hides_the_password() -> None:
    r = Redactor()
    line = r.client(f'A1 LOGIN "me@x.example" "{PASSWORD}"')
    assert line == f'A1 LOGIN "me@x.example" {REDACTED}'
    assert r.client(f"A2 login me {PASSWORD}") == f"A2 login me {REDACTED}"
    assert PASSWORD not in r.client(f"A3 LOGIN {PASSWORD}")


def test_authenticate_hides_sasl_ir_and_continuations_until_the_tagged_answer() -> None:
    r = Redactor()
    blob = base64.b64encode(f"\0me\0{PASSWORD}".encode()).decode()
    assert r.client(f"A1 AUTHENTICATE PLAIN {blob}") == f"A1 AUTHENTICATE PLAIN {REDACTED}"
    assert r.client("A1 NOOP") == REDACTED  # still inside A1's exchange
    r.server("A1 NO [AUTHENTICATIONFAILED] Invalid credentials")
    assert r.client("A2 AUTHENTICATE XOAUTH2") == "A2 AUTHENTICATE XOAUTH2"
    assert r.server("+ ") == "+ "
    xo = base64.b64encode(f"user=me\x01auth=Bearer {TOKEN}\x01\x01".encode()).decode()
    assert r.client(xo) == REDACTED
    assert r.server("A2 OK authenticated") == "A2 OK authenticated"
    assert r.client("A3 SELECT INBOX") == "A3 SELECT INBOX"


def test_smtp_auth_login_hides_both_base64_lines() -> None:
    r = Redactor()
    assert r.client("AUTH LOGIN") == "AUTH LOGIN"
    r.server("334 VXNlcm5hbWU6")
    assert r.client(base64.b64encode(b"me@x.example").decode()) == REDACTED
    r.server("334 UGFzc3dvcmQ6")
    assert r.client(base64.b64encode(PASSWORD.encode()).decode()) == REDACTED
    r.server("235 2.7.0 Authentication successful")
    assert r.client("MAIL FROM:<me@x.example>") == "MAIL FROM:<me@x.example>"
    assert r.client(f"AUTH PLAIN {base64.b64encode(PASSWORD.encode()).decode()}") \
        == f"AUTH PLAIN {REDACTED}"


def test_stray_tokens_and_known_secrets_are_scrubbed_anywhere() -> None:
    r = Redactor([PASSWORD])
    assert TOKEN not in r.server(f"* OK auth=Bearer {TOKEN}")
    assert PASSWORD not in r.server(f"* NO your password {PASSWORD} is wrong")
    b64 = base64.b64encode(PASSWORD.encode()).decode()
    assert b64 not in r.client(f"A9 NOOP {b64}")


def test_bodies_can_be_replaced_by_their_size() -> None:
    text = "* 1 FETCH (UID 5 BODY[] {11}\r\nhello world)"
    assert omit_literals(text) == "* 1 FETCH (UID 5 BODY[] {11}[11 bytes])"
    assert Redactor(bodies=False).server(text).endswith("{11}[11 bytes])")
    assert "hello" in Redactor().server(text)


def test_the_ring_keeps_the_last_n_lines_per_connection() -> None:
    ring = TraceRing(3, clock=lambda: 0.0)
    for i in range(5):
        ring.record("imap.line.out", {"line": f"A{i:04d} NOOP"})
    ring.record("imap.line.out", {"line": "W0001 IDLE"})
    ring.record("imap.line.out", {"line": f"A0009 LOGIN me {PASSWORD}"})
    assert ring.texts("A") == ["A0003 NOOP", "A0004 NOOP", f"A0009 LOGIN me {REDACTED}"]
    assert ring.texts("W") == ["W0001 IDLE"]
    ring.record("imap.connect.failed", {"code": "dns"})
    assert ring.lines()[-1].direction == "*" and "dns" in ring.lines()[-1].text


# -- the redactor reads commands, not lines (issue 12) --------------------------------------


@pytest.mark.parametrize("command", [
    b'A1 LOGIN "me@x.example" "s3cret \\"quoted\\" pass"',
    b"A1 LOGIN me {20}\r\ns3cret \"quoted\" pass",
    b"A1 LOGIN {12}\r\nme@x.example {20+}\r\ns3cret \"quoted\" pass",
    b"A1 LOGIN {12-}\r\nme@x.example {20-}\r\ns3cret \"quoted\" pass",
    b"A1 LOGIN me ~{20}\r\ns3cret \"quoted\" pass",
    "A1 LOGIN me {21}\r\ns3cret \"quoted\" päss".encode(),
])
def test_login_hides_the_password_in_every_argument_form(command: bytes) -> None:
    r = Redactor()
    shown = r.client(command)
    assert "s3cret" not in shown and "pass" not in shown.split("me", 1)[-1], shown
    assert shown.endswith(REDACTED) and "me" in shown
    assert r.client(b"A2 SELECT INBOX") == "A2 SELECT INBOX"  # the LOGIN was whole


def test_a_login_whose_literal_is_still_outstanding_hides_what_follows() -> None:
    r = Redactor()
    assert r.client("A1 LOGIN me {8}") == f"A1 LOGIN me {REDACTED}"
    r.server("+ go ahead")
    assert r.client("password") == REDACTED
    r.server("A1 OK logged in")
    assert r.client("A2 NOOP") == "A2 NOOP"


@pytest.mark.parametrize("mech,initial", [
    ("PLAIN", base64.b64encode(b"\0me\0pw").decode()),
    ("XOAUTH2", base64.b64encode(f"user=me\x01auth=Bearer {TOKEN}\x01\x01".encode()).decode()),
    ("OAUTHBEARER", base64.b64encode(f"n,a=me,\x01auth=Bearer {TOKEN}\x01\x01".encode()).decode()),
    ("SCRAM-SHA-256", "biwsbj1tZSxyPWZ5a28rZDJsYmJGZ09OUnY5cWt4ZGF3TA=="),
    ("X-UNKNOWN", "anything at all here"),
])
def test_authenticate_hides_any_mechanism_wholesale(mech: str, initial: str) -> None:
    r = Redactor()
    assert r.client(f"A1 AUTHENTICATE {mech} {initial}") == f"A1 AUTHENTICATE {mech} {REDACTED}"
    assert r.server("+ eyJzdGF0dXMiOiI0MDEifQ==") .startswith("+")
    assert r.client("c29tZSBtb3JlIHNhc2w=") == REDACTED  # a continuation
    assert r.client("*") == "*"
    r.server("A1 NO [AUTHENTICATIONFAILED] no")
    assert r.client("A2 NOOP") == "A2 NOOP"


def test_smtp_auth_plain_and_login() -> None:
    r = Redactor()
    assert r.client("AUTH PLAIN AHNhbQBjb3JyZWN0IGhvcnNl") == f"AUTH PLAIN {REDACTED}"
    r.server("235 2.7.0 ok")
    assert r.client("AUTH LOGIN") == "AUTH LOGIN"
    r.server("334 VXNlcm5hbWU6")
    assert r.client("c2Ft") == REDACTED
    assert r.client("eA==") == REDACTED
    r.server("535 5.7.8 no")
    assert r.client("QUIT") == "QUIT"


def test_a_short_password_does_not_redact_unrelated_text() -> None:
    r = Redactor(["x"])
    assert r.client("A1 LOGIN me x") == f"A1 LOGIN me {REDACTED}"
    assert r.server("* OK text=x-ray") == "* OK text=x-ray"
    assert r.client("A2 FETCH 1 (BODY[TEXT])") == "A2 FETCH 1 (BODY[TEXT])"
    long_one = Redactor([PASSWORD])
    assert long_one.server(f"* NO {PASSWORD}") == f"* NO {REDACTED}"
    assert long_one.server(f"* NO x{PASSWORD}y") == f"* NO x{PASSWORD}y"  # not a whole word


async def test_record_writes_no_password_when_the_engine_logs_in_with_literals(
        tmp_path: Path) -> None:
    """The engine sends a non-ASCII password as a literal ({N} or {N+}); the recording
    proxy used to trace it in clear."""
    user, password = "lit@example.com", "pässwörd-ünïcode"
    cfg = ServerConfig(accounts=(AccountConfig(user, password, (FolderConfig("INBOX"),)),))
    out = tmp_path / "t.jsonl"
    for literal_plus in (False, True):
        cfg = dataclasses.replace(cfg, capabilities=Capabilities(literal_plus=literal_plus))
        async with FakeImapServer(cfg) as srv, Recorder(srv.host, srv.port, out) as rec:
            client = ImapClient("127.0.0.1", rec.port, security="plain", timeout=10)
            async with client:
                await client.login(Credentials(user, password))
                assert client.authenticated
        text = out.read_text(encoding="utf-8")
        assert "LOGIN" in text
        assert password not in text and "p\\u00e4ssw" not in text and "ssw" not in text, text


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_an_oauth_refusal_keeps_the_servers_error_challenge(mech: str) -> None:
    """The token and the client's dummy answer are hidden; the server's base64 JSON error
    (what diagnostics decode and quote) is kept, for IMAP and SMTP alike."""
    from inboxlab.engine.oauth import DUMMY_RESPONSE, initial_response
    from inboxlab.engine.secrets import Secret

    blob = initial_response(mech, "me@example.com", Secret(TOKEN)).decode()  # type: ignore[arg-type]
    challenge = base64.b64encode(b'{"status":"400","schemes":"bearer",'
                                 b'"scope":"https://mail.google.com/"}').decode()
    r = Redactor()
    assert TOKEN not in r.client(f"A1 AUTHENTICATE {mech} {blob}")
    assert r.server(f"+ {challenge}") == f"+ {challenge}"
    assert r.client(DUMMY_RESPONSE[mech].decode()) == REDACTED  # type: ignore[index]
    assert r.server("A1 NO Invalid SASL argument.") == "A1 NO Invalid SASL argument."
    s = Redactor()
    assert TOKEN not in s.client(f"AUTH {mech} {blob}")
    assert s.server(f"334 {challenge}") == f"334 {challenge}"
    assert s.client("") == REDACTED and s.server("535 5.7.8 no").startswith("535")
