"""Account settings: validation naming the field and the fix; POP3 and Courier refused."""

from __future__ import annotations

import dataclasses

import pytest

from inboxlab.engine.errors import ConfigError
from inboxlab.engine.settings import (
    POP3_FIX,
    AccountSettings,
    ImapServer,
    SmtpServer,
    detect_greeting,
    is_loopback,
    parse_server,
)


def imap(host: str = "imap.example.com", port: int = 993, security: str = "tls") -> ImapServer:
    return ImapServer(host, port, security)  # type: ignore[arg-type]


def test_good_settings_are_frozen_and_printable() -> None:
    acct = AccountSettings("ann@example.com", imap(), SmtpServer("smtp.example.com", 587,
                           "starttls"), bcc_address="12345@bcc.hubspot.com")
    assert acct.allow_insecure_certificate is False
    assert acct.allow_plaintext_login is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        acct.username = "bob"  # type: ignore[misc]
    assert "ann@example.com" in repr(acct)


@pytest.mark.parametrize(("kwargs", "field", "code"), [
    ({"host": ""}, "imap.host", "config"),
    ({"host": "imap example.com"}, "imap.host", "config"),
    ({"host": "user@imap.example.com"}, "imap.host", "config"),
    ({"host": "imaps://imap.example.com"}, "imap.host", "config"),
    ({"host": "bad_-.-host..com"}, "imap.host", "config"),
    ({"port": 0}, "imap.port", "config"),
    ({"port": 70000}, "imap.port", "config"),
    ({"port": True}, "imap.port", "config"),
    ({"port": "993"}, "imap.port", "config"),
    ({"port": 587}, "imap.port", "config"),
    ({"security": "ssl"}, "imap.security", "config"),
    ({"port": 993, "security": "starttls"}, "imap.security", "config"),
    ({"port": 143, "security": "tls"}, "imap.security", "config"),
])
def test_bad_server_fields_name_the_field_and_the_fix(
    kwargs: dict[str, object], field: str, code: str
) -> None:
    args: dict[str, object] = {"host": "imap.example.com", "port": 993, "security": "tls"}
    args.update(kwargs)
    with pytest.raises(ConfigError) as caught:
        ImapServer(**args)  # type: ignore[arg-type]
    err = caught.value
    assert str(err.message).startswith(field + ":")
    assert err.code == code and err.permanent and err.stage == "config"
    assert err.remediation


def test_ip_literals_and_idn_hosts_are_fine() -> None:
    assert imap("192.0.2.7").host == "192.0.2.7"
    assert imap("::1", 143, "starttls").loopback
    assert imap("mail.bücher.example").host == "mail.bücher.example"


@pytest.mark.parametrize(("host", "loop"), [
    ("localhost", True), ("127.0.0.1", True), ("127.5.5.5", True), ("::1", True),
    ("[::1]", True), ("x.localhost", True), ("imap.example.com", False), ("10.0.0.1", False),
])
def test_loopback_detection_without_dns(host: str, loop: bool) -> None:
    assert is_loopback(host) is loop


def test_plaintext_to_a_remote_host_needs_explicit_opt_in() -> None:
    with pytest.raises(ConfigError) as caught:
        AccountSettings("ann", imap("imap.example.com", 143, "plain"))
    assert caught.value.code == "plaintext_login_refused"
    assert "imap.security" in str(caught.value)
    assert "allow_plaintext_login" in (caught.value.remediation or "")
    ok = AccountSettings("ann", imap("imap.example.com", 143, "plain"),
                         allow_plaintext_login=True)
    assert ok.allow_plaintext_login
    assert AccountSettings("ann", imap("127.0.0.1", 1143, "plain")).imap.loopback
    with pytest.raises(ConfigError, match=r"smtp\.security"):
        AccountSettings("ann", imap(), SmtpServer("smtp.example.com", 25, "plain"))


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"username": ""}, "username"),
    ({"username": "ann\r\nA1 LOGOUT"}, "username"),
    ({"bcc_address": "not an address"}, "bcc_address"),
    ({"imap": "imaps://imap.example.com"}, "imap"),
    ({"smtp": ImapServer("imap.example.com", 993)}, "smtp"),
    ({"folder_overrides": (("sentt", "Sent"),)}, "folder_overrides"),
    ({"folder_overrides": (("sent",),)}, "folder_overrides"),
    ({"folder_overrides": (("sent", ""),)}, "folder_overrides"),
])
def test_bad_account_fields(kwargs: dict[str, str], field: str) -> None:
    args: dict[str, object] = {"username": "ann", "imap": imap()}
    args.update(kwargs)
    with pytest.raises(ConfigError, match=f"^.*{field}:"):
        AccountSettings(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize("build", [
    lambda: imap("pop3://mail.example.com"),
    lambda: imap("pop://mail.example.com"),
    lambda: imap(port=110, security="starttls"),
    lambda: imap(port=995),
    lambda: parse_server("pop3s://mail.example.com"),
    lambda: parse_server("pop://mail.example.com:110"),
    lambda: parse_server("mail.example.com:995"),
])
def test_pop3_is_refused_with_the_reason_and_what_to_ask_it_for(build: object) -> None:
    with pytest.raises(ConfigError) as caught:
        build()  # type: ignore[operator]
    err = caught.value
    assert err.code == "pop3_unsupported" and err.permanent
    assert "stay on the server" in err.message and "deletes" in err.message
    assert err.remediation == POP3_FIX
    assert "enable IMAP" in POP3_FIX and "993" in POP3_FIX


@pytest.mark.parametrize(("text", "expected"), [
    ("imaps://imap.example.com:993", ImapServer("imap.example.com", 993, "tls")),
    ("imaps://imap.example.com", ImapServer("imap.example.com", 993, "tls")),
    ("imap://imap.example.com", ImapServer("imap.example.com", 143, "starttls")),
    ("imap://127.0.0.1:1143?security=plain", ImapServer("127.0.0.1", 1143, "plain")),
    ("imap.example.com", ImapServer("imap.example.com", 993, "tls")),
    ("imap.example.com:143", ImapServer("imap.example.com", 143, "starttls")),
    ("IMAPS://[::1]:10993", ImapServer("::1", 10993, "tls")),
    ("  imaps://imap.example.com/  ", ImapServer("imap.example.com", 993, "tls")),
])
def test_parse_server_urls(text: str, expected: ImapServer) -> None:
    assert parse_server(text) == expected


def test_parse_smtp_urls_and_round_trip() -> None:
    assert parse_server("smtp://smtp.example.com", "smtp") == SmtpServer(
        "smtp.example.com", 587, "starttls")
    assert parse_server("smtps://smtp.example.com", "smtp").port == 465
    for server in (ImapServer("::1", 10993, "tls"), ImapServer("h.example", 1143, "plain"),
                   SmtpServer("h.example", 587, "starttls")):
        assert parse_server(server.url(), server.protocol) == server  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "code", "words"), [
    ("", "config", "no server"),
    ("imaps://ann:hunter2@imap.example.com", "password_in_url", "password"),
    ("imaps://ann@imap.example.com", "config", "user name"),
    ("smtp://smtp.example.com", "config", "unknown scheme"),
    ("imaps://imap.example.com:99999", "config", "cannot be read"),
    ("imaps://imap.example.com/INBOX", "config", "path"),
    ("imaps://imap.example.com?tls=1", "config", "unknown option"),
    ("imaps://imap.example.com:143", "config", "cleartext"),
])
def test_parse_server_errors_are_typed(text: str, code: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_server(text)
    assert caught.value.code == code
    assert words in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("line", [
    b"+OK Dovecot ready.\r\n",
    b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
    b"-ERR too many connections\r\n",
])
def test_pop3_greeting_is_recognised(line: bytes) -> None:
    refusal = detect_greeting(line)
    assert refusal is not None and refusal.code == "pop3_unsupported"
    assert refusal.error.stage == "imap_greeting"
    assert refusal.error.server_text == line.decode().strip()


def test_courier_greeting_is_refused_with_the_observed_greeting() -> None:
    line = (b"* OK [CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE IDLE STARTTLS] "
            b"Courier-IMAP ready. Copyright 1998-2018 Double Precision, Inc.\r\n")
    refusal = detect_greeting(line)
    assert refusal is not None and refusal.code == "courier_unsupported"
    assert "not supported" in refusal.error.message
    assert "Courier-IMAP ready" in (refusal.error.server_text or "")
    assert refusal.error.permanent


def test_smtp_greeting_on_the_imap_port() -> None:
    refusal = detect_greeting(b"220 mx.example.com ESMTP Postfix\r\n")
    assert refusal is not None and refusal.code == "smtp_on_imap_port"


@pytest.mark.parametrize("line", [
    b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE] Dovecot ready.\r\n",
    b"* OK Gimap ready for requests from 192.0.2.1\r\n",
    b"* PREAUTH IMAP4rev1 server logged in as ann\r\n",
    b"",
    b"\xff\xfe garbage",
])
def test_ordinary_or_odd_greetings_are_not_refused(line: bytes) -> None:
    assert detect_greeting(line) is None


def test_tls_context_verifies_unless_explicitly_told_not_to() -> None:
    import ssl

    strict = AccountSettings("ann", imap()).tls_context()
    assert strict.verify_mode is ssl.CERT_REQUIRED and strict.check_hostname
    assert strict.minimum_version >= ssl.TLSVersion.TLSv1_2
    lax = AccountSettings("ann", imap(), allow_insecure_certificate=True).tls_context()
    assert lax.verify_mode is ssl.CERT_NONE and not lax.check_hostname


def test_folder_overrides_become_roles() -> None:
    from inboxlab.engine.roles import Role

    acct = AccountSettings("ann", imap(), folder_overrides=(("sent", "Gesendete Objekte"),))
    assert acct.overrides == {Role.SENT: "Gesendete Objekte"}
