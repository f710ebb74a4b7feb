"""The messages of the differential test: generated mail plus hand-written edge cases.

Each edge case targets a part of FETCH/SEARCH a naive server gets wrong: RFC 2047 words,
quoted strings holding quotes and backslashes, group syntax, missing headers, nested and
message/rfc822 parts, BODYSTRUCTURE extension data, folded headers, other time zones.
Every one carries a Date header except one: the fake server takes a configured message's
INTERNALDATE from its Date header (2024-01-01 UTC without one), and Dovecot is loaded with
that same INTERNALDATE. Dovecot compares SINCE/BEFORE/ON dates in its local time zone,
the fake server in UTC: INTERNALDATEs sit near noon UTC (generated ones early on
2024-01-01), and the script's dates keep clear of them, so both agree from UTC-11 to UTC+11.
"""

from __future__ import annotations

import base64
import email.utils
from datetime import UTC, datetime

from inboxlab.fakeserver.generate import GenSpec, default_flags, internaldate, message

USER = "differential@example.com"
SPEC = GenSpec(count=40, seed=20261127, owner=USER, attachment_ratio=0.25, thread_ratio=0.5)
FALLBACK_DATE = datetime(2024, 1, 1, tzinfo=UTC)  # the fake server's, for a message without Date

_PDF = base64.encodebytes(b"%PDF-1.4 fake pdf bytes " * 20).replace(b"\n", b"\r\n")
_PNG = base64.encodebytes(bytes(range(256)) * 2).replace(b"\n", b"\r\n")


def _msg(text: str, *attachments: bytes) -> bytes:
    raw = text.strip("\n").replace("\n", "\r\n").encode("utf-8") + b"\r\n"
    for blob in attachments:
        raw = raw.replace(b"@@BLOB@@", blob, 1)
    return raw


EDGE_CASES: tuple[bytes, ...] = (
    _msg("""
Date: Mon, 5 Feb 2024 10:00:00 +0000
From: =?ISO-8859-1?Q?Andr=E9_Pirard?= <andre@example.org>
To: =?UTF-8?B?0JjQstCw0L0=?= <ivan@example.com>
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?= =?UTF-8?B?IOKCrA==?=
Message-ID: <edge-2047@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Grüße, encoded words in three headers.
"""),
    _msg("""
Date: Tue, 6 Feb 2024 11:30:00 +0100
From: "Smith, John \\"JJ\\"" <jj@example.com>
Sender: "Back\\\\slash" <bs@example.com>
Reply-To: replies@example.com
To: user@example.com
Subject: He said "hi" \\ and left
Message-ID: <edge-quotes@example.com>

Quoted strings with quotes and a backslash.
"""),
    _msg("""
Date: Wed, 7 Feb 2024 07:15:00 -0500
From: Team Lead <lead@example.com>
To: Team: alice@example.com, "Bob B." <bob@example.com>;, carol@example.com
Cc: undisclosed-recipients:;
Subject: group syntax in To and Cc
Message-ID: <edge-groups@example.com>

Groups.
"""),
    _msg("""
From: nobody@example.net

A message with no Date, To, Subject or Message-ID at all.
"""),
    _msg("""
Date: Thu, 8 Feb 2024 12:00:00 +0000
From: Files <files@example.com>
To: user@example.com
Subject: report attached
Message-ID: <edge-attach@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer-1"

This is a multi-part message in MIME format.

--outer-1
Content-Type: text/plain; charset="us-ascii"; format=flowed
Content-Transfer-Encoding: 7bit

See the attached report.
Two lines.

--outer-1
Content-Type: application/pdf; name="report Q1.pdf"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="report Q1.pdf"
Content-Description: Quarterly report

@@BLOB@@
--outer-1--
""", _PDF),
    _msg("""
Date: Fri, 9 Feb 2024 12:45:00 +0000
From: Newsletter <news@example.com>
To: user@example.com
Subject: nested multipart
Message-ID: <edge-nested@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mix"

--mix
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Plain =E2=80=94 version.

--alt
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable
Content-Language: en

<html><body><p>HTML =E2=80=94 version</p></body></html>

--alt--

--mix
Content-Type: image/png
Content-Transfer-Encoding: base64
Content-ID: <logo@example.com>
Content-Disposition: inline

@@BLOB@@
--mix--
""", _PNG),
    _msg("""
Date: Sat, 10 Feb 2024 12:00:00 +0000
From: Forwarder <fwd@example.com>
To: user@example.com
Subject: Fwd: the original
Message-ID: <edge-rfc822@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="fwd"

--fwd
Content-Type: text/plain

Forwarding the message below.

--fwd
Content-Type: message/rfc822

Date: Fri, 2 Feb 2024 07:00:00 +0000
From: Original Sender <orig@example.com>
To: fwd@example.com
Subject: the original
Message-ID: <orig-1@example.com>

The original body,
on two lines.

--fwd--
"""),
    _msg("""
Date: Sun, 11 Feb 2024 23:59:59 +0530
From: Asha <asha@example.in>
To: user@example.com,
 second@example.com
Cc: "Comment (not a name)" <c1@example.com>, c2@example.com (a comment)
Subject: a folded subject that goes on
 and continues on a second line
Message-ID: <edge-folded@example.in>
In-Reply-To: <edge-quotes@example.com>
References: <edge-2047@example.org>
 <edge-quotes@example.com>

Folded headers, a comment and a +0530 date.
"""),
    _msg("""
Date: Mon, 12 Feb 2024 12:00:00 +0000
From: Html Only <html@example.com>
To: user@example.com
Subject: html only
Message-ID: <edge-html@example.com>
MIME-Version: 1.0
Content-Type: text/html
Content-Transfer-Encoding: 7bit

<p>no charset given</p>
"""),
    _msg("""
Date: Tue, 13 Feb 2024 12:20:00 +0000
From: Header Only <empty@example.com>
To: user@example.com
Subject: empty body
Message-ID: <edge-empty@example.com>
"""),
)


def edge_internaldate(raw: bytes) -> datetime:
    """The INTERNALDATE the fake server gives a configured message (its Date header)."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"date:"):
            return email.utils.parsedate_to_datetime(line[5:].decode().strip())
    return FALLBACK_DATE


def dovecot_load() -> list[tuple[bytes, str, datetime]]:
    """INBOX for Dovecot, in UID order: (bytes, flags, INTERNALDATE) as the fake holds them."""
    out = [(message(SPEC, i), " ".join(sorted(default_flags(SPEC, i))), internaldate(SPEC, i))
           for i in range(SPEC.count)]
    out += [(raw, "", edge_internaldate(raw)) for raw in EDGE_CASES]
    return out
