"""Contacts from a CSV file (sans-I/O): the columns a CRM export or a spreadsheet has.

The header row names the columns, in any order and case: ``email`` (required), ``name``
(or ``first name`` and ``last name``), ``company``. Every bad row is reported by its line
number and what is wrong with it; the good rows are still imported. Limits keep a
hostile file from costing more than a page of contacts: ``MAX_ROWS`` rows.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from inboxlab.engine.crm.errors import BadInput

MAX_ROWS = 100_000
_ALIASES = {"e-mail": "email", "email address": "email", "mail": "email",
            "full name": "name", "firstname": "first name", "first_name": "first name",
            "lastname": "last name", "last_name": "last name", "organisation": "company",
            "organization": "company", "company name": "company"}


@dataclass(frozen=True)
class CsvContact:
    line: int
    email: str
    name: str
    company: str


@dataclass(frozen=True)
class CsvContacts:
    rows: tuple[CsvContact, ...]
    problems: tuple[str, ...]  # "line 7: 'bob at x' is not an email address"


def parse_contacts(text: str) -> CsvContacts:
    """Rows to import and the problems of the others; BadInput when no email column."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise BadInput("the CSV file is empty or unreadable", code="bad_csv",
                       remediation="the first row names the columns: email,name,company"
                       ) from exc
    names = [_ALIASES.get(h.strip().casefold(), h.strip().casefold()) for h in header]
    if "email" not in names:
        raise BadInput(f"the CSV header {header!r} has no email column", code="bad_csv",
                       remediation="the first row names the columns: email,name,company")
    rows: list[CsvContact] = []
    problems: list[str] = []
    try:
        for record in reader:
            if reader.line_num > MAX_ROWS + 1:
                problems.append(f"more than {MAX_ROWS} rows: the rest was not read")
                break
            if not any(cell.strip() for cell in record):
                continue
            cells = dict(zip(names, (c.strip() for c in record), strict=False))
            email = cells.get("email", "")
            if "@" not in email or any(ch.isspace() or ord(ch) < 32 for ch in email):
                problems.append(f"line {reader.line_num}: {email!r} is not an email address")
                continue
            name = cells.get("name") or " ".join(
                p for p in (cells.get("first name", ""), cells.get("last name", "")) if p)
            rows.append(CsvContact(reader.line_num, email.lower(), name,
                                   cells.get("company", "")))
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: {exc}; the rest was not read")
    return CsvContacts(tuple(rows), tuple(problems))


__all__ = ["MAX_ROWS", "CsvContact", "CsvContacts", "parse_contacts"]
