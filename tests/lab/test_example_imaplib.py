"""Example: a stdlib imaplib client against a server without SPECIAL-USE, and a reset
in the middle of a FETCH. The client under test is the two functions at the top."""

import imaplib
import ssl

import pytest

KNOWN_SENT_NAMES = {"sent", "sent items", "sent messages", "gesendet", "gesendete objekte"}


def sent_folder(imap: imaplib.IMAP4) -> str:
    """The folder flagged \\Sent, else the known Sent name that holds the most mail."""
    _, rows = imap.list()
    folders = {row.decode().rsplit(' "/" ', 1)[1].strip('"'): row for row in rows}
    flagged = [name for name, row in folders.items() if b"\\Sent" in row]
    if flagged:
        return flagged[0]
    known = [name for name in folders if name.lower() in KNOWN_SENT_NAMES]
    return max(known, key=lambda name: int(imap.select(f'"{name}"', readonly=True)[1][0]))


def message_sizes(host: str, port: int, ctx: ssl.SSLContext, user: str, password: str,
                  attempts: int = 2) -> dict[int, int]:
    """UID -> size of every INBOX message; a dropped connection is retried once."""
    for attempt in range(1, attempts + 1):
        imap = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
        try:
            imap.login(user, password)
            imap.select("INBOX", readonly=True)
            _, rows = imap.uid("FETCH", "1:*", "(RFC822.SIZE)")
            sizes = {}
            for row in rows:
                words = row.decode().replace("(", " ").replace(")", " ").split()
                sizes[int(words[words.index("UID") + 1])] = int(
                    words[words.index("RFC822.SIZE") + 1])
            return sizes
        except (imaplib.IMAP4.abort, OSError):
            if attempt == attempts:
                raise
        finally:
            imap.shutdown()
    raise AssertionError("unreachable")


@pytest.mark.inboxlab("no-special-use")
def test_finds_the_localized_sent_folder_without_special_use(inboxlab) -> None:
    with imaplib.IMAP4_SSL(inboxlab.imaps.host, inboxlab.imaps.port,
                           ssl_context=inboxlab.ssl_context()) as imap:
        imap.login(inboxlab.login.username, inboxlab.login.password)
        assert b"SPECIAL-USE" not in b" ".join(imap.capability()[1])
        assert sent_folder(imap) == "Gesendet"  # not "Sent" (empty), not "Presentations"


@pytest.mark.inboxlab("reset-mid-fetch")  # TCP RST 20 kB into the first UID FETCH
def test_a_reset_mid_fetch_is_retried_and_nothing_is_lost(inboxlab) -> None:
    sizes = message_sizes(inboxlab.imaps.host, inboxlab.imaps.port, inboxlab.ssl_context(),
                          inboxlab.login.username, inboxlab.login.password)
    inbox = inboxlab.folder("INBOX")
    assert sorted(sizes) == list(inbox.uids)
    assert [sizes[m.uid] for m in inbox.messages] == [m.size for m in inbox.messages]
    assert inboxlab.counters()["action.Reset"] == 1  # the fault did fire


def test_without_the_retry_the_reset_surfaces(inboxlab_factory) -> None:
    lab = inboxlab_factory("reset-mid-fetch")
    with pytest.raises(imaplib.IMAP4.abort):
        message_sizes(lab.imaps.host, lab.imaps.port, lab.ssl_context(),
                      lab.login.username, lab.login.password, attempts=1)
