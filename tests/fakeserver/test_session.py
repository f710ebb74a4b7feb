"""Sans-I/O session tests: states, login, capabilities and their toggles, mailbox commands."""

from __future__ import annotations

import base64
import re

from inboxlab.fakeserver.imap.hooks import Reply, ServerHooks

PASSWORD_RE = re.compile(rb"inboxlab-demo")


def test_greeting_and_capabilities_differ_before_and_after_login(lab) -> None:
    d = lab.driver(login=False)
    assert d.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 ")
    before = d.send("a CAPABILITY")
    assert b"STARTTLS" in before and b"AUTH=PLAIN" in before
    assert b" MOVE" not in before
    login = d.login()
    assert login.startswith(b"L OK [CAPABILITY IMAP4rev1 ")
    assert b" MOVE" in login and b"STARTTLS" not in login
    after = d.send("b CAPABILITY")
    assert b" MOVE" in after and b"CONDSTORE" in after and b"b OK" in after


def test_login_failure_is_authenticationfailed_and_session_stays_usable(lab) -> None:
    d = lab.driver(login=False)
    assert d.send('a LOGIN user@example.com "wrong"').startswith(
        b"a NO [AUTHENTICATIONFAILED] ")
    assert d.send("b SELECT INBOX").startswith(b"b BAD ")  # still not authenticated
    assert b"L OK" in d.login()
    assert b"c OK" in d.send("c SELECT INBOX")


def test_authenticate_plain_with_initial_response_and_with_continuation(lab) -> None:
    token = base64.b64encode(b"\0user@example.com\0inboxlab-demo").decode()
    d = lab.driver(login=False)
    assert d.send(f"a AUTHENTICATE PLAIN {token}").startswith(b"a OK [CAPABILITY ")
    d2 = lab.driver(login=False)
    assert d2.send("b AUTHENTICATE PLAIN") == b"+ \r\n"
    assert d2.send(token).startswith(b"b OK [CAPABILITY ")
    d3 = lab.driver(login=False)
    d3.send("c AUTHENTICATE PLAIN")
    assert d3.send("*").startswith(b"c BAD ")
    d4 = lab.driver(login=False)
    bad = base64.b64encode(b"\0user@example.com\0nope").decode()
    assert d4.send(f"d AUTHENTICATE PLAIN {bad}").startswith(b"d NO [AUTHENTICATIONFAILED]")


def test_sasl_ir_off_refuses_initial_response(make_lab) -> None:
    d = make_lab(sasl_ir=False).driver(login=False)
    token = base64.b64encode(b"\0user@example.com\0inboxlab-demo").decode()
    assert d.send(f"a AUTHENTICATE PLAIN {token}").startswith(b"a BAD ")
    assert b"SASL-IR" not in d.send("b CAPABILITY")


def test_logindisabled_before_tls(make_lab) -> None:
    d = make_lab(logindisabled_before_tls=True).driver(login=False)
    caps = d.send("a CAPABILITY")
    assert b"LOGINDISABLED" in caps and b"AUTH=PLAIN" not in caps
    assert d.login().startswith(b"L NO [PRIVACYREQUIRED] ")
    assert d.send("s STARTTLS") == b"s OK Begin TLS negotiation now\r\n"
    assert d.wants_tls
    d.session.tls_started()
    assert b"L OK" in d.login()


def test_starttls_discards_pipelined_plaintext(lab) -> None:
    d = lab.driver(login=False)
    out = d.feed(b"s STARTTLS\r\nx LOGIN user@example.com inboxlab-demo\r\n")
    assert out == b"s OK Begin TLS negotiation now\r\n"
    d.session.tls_started()
    assert d.send("y NOOP") == b"y OK NOOP completed\r\n"
    assert d.session.username is None


def test_wrong_state_and_unknown_commands_are_bad(lab) -> None:
    d = lab.driver(login=False)
    assert d.send("a FETCH 1 FLAGS").startswith(b"a BAD ")
    d.login()
    assert d.send("b FETCH 1 FLAGS").startswith(b"b BAD ")  # authenticated, not selected
    assert d.send("c FROBNICATE").startswith(b"c BAD ")
    assert d.send("d LOGIN a b").startswith(b"d BAD ")  # already authenticated
    assert b"e OK" in d.send("e NOOP")


def test_logout_says_bye_then_ok_then_closes(lab) -> None:
    d = lab.driver()
    out = d.send("z LOGOUT")
    assert out == b"* BYE Logging out\r\nz OK LOGOUT completed\r\n"
    assert d.closed


def test_connection_limit_per_user(make_lab) -> None:
    from dataclasses import replace

    lab = make_lab()
    lab.config = replace(lab.config, max_connections_per_user=1)
    lab.driver()
    second = lab.driver(login=False)
    assert second.login().startswith(b"L NO [LIMIT] ")


def test_login_hook_can_replace_the_answer(lab) -> None:
    class Changed(ServerHooks):
        def on_login(self, session, username, success):
            return Reply(b"L NO [AUTHENTICATIONFAILED] password changed\r\n")

    d = lab.driver(login=False, hooks=Changed())
    assert d.login() == b"L NO [AUTHENTICATIONFAILED] password changed\r\n"
    assert d.session.username is None


def test_command_hook_override_and_close(lab) -> None:
    class Bye(ServerHooks):
        def on_command(self, session, command):
            if command.name == "SELECT":
                return Reply(b"* BYE [UNAVAILABLE] maintenance\r\n", close=True)
            return None

    d = lab.driver(hooks=Bye())
    assert d.send("s SELECT INBOX") == b"* BYE [UNAVAILABLE] maintenance\r\n"
    assert d.closed


def test_handler_exception_is_serverbug_and_session_survives(lab, monkeypatch) -> None:
    from dataclasses import replace

    from inboxlab.fakeserver.imap import command_specs

    def broken(session, command):
        raise RuntimeError("boom")
        yield b""

    monkeypatch.setitem(command_specs.COMMANDS, "NAMESPACE",
                        replace(command_specs.COMMANDS["NAMESPACE"], handler=broken))
    d = lab.driver()
    assert d.send("n NAMESPACE") == b"n NO [SERVERBUG] Internal error in the fake server\r\n"
    assert d.send("o NOOP") == b"o OK NOOP completed\r\n"


def test_id_enable_namespace(lab) -> None:
    d = lab.driver()
    assert b'* ID ("name" "inboxlab-fakeserver"' in d.send('i ID ("name" "test")')
    assert d.send("e ENABLE CONDSTORE QRESYNC") == (
        b"* ENABLED CONDSTORE QRESYNC\r\ne OK ENABLE completed\r\n")
    assert d.send("n NAMESPACE").startswith(b'* NAMESPACE (("" "/")) NIL NIL\r\n')


def test_capability_toggles_change_behaviour(make_lab) -> None:
    d = make_lab(move=False, idle=False, condstore=False, special_use=False,
                 namespace=False).driver(select="INBOX")
    caps = d.send("c CAPABILITY")
    for name in (b" MOVE", b" IDLE", b" CONDSTORE", b" SPECIAL-USE", b" NAMESPACE"):
        assert name not in caps
    assert d.send("m MOVE 1 Trash") == b"m BAD Unknown command MOVE\r\n"
    assert d.send("i IDLE") == b"i BAD Unknown command IDLE\r\n"
    assert d.send("n NAMESPACE") == b"n BAD Unknown command NAMESPACE\r\n"
    assert d.send("f FETCH 1 (MODSEQ)").startswith(b"f BAD ")
    assert b"HIGHESTMODSEQ" not in d.send("s SELECT INBOX")
    listing = d.send('l LIST "" "*"')
    assert b"\\Sent" not in listing and b'"Sent"' in listing


def test_list_patterns_children_and_special_use(lab) -> None:
    d = lab.driver()
    everything = d.send('a LIST "" "*"')
    assert b'* LIST (\\HasNoChildren) "/" "INBOX"' in everything
    assert b'* LIST (\\HasChildren) "/" "Projects"' in everything
    assert b'* LIST (\\HasNoChildren \\Sent) "/" "Sent"' in everything
    assert b'"Projects/Alpha"' in everything
    top = d.send('b LIST "" "%"')
    assert b'"Projects/Alpha"' not in top and b'"Projects"' in top
    assert d.send('c LIST "" ""') == b'* LIST (\\Noselect) "/" ""\r\nc OK LIST completed\r\n'
    special = d.send('d LIST (SPECIAL-USE) "" "*"')
    assert special.count(b"* LIST") == 2 and b"\\Trash" in special
    children = d.send('e LIST "Projects/" "%"')
    assert children.count(b"* LIST") == 1 and b'"Projects/Alpha"' in children
    lsub = d.send('f LSUB "" "*"')
    assert b'"Projects/Alpha"' not in lsub and b'* LSUB (\\Sent) "/" "Sent"' in lsub
    status = d.send('g LIST "" "INBOX" RETURN (STATUS (MESSAGES))')
    assert b'* STATUS "INBOX" (MESSAGES 20)' in status


def test_xlist_when_enabled(make_lab) -> None:
    d = make_lab(xlist=True).driver()
    out = d.send('x XLIST "" "*"')
    assert b'* XLIST (\\HasNoChildren \\Inbox) "/" "INBOX"' in out
    assert b"\\Sent" in out


def test_select_examine_and_status(lab) -> None:
    d = lab.driver()
    folder = lab.store.accounts["user@example.com"].folder("INBOX")
    out = d.send("s SELECT INBOX")
    assert b"* 20 EXISTS\r\n" in out
    assert b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)" in out
    assert f"* OK [UIDVALIDITY {folder.uidvalidity}]".encode() in out
    assert b"* OK [UIDNEXT 21]" in out and b"* OK [HIGHESTMODSEQ " in out
    assert out.endswith(b"s OK [READ-WRITE] SELECT completed\r\n")
    out = d.send("e EXAMINE INBOX")
    assert out.endswith(b"e OK [READ-ONLY] EXAMINE completed\r\n")
    assert d.send("f STORE 1 +FLAGS (\\Flagged)").startswith(b"f NO [READ-ONLY]")
    status = d.send("t STATUS INBOX (MESSAGES UIDNEXT UNSEEN)")
    assert f"(MESSAGES 20 UIDNEXT 21 UNSEEN {folder.unseen()})".encode() in status
    assert d.send("u SELECT Nope").startswith(b"u NO [NONEXISTENT] ")
    assert d.session.view is None  # a failed SELECT leaves nothing selected


def test_create_rename_delete_subscribe(lab) -> None:
    d = lab.driver()
    assert d.send("a CREATE Work") == b"a OK CREATE completed\r\n"
    assert d.send("b CREATE Work").startswith(b"b NO [ALREADYEXISTS]")
    assert d.send("c RENAME Work Job") == b"c OK RENAME completed\r\n"
    assert d.send("d UNSUBSCRIBE Job") == b"d OK UNSUBSCRIBE completed\r\n"
    assert b'"Job"' not in d.send('e LSUB "" "*"')
    assert d.send("f DELETE Job") == b"f OK DELETE completed\r\n"
    assert d.send("g DELETE Job").startswith(b"g NO [NONEXISTENT]")
    assert d.send("h DELETE INBOX").startswith(b"h NO ")


def test_append_appenduid_trycreate_and_literal_continuation(lab) -> None:
    d = lab.driver()
    folder = lab.store.accounts["user@example.com"].folder("Sent")
    message = b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n"
    assert d.send(b"a APPEND Sent (\\Seen) {%d}" % len(message)) == (
        b"+ Ready for literal data\r\n")
    out = d.send(message)
    assert out == f"a OK [APPENDUID {folder.uidvalidity} 1] APPEND completed\r\n".encode()
    assert folder.raw(1) == message and folder.flags(1) == frozenset({"\\Seen"})
    out = d.send(b"b APPEND Nowhere {%d+}\r\n%b" % (len(message), message))
    assert out.startswith(b"b NO [TRYCREATE] ")


def test_uidplus_off_means_no_appenduid_and_no_uid_expunge(make_lab) -> None:
    d = make_lab(uidplus=False).driver(select="INBOX")
    out = d.send(b"a APPEND Sent {3+}\r\nx\r\n")
    assert out == b"a OK APPEND completed\r\n"
    assert d.send("b UID EXPUNGE 1") == b"b BAD Unknown command EXPUNGE\r\n"
