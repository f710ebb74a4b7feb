"""Redaction at record time: no password, SASL payload or token survives into a ring."""

from __future__ import annotations

import base64

from engine.diag.redact import REDACTED, Redactor, omit_literals
from engine.diag.tracering import TraceRing

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
