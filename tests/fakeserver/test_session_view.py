"""A client's sequence numbers under another session's random changes, against a naive model.

Session B appends, deletes and expunges at random; session A only FETCHes or STOREs
(which must not report expunges) or NOOPs (which must). A keeps the list of UIDs it believes in,
exactly as a client would, applying each ``* n EXPUNGE`` / ``* n EXISTS`` it receives.
Every FETCH must agree with that list, and after every NOOP the list must equal the
folder. Seeded, so a failure replays.
"""

from __future__ import annotations

import random
import re

import pytest

FETCH_LINE = re.compile(rb"\* (\d+) FETCH \(UID (\d+)[ )]")


class NaiveClient:
    """What a correct client believes: position i holds the UID of sequence number i+1."""

    def __init__(self, uids: list[int]) -> None:
        self.uids = list(uids)

    def apply(self, out: bytes, folder) -> None:
        for line in out.split(b"\r\n"):
            if line.endswith(b" EXPUNGE"):
                del self.uids[int(line.split()[1]) - 1]
            elif line.endswith(b" EXISTS"):
                count = int(line.split()[1])
                known = set(self.uids)
                new = [u for u in folder.uids() if u not in known]
                self.uids.extend(new[: count - len(self.uids)])
                assert len(self.uids) == count


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sequence_numbers_hold_still_until_reported(lab, seed: int) -> None:
    rng = random.Random(seed)
    folder = lab.store.accounts["user@example.com"].folder("INBOX")
    a = lab.driver(select="INBOX")
    b = lab.driver(select="INBOX")
    model = NaiveClient(folder.uids().tolist())
    for step in range(150):
        action = rng.random()
        if action < 0.3:
            b.send(b"x APPEND INBOX {2+}\r\nhi")
        elif action < 0.6 and len(folder):
            seqs = ",".join(str(rng.randint(1, len(folder))) for _ in range(rng.randint(1, 3)))
            b.send(f"y STORE {seqs} +FLAGS.SILENT (\\Deleted)")
            b.send("z EXPUNGE")
        elif action < 0.8:
            command = "f FETCH 1:* (UID)"
            if rng.random() < 0.3 and model.uids:
                command = f"f STORE {rng.randint(1, len(model.uids))} +FLAGS (\\Flagged)"
            out = a.send(command)
            assert b"EXPUNGE" not in out, (seed, step)
            model.apply(out, folder)
            for seq, uid in FETCH_LINE.findall(out):
                assert model.uids[int(seq) - 1] == int(uid), (seed, step, seq, uid)
        else:
            model.apply(a.send("n NOOP"), folder)
            assert model.uids == folder.uids().tolist(), (seed, step)
    model.apply(a.send("n NOOP"), folder)
    assert model.uids == folder.uids().tolist()
