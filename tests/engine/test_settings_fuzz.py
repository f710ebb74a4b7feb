"""Bad input never crashes: arbitrary text gives a ConfigError or a value, nothing else."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from inboxlab.engine.errors import ConfigError
from inboxlab.engine.roles import ListMethod, Role, detect_roles
from inboxlab.engine.settings import ImapServer, detect_greeting, parse_server

SEED = settings(max_examples=150, derandomize=True, deadline=None)


@SEED
@given(st.text(max_size=80))
def test_parse_server_gives_a_server_or_a_config_error(text: str) -> None:
    try:
        server = parse_server(text)
    except ConfigError as err:
        assert err.code and err.remediation
    else:
        assert isinstance(server, ImapServer)
        assert parse_server(server.url()) == server


@SEED
@given(st.from_regex(r"(imaps?|smtps?|pop3?)://[a-z0-9.\-\[\]:]{0,30}(:[0-9]{0,6})?(\?.{0,12})?",
                     fullmatch=True))
def test_parse_server_url_shapes(text: str) -> None:
    try:
        parse_server(text)
    except ConfigError:
        pass


@SEED
@given(st.binary(max_size=200))
def test_detect_greeting_never_raises(line: bytes) -> None:
    refusal = detect_greeting(line)
    assert refusal is None or refusal.error.permanent


@SEED
@given(st.lists(st.tuples(st.text(min_size=1, max_size=20),
                          st.lists(st.sampled_from(["\\Sent", "\\Noselect", "\\Trash", "\\All",
                                                    "\\HasChildren", "\\Junk", "\\Drafts"]),
                                   max_size=3),
                          st.sampled_from(["/", ".", None])), max_size=12),
       st.sampled_from(list(ListMethod)))
def test_role_detection_never_crashes_and_never_picks_noselect(
    folders: list[tuple[str, list[str], str | None]], method: ListMethod
) -> None:
    roles = detect_roles(folders, method)
    noselect = {name for name, attrs, _ in folders if "\\Noselect" in attrs}
    chosen = [c.folder for r, c in roles.items() if r is not Role.INBOX and c.folder]
    assert not set(chosen) & noselect
    assert len(chosen) == len(set(chosen))  # no folder gets two roles
