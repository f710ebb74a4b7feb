"""An SMTP outcome after the final dot that the client cannot know is ``uncertain``.

The fake SMTP server stores the message and then cuts the connection
(``drop_after_data``) or never answers (``stall_after_data``). The outbox used to take
that for "not started" and resend on every run, with ``hold`` as with ``resend``.
Now ``hold`` parks the record for a person and never resends it; ``resend`` sends again
(at-least-once, as README says). In both, the Sent copy and the log happen once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from crm_kit import Lab, crm_lab

from inboxlab.engine.crm.errors import SubmitUncertain
from inboxlab.engine.crm.ingest import Address
from inboxlab.engine.crm.outbox import State
from inboxlab.engine.crm.send import Draft
from inboxlab.fakeserver.smtp.config import SmtpFault

BOB = "bob@client.test"
DRAFT = Draft((Address(BOB, "Bob Buyer"),), "Renewal", "Hi Bob,\nrenewal attached.\n")


async def outcome(lab: Lab, mid: str) -> tuple[int, int, int]:
    """(deliveries to Bob, copies in Sent, log rows), all from the servers and the file."""
    sends = [d for d in lab.smtp.log.outside(BOB) if d.message()["Message-ID"] == mid]
    copies = lab.folder_ids(lab.sent_folder).count(mid)
    logs = await lab.count("SELECT count(*) FROM emails WHERE message_id = ?", mid)
    return len(sends), copies, logs


@pytest.mark.parametrize("kind", ["drop_after_data", "stall_after_data"])
async def test_hold_parks_it_and_never_resends(tmp_path: Path, kind: str) -> None:
    async with crm_lab(tmp_path, uncertain="hold",
                       faults=(SmtpFault(kind, "data"),)) as lab:  # type: ignore[arg-type]
        lab.outbox.submitter.timeout = 1.0  # the stalled answer comes "after the timeout"
        rec = await lab.outbox.send(DRAFT)
        assert rec.state is State.UNCERTAIN, rec
        assert "may have gone out" in (rec.last_error or "")
        for _ in range(3):  # three later runs, each a restart: nothing goes out again
            outbox = await lab.restart(uncertain="hold")
            assert await outbox.run_pending() == []  # terminal until a person decides
            assert (await outbox.get(rec.message_id)).state is State.UNCERTAIN
        assert await outcome(lab, rec.message_id) == (1, 0, 0)
        done = await outbox.release(rec.message_id, sent=True)  # a person: it went out
        assert done.state is State.LOGGED
        assert await outcome(lab, rec.message_id) == (1, 1, 1)


async def test_resend_is_at_least_once_with_one_copy_and_one_log(tmp_path: Path) -> None:
    async with crm_lab(tmp_path, faults=(SmtpFault("drop_after_data", "data"),)) as lab:
        with pytest.raises(SubmitUncertain) as info:
            await lab.outbox.send(DRAFT)
        assert info.value.code == "smtp_uncertain" and not info.value.permanent
        [rec] = await lab.outbox.records()
        assert rec.state is State.QUEUED and rec.submit_started  # never "not started"
        for _ in range(3):
            outbox = await lab.restart()
            await outbox.run_pending()
        assert (await outbox.get(rec.message_id)).state is State.LOGGED
        assert await outcome(lab, rec.message_id) == (2, 1, 1)


async def test_with_autosave_the_uncertain_send_is_found_in_sent_not_resent(
        tmp_path: Path) -> None:
    async with crm_lab(tmp_path, autosave=True,
                       faults=(SmtpFault("drop_after_data", "data"),)) as lab:
        with pytest.raises(SubmitUncertain):
            await lab.outbox.send(DRAFT)
        [rec] = await lab.outbox.records()
        outbox = await lab.restart()
        outbox.copier.learned_autosave = True  # type: ignore[union-attr]
        [done] = await outbox.run_pending()
        assert done.state is State.LOGGED and done.copy_how == "autosave-found"
        assert await outcome(lab, rec.message_id) == (1, 1, 1)
