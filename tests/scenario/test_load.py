"""Scenario files are refused with file, line, key and reason; valid ones build ServerConfig."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from scenario_helpers import header

from inboxlab.fakeserver.errors import ScenarioError
from inboxlab.fakeserver.profiles import load_profile, names
from inboxlab.fakeserver.scenario.load import load, loads
from inboxlab.fakeserver.scenario.model import (
    Bye,
    Chance,
    OnCommand,
    Reset,
    Throttle,
)

BASE = header(name="t", seed=4, password="pw", count=10)


def refused(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        loads(text, file="bad.toml")
    return info.value


def line_of(err: ScenarioError) -> int:
    match = re.search(r"line (\d+)", err.location or "")
    assert match, f"no line in {err.location!r}"
    return int(match.group(1))


def test_minimal_scenario_builds_the_server_config() -> None:
    scenario = loads(BASE)
    assert scenario.name == "t" and scenario.seed == 4
    (account,) = scenario.config.accounts
    assert account.username == "user@example.com"
    assert "pw" not in repr(account)
    inbox = next(f for f in account.folders if f.name == "INBOX")
    assert inbox.generated is not None and inbox.generated.count == 10
    sent = next(f for f in account.folders if f.name == "Sent")  # from the dovecot profile
    assert sent.special_use == ("\\Sent",)


def test_unknown_top_level_key_names_file_line_and_key() -> None:
    err = refused(BASE + "\ncolour = 'blue'\n")
    assert err.file == "bad.toml"
    assert "unknown key 'colour'" in err.what
    assert line_of(err) == BASE.count("\n") + 2


def test_unknown_key_inside_a_timeline_action_points_at_its_line() -> None:
    text = BASE + """
[[timeline]]
name = "one"
trigger = { at = 1 }
action = { type = "bye", text = "x" }

[[timeline]]
name = "two"
[timeline.trigger]
at = 2
[timeline.action]
type = "bye"
txet = "typo"
"""
    err = refused(text)
    assert "timeline[1].action.txet" in (err.location or "")
    assert text.splitlines()[line_of(err) - 1].startswith("txet")


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("[accounts.folders.generate]\ncount = 'ten'", "expected an integer, got a string"),
        ("", None),
    ],
)
def test_wrong_types_are_named(snippet: str, message: str | None) -> None:
    if not snippet:
        err = refused(BASE.replace('password = "pw"', "password = 12"))
        assert "expected a string, got an integer" in err.what
        assert "accounts[0].password" in (err.location or "")
        return
    err = refused(BASE.replace("[accounts.folders.generate]\ncount = 10", snippet))
    assert message is not None and message in err.what
    assert "count" in (err.location or "")


def test_unknown_profile_lists_the_known_ones() -> None:
    err = refused(BASE.replace('profile = "dovecot"', 'profile = "hotmail"'))
    assert "unknown profile 'hotmail'" in err.what
    assert "gmail" in err.what and "office365" in err.what
    assert line_of(err) == 5


@pytest.mark.parametrize(
    ("seed", "what"),
    [
        ("-1", "between 0 and 2**63-1"),
        ('"abc"', "expected an integer seed, got a string"),
        ("1.5", "expected an integer seed, got a number"),
        ("9223372036854775808", "between 0 and 2**63-1"),
        ("true", "expected an integer seed, got a boolean"),
    ],
)
def test_bad_seeds_are_refused(seed: str, what: str) -> None:
    err = refused(BASE.replace("seed = 4", f"seed = {seed}"))
    assert what in err.what
    assert line_of(err) == 2


def _with_event(trigger: str, action: str = '{ type = "reset" }') -> str:
    return BASE + f'\n[[timeline]]\nname = "e"\ntrigger = {trigger}\naction = {action}\n'


@pytest.mark.parametrize(
    ("trigger", "action", "what"),
    [
        ("{ command = 'UID FETCH', nth = 0 }", None, "must be >= 1"),
        ("{ connection = 0 }", None, "must be >= 1"),
        ("{ probability = 1.5, seed = 1 }", None, "must be <= 1"),
        ("{ probability = 0.5 }", None, "missing required key 'seed'"),
        ("{ at = -3 }", None, "must be >= 0"),
        ("{ bytes = 0 }", None, "must be >= 1"),
        ("{ at = 1, connection = 2 }", None, "exactly one of"),
        ("{ nth = 2 }", None, "exactly one of"),
        ("{ command = 'FETCHH' }", None, "unknown IMAP command 'FETCHH'"),
        ("{ command = 'SELECT', mailbox = 'Nope' }", None, "not a folder of any account"),
        ("{ login = 1, user = 'who@example.com' }", None, "not an account of this scenario"),
        ("{ regex = '(' }", None, "invalid regex"),
        ("{ at = 5 }", "{ type = 'no', text = 'x' }", "never has a command in hand"),
        ("{ connection = 1 }", "{ type = 'throttle' }", "never has a command in hand"),
        ("{ probability = 0.1, seed = 1, per = 'connection', command_name = 'NOOP' }", None,
         "only applies with per"),
        ("{ at = 1 }", "{ type = 'explode' }", "'explode' is not one of"),
        ("{ at = 1 }", "{ type = 'bye', code = 'NOPE' }", "unknown response code 'NOPE'"),
        ("{ at = 1 }", "{ type = 'uidvalidity_reset', folder = 'Nope' }", "not a folder of"),
        ("{ at = 1 }", "{ type = 'reset', direction = 'sideways' }", "is not one of"),
        ("{ at = 1 }", '{ type = "bye", text = "two\\nlines" }', "single line"),
    ],
)
def test_impossible_triggers_and_actions_are_refused(
    trigger: str, action: str | None, what: str
) -> None:
    text = _with_event(trigger, action or '{ type = "reset" }')
    err = refused(text)
    assert what in err.what, err
    assert "timeline[0]" in (err.location or "")
    assert text.splitlines()[line_of(err) - 1].startswith(("trigger", "action"))


def test_parsed_timeline_has_typed_triggers_and_actions() -> None:
    text = BASE + """
[[timeline]]
name = "reset"
trigger = { command = "uid  fetch", mailbox = "INBOX", nth = 3 }
action = { type = "reset", direction = "both", after_bytes = 100 }

[[timeline]]
name = "bye"
trigger = { probability = 0.25, seed = 9, per = "command" }
action = { type = "bye", code = "[unavailable]", text = "down for maintenance" }

[[timeline]]
name = "slow"
trigger = { command = "FETCH" }
action = { type = "throttle", style = "office365", backoff_ms = 1200 }
"""
    reset, bye, slow = loads(text).timeline
    assert reset.trigger == OnCommand(nth=3, name="UID FETCH", mailbox="INBOX")
    assert reset.action == Reset(direction="both", after_bytes=100)
    assert bye.trigger == Chance(probability=0.25, seed=9, per="command")
    assert bye.action == Bye(text="down for maintenance", code="UNAVAILABLE")
    assert slow.action == Throttle(style="office365", backoff_ms=1200)


def test_overrides_change_capabilities_greeting_and_limits() -> None:
    text = BASE.replace('profile = "dovecot"', """profile = "gmail"
special_use = false
greeting = "Hello there"
max_connections = 2
[server.capabilities]
idle = false
remove = ["X-GM-EXT-1"]
add = ["X-EXAMPLE"]""")
    config = loads(text).config
    caps = config.capabilities
    assert not caps.special_use and not caps.idle
    assert "X-GM-EXT-1" not in caps.extra and "X-EXAMPLE" in caps.extra
    assert config.greeting == "Hello there" and config.max_connections_per_user == 2


def test_duplicate_accounts_and_folders_are_refused() -> None:
    doubled = BASE + '\n[[accounts]]\nusername = "USER@example.com"\npassword = "x"\n'
    assert "duplicate account" in refused(doubled).what
    twice = BASE + '\n[[accounts.folders]]\nname = "INBOX"\n'
    assert "duplicate folder 'INBOX'" in refused(twice).what


def test_expect_blocks_are_checked() -> None:
    good = loads(BASE + '\n[[expect]]\ncheck = "message_count"\nfolder = "INBOX"\ncount = 10\n')
    assert good.expect[0].get("count") == 10
    err = refused(BASE + '\n[[expect]]\ncheck = "message_count"\nfolder = "INBOX"\n')
    assert "needs key 'count'" in err.what
    err = refused(BASE + '\n[[expect]]\ncheck = "vibes"\n')
    assert "'vibes' is not one of" in err.what


def test_invalid_toml_and_missing_file() -> None:
    err = refused("name = \n")
    assert "not valid TOML" in err.what and err.file == "bad.toml"
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load(Path("/nonexistent/x.toml"))


@pytest.mark.parametrize("name", names())
def test_every_profile_loads_and_cites_a_source(name: str) -> None:
    profile = load_profile(name)
    assert profile.source.startswith("https://")
    assert profile.capability_line.split()[0] in ("IMAP4rev1", "IMAP4", "XAPPLEPUSHSERVICE")
    assert any(f[0] == "INBOX" for f in profile.folders)


def test_profile_facts_from_the_issue() -> None:
    gmail = load_profile("gmail")
    assert gmail.max_connections == 15 and gmail.autosave_sent == "[Gmail]/Sent Mail"
    assert "X-GM-EXT-1" in gmail.capabilities.extra
    assert ("[Gmail]/All Mail", ("\\All",)) in gmail.folders
    o365 = load_profile("office365")
    assert not o365.capabilities.condstore and o365.autosave_sent == "Sent Items"
    exchange = load_profile("exchange")
    assert not exchange.capabilities.special_use and exchange.max_connections == 16
    assert exchange.latency.select_ms_per_1000 > 0
    assert not load_profile("yahoo").capabilities.idle
    assert ("Sent Messages", ("\\Sent",)) in load_profile("icloud").folders
    assert "Courier-IMAP ready" in load_profile("courier").greeting
    generic = [f[0] for f in load_profile("generic-no-special-use").folders]
    assert {"Gesendet", "Presentations", "Sent"} <= set(generic)


def test_the_readme_example_is_a_valid_scenario() -> None:
    readme = Path(__file__).resolve().parents[2] / "scenarios" / "README.md"
    match = re.search(r"## A complete example\n\n```toml\n(.*?)```", readme.read_text(), re.S)
    assert match, "the README lost its complete example"
    scenario = loads(match.group(1), file=str(readme))
    assert scenario.profile.name == "gmail" and len(scenario.timeline) == 3
    assert scenario.smtp is not None and scenario.smtp.personas[0].address == "dana@acme.example"


def test_misspelled_keys_get_a_suggestion_and_their_own_line() -> None:
    err = refused(BASE.replace('profile = "dovecot"', 'profil = "dovecot"'))
    assert "unknown key 'profil'; did you mean 'profile'?" in err.what
    assert line_of(err) == 5
    text = BASE + '\n[[accounts.folders.messages]]\nsubjekt = "typo"\n'
    err = refused(text)
    assert "missing required key 'subject' (is 'subjekt' a misspelling of it?)" in err.what
    assert text.splitlines()[line_of(err) - 1].startswith("subjekt")
