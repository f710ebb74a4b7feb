"""Secrets hide themselves wherever they end up, and come from env, keyring or a prompt."""

from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass

import pytest

from inboxlab.engine.secrets import Secret, find_secret, from_env, from_prompt, keyring_available

PASSWORD = "hunter2-s3cret"


def test_repr_str_and_format_hide_the_value() -> None:
    secret = Secret(PASSWORD)
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", format(secret, ">20")):
        assert PASSWORD not in shown
        assert shown == "Secret('[hidden]')"
    assert secret.reveal() == PASSWORD


def test_a_secret_inside_a_dataclass_stays_hidden() -> None:
    @dataclass(frozen=True)
    class Login:
        user: str
        password: Secret

    assert PASSWORD not in repr(Login("ann", Secret(PASSWORD)))


def test_pickling_raises_instead_of_writing_the_password() -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret(PASSWORD))
    with pytest.raises(TypeError):
        pickle.dumps({"nested": [Secret(PASSWORD)]})


def test_copy_shares_the_immutable_secret() -> None:
    secret = Secret(PASSWORD)
    assert copy.copy(secret) is secret
    assert copy.deepcopy({"s": secret})["s"] is secret


def test_equality_compares_values_and_secrets_are_unhashable() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    with pytest.raises(TypeError):
        hash(Secret("a"))


def test_non_string_is_refused() -> None:
    with pytest.raises(TypeError, match="str"):
        Secret(b"bytes")  # type: ignore[arg-type]


def test_env_source_treats_empty_as_absent() -> None:
    assert from_env("X", {"X": PASSWORD}) == Secret(PASSWORD)
    assert from_env("X", {"X": ""}) is None
    assert from_env("X", {}) is None


def test_prompt_source_uses_the_injected_asker() -> None:
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return PASSWORD

    assert from_prompt("ann@example.com", ask) == Secret(PASSWORD)
    assert asked == ["Password for ann@example.com: "]


def test_find_secret_prefers_env_then_prompt() -> None:
    found = find_secret("ann", environ={"INBOXLAB_PASSWORD": "from-env"}, use_keyring=False,
                        ask=lambda _p: "from-prompt")
    assert found is not None and found.origin == "env"
    assert found.secret.reveal() == "from-env"
    assert PASSWORD not in repr(found)

    found = find_secret("ann", environ={}, use_keyring=False, ask=lambda _p: "from-prompt")
    assert found is not None and found.origin == "prompt"
    assert find_secret("ann", environ={}, use_keyring=False) is None


def test_keyring_is_optional() -> None:
    if keyring_available():
        pytest.skip("keyring is installed here; the absent path cannot be observed")
    found = find_secret("ann", environ={}, use_keyring=True)
    assert found is None
