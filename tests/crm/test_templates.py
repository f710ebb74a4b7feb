"""Templates: validation, preview, escaping, pacing, and a bulk send to 50 contacts end to end."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest
from crm_kit import USER, crm_lab

from inboxlab.engine.clock import ManualClock
from inboxlab.engine.crm.errors import TemplateError
from inboxlab.engine.crm.records import Contact
from inboxlab.engine.crm.templates import RateLimiter, Template, Templates, bulk_send, preview
from inboxlab.fakeserver.smtp.config import PersonaSpec

ANA = Contact(1, "ana@acme.test", "Ana Lopez", "Ana", "Lopez", "Acme")
NOBODY = Contact(2, "x@y.test", "", "", "", None)


def test_unknown_placeholder_and_stray_braces_are_errors() -> None:
    with pytest.raises(TemplateError, match="frist_name") as info:
        Template("t", "Hi {{frist_name}}", "body")
    assert info.value.code == "unknown_placeholder"
    with pytest.raises(TemplateError, match="unbalanced"):
        Template("t", "Hi", "body {{first_name")


def test_render_preview_fallback_and_html_escaping() -> None:
    t = Template("intro", "{{company}}: hello {{ first_name }}", "Dear {{first_name|there}},",
                 "<p>{{name}}</p>")
    assert t.placeholders == ("company", "first_name", "name")
    draft = t.render(Contact(3, "b@c.test", "<b>Bo</b>", "Bo", "", "C&D"))
    assert draft.subject == "C&D: hello Bo" and draft.text == "Dear Bo,"
    assert draft.html == "<p>&lt;b&gt;Bo&lt;/b&gt;</p>"
    assert draft.in_reply_to is None and draft.references == ()
    [ok, bad] = preview(t, [ANA, NOBODY])
    assert ok.draft is not None and ok.draft.subject == "Acme: hello Ana"
    assert bad.draft is None and bad.error is not None and bad.error.code == "missing_field"
    reg = Templates()
    reg.add(t)
    assert reg.get("intro") is t and reg.names() == ["intro"]
    with pytest.raises(TemplateError):
        reg.get("nope")


async def test_rate_limiter_paces_without_real_sleeping() -> None:
    clock = ManualClock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    limiter = RateLimiter(10.0, clock=clock, sleep=sleep)
    for _ in range(5):
        await limiter.acquire()
    assert slept == pytest.approx([0.1] * 4)


async def test_bulk_send_to_50_contacts_each_reply_logged_to_its_contact(
        tmp_path: Path) -> None:
    people = [(f"p{n:02d}@firm{n % 7}.test", f"Person{n:02d} Test") for n in range(50)]
    personas = tuple(PersonaSpec(email, name, body=f"Reply from {email}")
                     for email, name in people)
    template = Template("promo", "Offer for {{company}}", "Hi {{first_name}}, a deal.")
    async with crm_lab(tmp_path, personas=personas) as lab:
        contacts = []
        for email, name in people:
            cid = await lab.store.upsert_contact(email, name)
            contact = await lab.store.contact(cid)
            assert contact is not None
            contacts.append(contact)
        result = await bulk_send(lab.outbox, template, contacts,
                                 limiter=RateLimiter(10_000.0, burst=50))
        assert result.failed == () and len(result.sent) == 50
        assert len({r.message_id for r in result.sent}) == 50
        assert len({r.thread_id for r in result.sent}) == 50
        for rec in result.sent:
            msg = message_from_bytes(rec.raw, policy=policy.default)
            assert msg["In-Reply-To"] is None and msg["References"] is None
        for email, _ in people:  # every persona's answer reached the INBOX
            await lab.smtp.log.wait_for(lambda d, e=email: d.mail_from == e, rcpt=USER,
                                        kind="local")
        assert await lab.scan() == 50
        for contact, rec in zip(contacts, result.sent, strict=True):
            rows = await lab.store.emails(contact_id=contact.id)
            assert [(r.direction, r.sender, r.thread_id) for r in rows] == [
                ("outgoing", USER, rec.thread_id), ("incoming", contact.email, rec.thread_id)]
        assert len(lab.folder_ids(lab.sent_folder)) == 50
