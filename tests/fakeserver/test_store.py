"""The mailbox model: numbering, flags, modseqs, events, accounts, and its memory shape."""

from __future__ import annotations

import gc
import random
import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime

import pytest

from inboxlab.fakeserver import generate, render
from inboxlab.fakeserver.errors import CommandFailed
from inboxlab.fakeserver.generate import GenSpec
from inboxlab.fakeserver.store import (
    Account,
    Exists,
    Expunged,
    FlagsChanged,
    Folder,
    FolderEvent,
    Store,
    UidValidityChanged,
    normalize_name,
)

SPEC = GenSpec(count=300, seed=5)
RAW = b"From: a@b.c\r\nSubject: appended\r\n\r\nhello\r\n"
WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _folder(count: int = 300) -> Folder:
    return Folder.generated("INBOX", GenSpec(count=count, seed=5), uidvalidity=7)


class Model:
    """The naive reference: a dict per message, list order = sequence order."""

    def __init__(self, folder: Folder) -> None:
        self.msgs = [{"uid": u, "flags": set(folder.flags(u))} for u in folder.uids()]
        self.uidnext = folder.uidnext

    def find(self, uid: int) -> dict | None:
        return next((m for m in self.msgs if m["uid"] == uid), None)


def test_random_operations_agree_with_a_naive_model() -> None:
    rng = random.Random(2024)
    folder = _folder()
    model = Model(folder)
    events: list[FolderEvent] = []
    folder.subscribe(events.append)
    last_modseq = folder.highestmodseq
    appended_log: list[int] = []
    for _ in range(400):
        op = rng.choice(["append", "store", "store", "expunge", "remove", "uid_expunge"])
        present = [m["uid"] for m in model.msgs]
        pick = [*rng.sample(present, min(len(present), rng.randint(0, 6))), 10_000]
        if op == "append":
            uid = folder.append(RAW, ["\\Seen", "$Label"], WHEN)
            assert uid == model.uidnext
            appended_log.append(uid)
            model.msgs.append({"uid": uid, "flags": {"\\Seen", "$Label"}})
            model.uidnext += 1
        elif op == "store":
            mode = rng.choice("+-=")
            flags = set(rng.sample(["\\Seen", "\\Deleted", "\\Flagged", "$Work"], 2))
            changed, modified = folder.store(pick, mode, flags)
            assert modified == []
            expect = []
            for uid in pick:
                m = model.find(uid)
                if m is None:
                    continue
                new = (
                    m["flags"] | flags
                    if mode == "+"
                    else (m["flags"] - flags if mode == "-" else set(flags))
                )
                if new != m["flags"]:
                    expect.append(uid)
                m["flags"] = new
            assert changed == expect
        else:
            if op == "expunge":
                gone = folder.expunge()
                doomed = [m for m in model.msgs if "\\Deleted" in m["flags"]]
            elif op == "uid_expunge":
                gone = folder.expunge(pick)
                doomed = [m for m in model.msgs if "\\Deleted" in m["flags"] and m["uid"] in pick]
            else:
                gone = folder.remove(pick)
                doomed = [m for m in model.msgs if m["uid"] in pick]
            expect = []
            for m in doomed:
                expect.append((model.msgs.index(m) + 1, m["uid"]))
                model.msgs.remove(m)
            assert gone == expect
        assert folder.highestmodseq >= last_modseq
        last_modseq = folder.highestmodseq
        assert len(folder) == len(model.msgs)
        assert list(folder.uids()) == [m["uid"] for m in model.msgs]
        for seq in rng.sample(range(1, len(model.msgs) + 1), min(5, len(model.msgs))):
            m = model.msgs[seq - 1]
            assert folder.uid_at(seq) == m["uid"]
            assert folder.seq_of(m["uid"]) == seq
            assert folder.flags(m["uid"]) == m["flags"]
            assert folder.modseq(m["uid"]) <= folder.highestmodseq
        unseen = [seq for seq, m in enumerate(model.msgs, 1) if "\\Seen" not in m["flags"]]
        assert folder.unseen() == len(unseen)
        assert folder.first_unseen() == (unseen[0] if unseen else None)
    assert folder.seq_of(10_000) is None
    # every change was announced, in order: replaying Exists/Expunged rebuilds the UIDs
    appended = iter(appended_log)
    replay = list(range(1, 301))
    for event in events:
        if isinstance(event, Expunged):
            assert replay[event.seq - 1] == event.uid
            del replay[event.seq - 1]
        elif isinstance(event, Exists):
            while len(replay) < event.count:
                replay.append(next(appended, -1))
            assert len(replay) == event.count
    assert replay == list(folder.uids())


def test_modseq_and_condstore_queries() -> None:
    folder = _folder(20)
    assert folder.highestmodseq == 1
    assert folder.changed_since(0) == list(range(1, 21))
    changed, _ = folder.store([3, 4], "+", ["\\Flagged"])
    assert changed == [3, 4]
    ms = folder.highestmodseq
    assert ms == 2 and folder.modseq(3) == folder.modseq(4) == 2 and folder.modseq(5) == 1
    assert folder.changed_since(1) == [3, 4]
    assert folder.changed_since(2) == []
    folder.store([5], "+", ["\\Deleted"])
    assert folder.expunge() == [(5, 5)]
    assert folder.expunged_since(ms) == [5]
    assert folder.expunged_since(folder.highestmodseq) == []
    # UNCHANGEDSINCE: 3 was changed at modseq 2, so it is refused at 1
    changed, modified = folder.store([3, 6], "+", ["\\Seen", "\\Answered"], unchangedsince=1)
    assert modified == [3]
    assert 3 not in changed and folder.flags(3) >= {"\\Flagged"}
    # a no-op store bumps nothing
    before = folder.highestmodseq
    folder.store([6], "+", ["\\Answered"])
    assert folder.highestmodseq == before


def test_events_reach_subscribers_and_a_broken_one_does_not_stop_others() -> None:
    folder = _folder(5)
    got: list[FolderEvent] = []

    def broken(event: FolderEvent) -> None:
        raise RuntimeError("boom")

    folder.subscribe(broken)
    stop = folder.subscribe(got.append)
    uid = folder.append(RAW)
    folder.store([uid], "+", ["\\Deleted"])
    folder.expunge()
    assert got == [
        Exists(6),
        FlagsChanged(uid, frozenset({"\\Deleted"}), 3),
        Expunged(6, uid, 4, frozenset({"\\Deleted"}), 3),  # last flags and MODSEQ
    ]
    stop()
    folder.append(RAW)
    assert len(got) == 3


def test_appended_and_copied_messages() -> None:
    src = _folder(10)
    dest = Folder("Archive", uidvalidity=9)
    uid = src.append(RAW, ["\\Seen", "\\Recent"], WHEN)
    assert src.raw(uid) == RAW and src.size(uid) == len(RAW)
    assert src.internaldate(uid) == WHEN
    assert src.flags(uid) == {"\\Seen"}  # \Recent is never stored
    assert src.header_fields(uid, ["subject"]) == b"Subject: appended\r\n\r\n"
    assert src.headers(uid)["subject"] == ("appended",)
    pairs = src.copy_to([2, uid, 999], dest)
    assert pairs == [(2, 1), (uid, 2)]
    assert dest.raw(1) == src.raw(2) and dest.flags(1) == src.flags(2)
    assert dest.internaldate(1) == src.internaldate(2)
    with pytest.raises(TypeError):
        src.append("not bytes")  # type: ignore[arg-type]


def test_reset_uidvalidity_renumbers_and_keeps_content() -> None:
    folder = _folder(30)
    folder.store([1, 2, 3], "+", ["\\Deleted"])
    folder.expunge()
    new = folder.append(RAW, ["$Keep"])
    folder.store([10], "=", ["$Mine"])
    before = [(folder.raw(u), folder.flags(u)) for u in folder.uids()]
    events: list[FolderEvent] = []
    folder.subscribe(events.append)
    folder.reset_uidvalidity(77)
    assert events == [UidValidityChanged(77)]
    assert folder.uidvalidity == 77
    assert list(folder.uids()) == list(range(1, 29))
    assert folder.uidnext == 29
    assert [(folder.raw(u), folder.flags(u)) for u in folder.uids()] == before
    assert folder.flags(28) == {"$Keep"} and new == 31
    linear = [u for u in folder.uids() if "\\Seen" not in folder.flags(u)]
    assert folder.unseen() == len(linear)
    assert folder.first_unseen() == folder.seq_of(linear[0])
    assert folder.append(RAW) == 29


def test_header_fields_fast_path_matches_render_for_2000_random_uids() -> None:
    rng = random.Random(11)
    folder = _folder(3000)
    folder.remove(rng.sample(range(1, 3001), 200))
    folder.append(RAW)
    uids = folder.uids()
    names = ["From", "to", "Subject", "DATE", "message-id", "References", "In-Reply-To", "Cc"]
    for _ in range(2000):
        uid = rng.choice(uids)
        fields = rng.sample(names, rng.randint(1, 5))
        negate = rng.random() < 0.25
        kind = "HEADER.FIELDS.NOT" if negate else "HEADER.FIELDS"
        expect = render.section(folder.raw(uid), (), kind, fields)
        assert folder.header_fields(uid, fields, negate) == expect
        assert folder.size(uid) == len(folder.raw(uid))


def test_unseen_counts() -> None:
    folder = _folder(200)
    unseen = [u for u in folder.uids() if "\\Seen" not in folder.flags(u)]
    assert folder.unseen() == len(unseen)
    assert folder.first_unseen() == folder.seq_of(unseen[0])
    folder.store(unseen, "+", ["\\Seen"])
    assert folder.unseen() == 0 and folder.first_unseen() is None
    assert folder.recent() == 0


_MILLION = """
import resource, sys
from inboxlab.fakeserver.store import Folder
from inboxlab.fakeserver.generate import GenSpec
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
folder = Folder.generated("Big", GenSpec(count=1_000_000, seed=9))
seen = 0
for seq in range(1, len(folder) + 1):            # FETCH 1:* (UID FLAGS)
    if "\\\\Seen" in folder.flags(folder.uid_at(seq)):
        seen += 1
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(seen, (peak - base) * 1024)
"""


def test_million_message_folder_costs_no_per_message_objects() -> None:
    """A 1,000,000-message folder after FETCH 1:* (UID FLAGS) grows peak RSS by a few MB.

    Measured in a fresh process (peak RSS is per process). One small object per
    message (a tuple, a frozenset) would add > 50 MB.
    """
    out = subprocess.run(
        [sys.executable, "-c", _MILLION], capture_output=True, text=True, check=True
    )
    seen, grown = map(int, out.stdout.split())
    assert 600_000 < seen < 800_000
    assert grown < 40 * 1024 * 1024, f"peak RSS grew {grown / 2**20:.1f} MiB"


def test_folder_structures_do_not_grow_with_reads() -> None:
    """tracemalloc view of the same property, on a smaller folder: reading every
    message's flags, size and header fields allocates nothing that stays."""
    folder = _folder(20_000)
    folder.flags(1)  # computes the one-byte-per-message default flag table
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for uid in folder.uids():
            folder.flags(uid)
            folder.modseq(uid)
        for uid in range(1, 20_001, 10):
            folder.size(uid)
            folder.header_fields(uid, ["From", "Subject"])
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 64 * 1024, f"{after - before} bytes kept"


# -- accounts and the store --------------------------------------------------------------


def test_folder_names_are_normalised() -> None:
    assert normalize_name("inbox") == "INBOX"
    assert normalize_name("Inbox/Sub") == "INBOX/Sub"
    assert normalize_name("Archive/") == "Archive"
    assert normalize_name("Inboxes") == "Inboxes"
    for bad in ("", "a//b", "/", "x\r\ny"):
        with pytest.raises(CommandFailed) as err:
            normalize_name(bad)
        assert err.value.code == "CANNOT"


def test_account_create_delete_rename() -> None:
    store = Store(uidvalidity_start=100)
    acct = store.add_account("user@example.com", "s3cret")
    assert acct.folder("inbox") is acct.folders["INBOX"]
    sent = acct.create("Sent", special_use=["\\Sent"])
    assert acct.special("\\Sent") is sent
    with pytest.raises(CommandFailed) as err:
        acct.create("sent")  # names other than INBOX are case-sensitive...
        acct.create("Sent")
    assert err.value.code == "ALREADYEXISTS"
    acct.create("Projects/Alpha")
    acct.create("Projects")
    assert acct.has_children("Projects") and not acct.has_children("Sent")
    acct.rename("Projects", "Work")
    assert set(acct.folders) >= {"Work", "Work/Alpha"} and "Projects/Alpha" not in acct.folders
    with pytest.raises(CommandFailed) as err:
        acct.rename("Work", "Work/Deeper")
    assert err.value.code is None  # Dovecot's plain NO
    with pytest.raises(CommandFailed) as err:
        acct.get("Nope")
    assert err.value.code == "NONEXISTENT"
    with pytest.raises(CommandFailed):
        acct.delete("INBOX")
    # a re-created folder never reuses a UIDVALIDITY
    old = acct.folders["Work"].uidvalidity
    acct.delete("Work")
    assert acct.create("Work").uidvalidity != old


def test_levels_above_folders_and_subscriptions_of_their_own() -> None:
    """Levels exist while a folder is below them; RENAME of a level moves what is under
    it (into a level that exists too); subscriptions stay on DELETE and RENAME."""
    acct = Account("u", "p")
    acct.create("P/2024/Q1", subscribed=False)
    acct.create("Done/Old", subscribed=False)
    assert acct.levels() == {"P", "P/2024", "Done"}
    acct.subscribe("P/2024/Q1")
    with pytest.raises(CommandFailed) as err:
        acct.subscribe("P")  # a level is no mailbox (Dovecot: plain NO)
    assert err.value.code is None
    assert acct.rename("P", "Done") is None  # a level: nothing to return
    assert set(acct.folders) == {"INBOX", "Done/Old", "Done/2024/Q1"}
    assert "P/2024/Q1" in acct.subscriptions and "Done/2024/Q1" not in acct.subscriptions
    with pytest.raises(CommandFailed) as err:
        acct.rename("Nowhere", "Else")
    assert err.value.code == "NONEXISTENT"
    acct.create("Q/Old", subscribed=False)
    with pytest.raises(CommandFailed) as err:
        acct.rename("Q", "Done")  # Done/Old is taken
    assert err.value.code == "ALREADYEXISTS"
    acct.unsubscribe("Never/Was")  # OK: nothing to drop
    acct.delete("Done/2024/Q1")
    assert acct.levels() == {"Done", "Q"}


def test_rename_inbox_moves_messages_and_leaves_it_empty() -> None:
    acct = Account("u", "p")
    inbox = acct.folders["INBOX"]
    inbox.append(RAW, ["\\Seen"])
    inbox.append(RAW)
    moved = acct.rename("INBOX", "Old")
    assert len(inbox) == 0 and acct.folder("INBOX") is inbox
    assert len(moved) == 2 and moved.flags(1) == {"\\Seen"}


def test_authentication_and_secret_hiding() -> None:
    store = Store()
    acct = store.add_account("user@example.com", "hunter2")
    assert store.authenticate("user@example.com", "hunter2") is acct
    assert store.authenticate("user@example.com", "wrong") is None
    assert store.authenticate("nobody", "hunter2") is None
    assert "hunter2" not in repr(acct) and "hunter2" not in repr(store)
    with pytest.raises(ValueError):
        store.add_account("user@example.com", "again")


def test_generated_folder_via_account_and_store_reset() -> None:
    store = Store(uidvalidity_start=5)
    acct = store.add_account("u", "p")
    big = acct.create("Big", spec=GenSpec(count=50, seed=1))
    assert len(big) == 50 and big.uidnext == 51
    assert big.raw(50) == generate.message(GenSpec(count=50, seed=1), 49)
    value = store.reset_uidvalidity(big)
    assert big.uidvalidity == value and value > 5


def test_copies_of_generated_messages_stay_virtual() -> None:
    """MOVE of a big generated folder must not materialise every message's bytes."""
    src = _folder(20_000)
    dest = Folder("Archive", uidvalidity=3)
    gc.collect()
    tracemalloc.start()
    try:
        pairs = src.copy_to(src.uids(), dest)
        src.remove(src.uids())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(pairs) == 20_000 and len(dest) == 20_000 and len(src) == 0
    assert peak < 30 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"  # bytes: ~70 MiB more
    reference = _folder(20_000)
    for old, new in pairs[::997]:
        assert dest.raw(new) == reference.raw(old)
        assert dest.size(new) == reference.size(old)
        assert dest.internaldate(new) == reference.internaldate(old)
        assert dest.flags(new) == reference.flags(old)
        assert dest.header_fields(new, ("Subject",)) == reference.header_fields(old, ("Subject",))


def test_internaldate_ready_for_fetch() -> None:
    from datetime import timedelta, timezone

    from inboxlab.fakeserver.messages import imap_date_time

    folder = _folder(3000)
    for uid in range(1, 3001, 37):
        assert folder.internaldate_imap(uid) == imap_date_time(folder.internaldate(uid))
    assert folder.internaldate_imap(1) == b'"01-Jan-2024 00:06:32 +0000"'
    zone = timezone(-timedelta(hours=7))
    uid = folder.append(RAW, (), datetime(1996, 7, 17, 2, 44, 25, tzinfo=zone))
    assert folder.internaldate_imap(uid) == b'"17-Jul-1996 02:44:25 -0700"'
