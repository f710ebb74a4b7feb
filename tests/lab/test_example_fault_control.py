"""Example: breaking a live session from a test with the fault control, and watching
what the server saw. ``fire`` runs an action in-process; ``control`` is the same over
the HTTP control endpoint (what ``curl`` or another process would use)."""

import imaplib

import pytest

from inboxlab.lab import ActionRefused


def connect(lab) -> imaplib.IMAP4_SSL:
    imap = imaplib.IMAP4_SSL(lab.imaps.host, lab.imaps.port, ssl_context=lab.ssl_context())
    imap.login(lab.login.username, lab.login.password)
    imap.select("INBOX")
    return imap


def test_a_bye_to_one_session_leaves_the_other(inboxlab) -> None:
    first, second = connect(inboxlab), connect(inboxlab)
    sessions = inboxlab.wait_until(lambda: len(inboxlab.sessions()) == 2 and inboxlab.sessions(),
                                   what="two sessions")
    inboxlab.fire("bye", conn=sessions[0].conn, text="Server shutting down")
    with pytest.raises(imaplib.IMAP4.abort, match="Server shutting down"):
        first.noop()
    assert second.noop()[0] == "OK"
    second.logout()


@pytest.mark.inboxlab("no-special-use")  # a quiet scenario: no mail arrives by itself
def test_new_mail_and_a_reset_over_the_control_endpoint(inboxlab) -> None:
    imap = connect(inboxlab)
    before = inboxlab.folder("INBOX").exists
    uid = inboxlab.deliver(b"From: dana@acme.example\r\nSubject: ping\r\n\r\nhello\r\n")
    imap.noop()
    assert imap.response("EXISTS")[1][-1] == str(before + 1).encode()  # the client was told
    assert inboxlab.message(uid).endswith(b"hello\r\n")
    [session] = inboxlab.control.sessions()
    inboxlab.control.action("reset", conn=session["conn"])
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        imap.noop()
    assert [e["action"] for e in inboxlab.control.events()][-1].startswith("Reset")


def test_a_bad_action_is_refused_with_the_reason(inboxlab) -> None:
    with pytest.raises(ActionRefused, match="direction"):
        inboxlab.fire("reset", direction="sideways")
