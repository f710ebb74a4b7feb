"""Named email templates with ``{{placeholders}}`` from contact fields, and bulk sends.

Validation happens when a template is made, not when the 40th email is rendered: an
unknown placeholder (``{{frist_name}}``) or a stray brace is a ``TemplateError``
naming it, never a blank in a customer's inbox. A known field that is empty for one
contact is an error for that contact too, unless the template gives a fallback:
``{{first_name|there}}``. Values inserted into the HTML body are escaped.

``bulk_send`` sends one templated email per contact as a *new* thread (fresh
Message-ID, no In-Reply-To/References), each with its own outbox record, paced by a
token bucket so a provider's sending limits are not hit; one contact failing does not
stop the others.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from inboxlab.engine.clock import SYSTEM_CLOCK, Clock
from inboxlab.engine.crm.errors import CrmError, TemplateError
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.outbox import Outbox, OutboxRecord
from inboxlab.engine.crm.records import Contact
from inboxlab.engine.crm.send import Draft

FIELDS = ("first_name", "last_name", "name", "email", "company")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}|]*?)\s*(?:\|([^{}]*))?\}\}")


def _fields(contact: Contact) -> dict[str, str]:
    return {"first_name": contact.first_name, "last_name": contact.last_name,
            "name": contact.name, "email": contact.email, "company": contact.company or ""}


def _check(where: str, text: str) -> tuple[str, ...]:
    names = []
    for m in _PLACEHOLDER.finditer(text):
        if m.group(1) not in FIELDS:
            raise TemplateError(f"{where}: unknown placeholder {{{{{m.group(1)}}}}}",
                                code="unknown_placeholder",
                                remediation=f"use one of {', '.join(FIELDS)}")
        names.append(m.group(1))
    rest = _PLACEHOLDER.sub("", text)
    if "{{" in rest or "}}" in rest:
        raise TemplateError(f"{where}: unbalanced '{{{{' or '}}}}'", code="unbalanced_braces")
    return tuple(names)


@dataclass(frozen=True)
class Template:
    name: str
    subject: str
    text: str
    html: str | None = None
    placeholders: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise TemplateError("a template needs a name", code="no_name")
        used = _check(f"template {self.name!r} subject", self.subject)
        used += _check(f"template {self.name!r} body", self.text)
        if self.html is not None:
            used += _check(f"template {self.name!r} html", self.html)
        object.__setattr__(self, "placeholders", tuple(dict.fromkeys(used)))

    def _fill(self, text: str, values: Mapping[str, str], escape: bool) -> str:
        def one(m: re.Match[str]) -> str:
            value = values.get(m.group(1), "") or (m.group(2) or "")
            if not value:
                raise TemplateError(f"template {self.name!r}: {{{{{m.group(1)}}}}} is empty "
                                    f"for {values.get('email')} and has no fallback",
                                    code="missing_field",
                                    remediation=f"fill it in, or write {{{{{m.group(1)}|...}}}}")
            return html.escape(value) if escape else value
        return _PLACEHOLDER.sub(one, text)

    def render(self, contact: Contact) -> Draft:
        values = _fields(contact)
        subject = " ".join(self._fill(self.subject, values, False).split())
        return Draft((Address(contact.email, contact.name),), subject,
                     self._fill(self.text, values, False),
                     self._fill(self.html, values, True) if self.html is not None else None)


@dataclass(frozen=True)
class Preview:
    contact: Contact
    draft: Draft | None
    error: TemplateError | None = None


def preview(template: Template, contacts: Iterable[Contact]) -> list[Preview]:
    out = []
    for c in contacts:
        try:
            out.append(Preview(c, template.render(c)))
        except TemplateError as exc:
            out.append(Preview(c, None, exc))
    return out


class Templates:
    """The named templates (in memory; the TUI persists them as it likes)."""

    def __init__(self) -> None:
        self._by_name: dict[str, Template] = {}

    def add(self, template: Template) -> None:
        self._by_name[template.name] = template

    def get(self, name: str) -> Template:
        try:
            return self._by_name[name]
        except KeyError:
            raise TemplateError(f"no template named {name!r}", code="no_template") from None

    def names(self) -> list[str]:
        return sorted(self._by_name)


class RateLimiter:
    """At most ``rate`` per second on average, bursts of ``burst``; clock and sleep injected."""

    def __init__(self, rate: float, burst: int = 1, clock: Clock = SYSTEM_CLOCK,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if not rate > 0:
            raise TemplateError(f"rate must be > 0 per second, not {rate!r}", code="bad_rate")
        self.rate = rate
        self.burst = max(1, burst)
        self.clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._last = clock.monotonic()

    async def acquire(self) -> None:
        while True:
            now = self.clock.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1 - 1e-9:  # float dust must not spin the loop
                self._tokens -= 1
                return
            await self._sleep((1 - self._tokens) / self.rate)


@dataclass(frozen=True)
class BulkResult:
    sent: tuple[OutboxRecord, ...]
    failed: tuple[tuple[str, CrmError], ...]  # (contact email, why)


async def bulk_send(outbox: Outbox, template: Template, contacts: Iterable[Contact], *,
                    limiter: RateLimiter | None = None) -> BulkResult:
    sent, failed = [], []
    for contact in contacts:
        try:
            draft = template.render(contact)
            if limiter is not None:
                await limiter.acquire()
            sent.append(await outbox.send(draft, contact_id=contact.id))
        except CrmError as exc:
            failed.append((contact.email, exc))
    return BulkResult(tuple(sent), tuple(failed))


__all__ = ["FIELDS", "BulkResult", "Preview", "RateLimiter", "Template", "Templates",
           "bulk_send", "preview"]
