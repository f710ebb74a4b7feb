"""SEARCH FROM/TO/CC's view of an address field (fakeserver/search_address.py), no sockets;
tests/interop/test_differential_sessions.py checks the same against Dovecot."""

from __future__ import annotations

from inboxlab.fakeserver.search_address import address_items


def test_each_address_written_back_without_comments() -> None:
    assert address_items("Joe (the man) Smith <joe(c1)@ex(c2).com>, b@y.com") == [
        '"Joe Smith" <joe@ex.com>', "b@y.com"]
    assert address_items("joe@ex.com (Joe Comment)") == ['"Joe Comment" <joe@ex.com>']
    assert address_items('"a\\"b" <ab@x.com>') == ['"a\\"b" <ab@x.com>']


def test_groups_missing_parts_and_encoded_words() -> None:
    assert address_items("Team: a@x.com,\r\n b@y.com;") == ["Team: ", "a@x.com", "b@y.com", ";"]
    assert address_items("undisclosed-recipients:;") == ["undisclosed-recipients:;"]
    assert address_items("@nolocal, missing") == ["MISSING_MAILBOX@nolocal",
                                                  "missing@MISSING_DOMAIN"]
    assert address_items("=?UTF-8?Q?J=C3=BCrgen?= <j@example.com>") == ["Jürgen <j@example.com>"]
    assert address_items("=?bogus?X?broken?= <j@x.com>") == ["=?bogus?X?broken?= <j@x.com>"]
