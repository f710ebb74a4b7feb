"""Personas without sockets: the answers they build and when the scheduler sends them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from smtp_kit import ManualTimer

from inboxlab.fakeserver.errors import ScenarioError
from inboxlab.fakeserver.smtp.config import PersonaSpec, SmtpConfig, SmtpFault
from inboxlab.fakeserver.smtp.personas import Outgoing, PersonaScheduler, respond

NOW = datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)
ORIGINAL = (
    b"From: Sam Seller <sam@crm.test>\r\n"
    b"To: Bob Buyer <bob@client.test>\r\n"
    b"Subject: Quote for 12 widgets\r\n"
    b"Message-ID: <q1@crm.test>\r\n"
    b"References: <intro@crm.test>\r\n"
    b"Date: Mon, 04 Mar 2024 09:00:00 +0000\r\n"
    b"\r\n"
    b"Hi Bob,\r\n"
    b"here is the quote.\r\n"
)


def parse(raw: bytes) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    return msg


def answer(persona: PersonaSpec, raw: bytes = ORIGINAL, seq: int = 1) -> Outgoing:
    out = respond(persona, raw, now=NOW, seq=seq)
    assert out is not None
    return out


def test_reply_threads_on_the_original() -> None:
    out = answer(PersonaSpec("bob@client.test", "Bob Buyer", body="Looks good."))
    msg = parse(out.raw)
    assert out.mail_from == "bob@client.test"
    assert out.rcpt_tos == ("sam@crm.test",)
    assert msg["Subject"] == "Re: Quote for 12 widgets"
    assert msg["In-Reply-To"] == "<q1@crm.test>"
    assert msg["References"].split() == ["<intro@crm.test>", "<q1@crm.test>"]
    assert msg["From"] == "Bob Buyer <bob@client.test>"
    assert msg["To"] == "sam@crm.test"
    assert msg["Date"].datetime == NOW
    assert msg["Message-ID"].endswith("@client.test>")
    assert msg["Message-ID"] != "<q1@crm.test>"
    text = msg.get_body(preferencelist=("plain",))
    assert text is not None
    content = text.get_content()
    assert content.startswith("Looks good.")
    assert "> here is the quote." in content


def test_reply_goes_to_reply_to_and_keeps_a_single_re() -> None:
    raw = ORIGINAL.replace(b"Subject: Quote", b"Reply-To: desk@crm.test\r\nSubject: RE: Quote")
    msg = parse(answer(PersonaSpec("bob@client.test")).raw)
    out = answer(PersonaSpec("bob@client.test"), raw)
    assert out.rcpt_tos == ("desk@crm.test",)
    assert parse(out.raw)["Subject"] == "RE: Quote for 12 widgets"
    assert msg["Subject"] == "Re: Quote for 12 widgets"


def test_reply_from_other_address() -> None:
    persona = PersonaSpec(
        "bob@client.test", "Bob", action="reply_from_other", other_address="bob.b@mobile.test"
    )
    out = answer(persona)
    msg = parse(out.raw)
    assert out.mail_from == "bob.b@mobile.test"
    assert msg["From"] == "Bob <bob.b@mobile.test>"
    assert msg["In-Reply-To"] == "<q1@crm.test>"
    assert out.rcpt_tos == ("sam@crm.test",)


def test_forward_carries_the_original_and_the_thread_reference() -> None:
    persona = PersonaSpec("bob@client.test", action="forward", forward_to="carol@client.test")
    out = answer(persona)
    msg = parse(out.raw)
    assert out.rcpt_tos == ("carol@client.test",)
    assert msg["Subject"] == "Fwd: Quote for 12 widgets"
    assert msg["In-Reply-To"] is None
    assert "<q1@crm.test>" in msg["References"].split()
    inner = [p for p in msg.iter_attachments() if p.get_content_type() == "message/rfc822"]
    assert len(inner) == 1
    assert inner[0].get_content()["Message-ID"] == "<q1@crm.test>"


def test_forward_of_unserializable_mail_attaches_the_bytes() -> None:
    raw = b"From: a@b.test\r\nContent-Type: multipart/mixed; boundary=x\r\n\x80"
    persona = PersonaSpec("bob@client.test", action="forward", forward_to="carol@client.test")
    [attached] = parse(answer(persona, raw).raw).iter_attachments()
    assert attached.get_filename() == "forwarded.eml"
    assert attached.get_content() == raw


def test_attachment_is_deterministic() -> None:
    persona = PersonaSpec("bob@client.test", attach=True, attachment_name="quote-signed.pdf")
    first, second = answer(persona), answer(persona)
    assert first.raw == second.raw  # boundaries and ids are derived, not random
    attachments = list(parse(first.raw).iter_attachments())
    assert [a.get_filename() for a in attachments] == ["quote-signed.pdf"]
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_content().startswith(b"%PDF-")


def test_sequence_number_keeps_message_ids_distinct() -> None:
    persona = PersonaSpec("bob@client.test")
    ids = {parse(answer(persona, seq=n).raw)["Message-ID"] for n in (1, 2, 3)}
    assert len(ids) == 3


def test_no_sender_means_no_answer_and_garbage_does_not_crash() -> None:
    persona = PersonaSpec("bob@client.test")
    assert respond(persona, b"Subject: nobody\r\n\r\nbody\r\n", now=NOW) is None
    assert respond(persona, b"\x00\xff\r\n\r\n", now=NOW) is None
    odd = b"From: a@b.test\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\n\xff\xfe\r\n"
    out = respond(persona, odd, now=NOW)
    assert out is not None and out.rcpt_tos == ("a@b.test",)


@pytest.mark.parametrize(
    ("make", "where"),
    [
        (lambda: PersonaSpec("not-an-address"), "smtp.persona.address"),
        (lambda: PersonaSpec("b@c.test", delay_s=-1), "delay_s"),
        (lambda: PersonaSpec("b@c.test", delay_s=float("nan")), "delay_s"),
        (lambda: PersonaSpec("b@c.test", action="shout"), "action"),  # type: ignore[arg-type]
        (lambda: PersonaSpec("b@c.test", action="forward"), "forward_to"),
        (lambda: PersonaSpec("b@c.test", action="reply_from_other"), "other_address"),
        (lambda: SmtpFault("535", "rcpt"), "stage"),
        (lambda: SmtpFault("999", "mail"), "kind"),  # type: ignore[arg-type]
        (lambda: SmtpFault("451", "mail", times=0), "times"),
        (lambda: SmtpFault("451", "mail", message="a\r\n250 OK"), "message"),
        (lambda: SmtpConfig(port=70000), "smtp.port"),
        (lambda: SmtpConfig(personas=(PersonaSpec("b@c.test"), PersonaSpec("B@c.test"))), "twice"),
    ],
)
def test_bad_settings_name_the_field(make: Callable[[], object], where: str) -> None:
    with pytest.raises(ScenarioError) as info:
        make()
    assert where in str(info.value)


def make_scheduler(*personas: PersonaSpec) -> tuple[PersonaScheduler, ManualTimer, list[Outgoing]]:
    timer = ManualTimer()
    sent: list[Outgoing] = []
    scheduler = PersonaScheduler(personas, send=sent.append, timer=timer, now=lambda: NOW)
    return scheduler, timer, sent


def test_scheduler_waits_for_the_persona_delay() -> None:
    scheduler, timer, sent = make_scheduler(PersonaSpec("bob@client.test", delay_s=90))
    assert scheduler.received("BOB@client.test", ORIGINAL)
    timer.advance(89.9)
    assert sent == [] and scheduler.waiting == 1
    timer.advance(0.2)
    assert len(sent) == 1 and scheduler.waiting == 0
    assert parse(sent[0].raw)["In-Reply-To"] == "<q1@crm.test>"


def test_scheduler_ignores_strangers_and_cancels_on_shutdown() -> None:
    scheduler, timer, sent = make_scheduler(PersonaSpec("bob@client.test", delay_s=5))
    assert not scheduler.received("nobody@client.test", ORIGINAL)
    assert scheduler.received("bob@client.test", ORIGINAL)
    scheduler.cancel_all()
    timer.advance(10)
    assert sent == [] and scheduler.waiting == 0


def test_a_failing_send_is_recorded_not_raised() -> None:
    timer = ManualTimer()

    def broken(_: Outgoing) -> None:
        raise RuntimeError("router exploded")

    scheduler = PersonaScheduler(
        (PersonaSpec("bob@client.test"),), send=broken, timer=timer, now=lambda: NOW
    )
    scheduler.received("bob@client.test", ORIGINAL)
    timer.advance(0)
    assert [str(e) for e in scheduler.errors] == ["router exploded"]
    assert scheduler.sent == []


_HEADER_BITS = st.sampled_from([
    b"From: ", b"Reply-To: ", b"Subject: ", b"Message-ID: ", b"References: ", b"In-Reply-To: ",
    b"Content-Type: multipart/mixed; boundary=x\r\n", b"Content-Type: text/plain; charset=",
    b"Content-Transfer-Encoding: base64\r\n", b"=?utf-8?b?", b"<a@b>", b"a@b.test", b"\r\n",
    b"\r\n\r\n", b"--x\r\n", b"\xff", b"\x00", b"\"", b",", b"(", b":", b"@", b"<", b">",
])


@settings(derandomize=True, max_examples=150, deadline=None)
@given(st.lists(st.one_of(_HEADER_BITS, st.binary(max_size=12)), max_size=40))
@pytest.mark.parametrize("action", ["reply", "forward"])
def test_any_bytes_get_an_answer_or_none_never_an_exception(action: str, parts: list[bytes]
                                                           ) -> None:
    persona = PersonaSpec("bob@client.test", action=action,  # type: ignore[arg-type]
                          forward_to="carol@client.test", attach=True)
    out = respond(persona, b"".join(parts), now=NOW)
    if out is not None:
        assert parse(out.raw)["From"] is not None
