"""Word pools the message generator picks from.

Plain data, kept apart from the generator so the generator reads as logic. A few
entries are deliberately awkward (non-ASCII names that travel as RFC 2047 words, a
display name that needs quoting, non-ASCII subjects) because real inboxes hold them
and a connector that only ever sees ASCII is untested.
"""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "Alice",
    "Bruno",
    "Chloe",
    "David",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kara",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Wei",
    "Xenia",
    "Yusuf",
    "Zoe",
    "Amara",
    "Ben",
    "Clara",
    "Dmitri",
    "Emma",
    "Felix",
    "Greta",
    "Hugo",
    "Ivy",
    "Jakub",
    "Lena",
    "Marco",
    "Nina",
    "Oscar",
)

LAST_NAMES: tuple[str, ...] = (
    "Adams",
    "Baker",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Martin",
    "Novak",
    "Okafor",
    "Petrov",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ueda",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zimmer",
    "Andersen",
    "Brown",
    "Chen",
    "Diaz",
    "Ek",
    "Ferreira",
    "Gomez",
    "Horvat",
    "Iyer",
    "Johansson",
)

# Display names that are not plain ASCII atoms: the generator encodes the non-ASCII
# ones as RFC 2047 Q-words and quotes the one with a comma.
AWKWARD_NAMES: tuple[str, ...] = (
    "Zoë Müller",
    "José Núñez",
    "Łukasz Wiśniewski",
    "Smith, Anna",
    "François Lefèvre",
    "Søren Kierkegaard",
)

EXTERNAL_DOMAINS: tuple[str, ...] = (
    "acme-corp.com",
    "globex.net",
    "initech.io",
    "umbrella.org",
    "hooli.com",
    "stark-industries.com",
    "wayne-enterprises.com",
    "cyberdyne.ai",
    "example.org",
    "mail.example.net",
    "contoso.com",
    "fabrikam.de",
)

SUBJECTS: tuple[str, ...] = (
    "Quarterly business review",
    "Follow-up on our call",
    "Proposal for the pilot project",
    "Invoice overdue",
    "Contract renewal",
    "Meeting next week?",
    "Pricing question",
    "Onboarding checklist",
    "Your trial ends soon",
    "Intro: possible partnership",
    "Feedback on the demo",
    "Updated statement of work",
    "Support ticket escalation",
    "Budget approval for Q3",
    "Notes from today's workshop",
    "Request for references",
    "Data processing agreement",
    "Shipping delay on order",
    "Welcome aboard",
    "Re-scheduling Thursday",
    "Security questionnaire",
    "Purchase order attached",
    "Can we talk about seats?",
    "Case study draft",
    "Reminder: webinar tomorrow",
    "Angebot für das Projekt",
    "Réunion de lancement",
    "Propuesta económica",
    "Zapytanie ofertowe – pilnie",
    "Status update",
    "Lunch on Friday",
    "Agenda for the steering committee",
)

SENTENCES: tuple[str, ...] = (
    "Thanks for taking the time to meet with us earlier this week.",
    "As discussed, I am attaching the latest figures for your review.",
    "Could you let me know whether the proposed timeline works for your team?",
    "We would like to move forward with the pilot starting next month.",
    "Please find below a short summary of the open questions.",
    "Our legal team has a few comments on section 4 of the agreement.",
    "I have looped in my colleague who owns the integration work.",
    "The invoice should reflect the discount we agreed on in March.",
    "Let me know if a call on Thursday afternoon suits you better.",
    "We are still waiting for the signed purchase order.",
    "The new pricing applies from the first of the next quarter.",
    "I will send over the updated slides before the meeting.",
    "Happy to answer any question about the onboarding steps.",
    "Can you confirm the number of seats you need for the rollout?",
    "The shipment left our warehouse yesterday and should arrive soon.",
    "We appreciate your patience while we investigate the issue.",
)

GREETINGS: tuple[str, ...] = ("Hi", "Hello", "Dear", "Hey", "Good morning")

CLOSINGS: tuple[str, ...] = ("Best regards", "Kind regards", "Thanks", "Cheers", "All the best")

# (filename, content type, payload size in bytes before base64)
ATTACHMENTS: tuple[tuple[str, str, int], ...] = (
    ("quote.pdf", "application/pdf", 420),
    ("figures.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 610),
    ("logo.png", "image/png", 300),
    ("notes.txt", "text/plain", 180),
    (
        "contract-draft.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        760,
    ),
)
