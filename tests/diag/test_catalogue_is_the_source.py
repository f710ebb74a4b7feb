"""The catalogue is the one place for server words, response codes and their permanence:
the engine's refusal builder and the supervisor's classifier read it, so what the engine
decides (retry or stop) and what diagnostics say can never disagree."""

from __future__ import annotations

import pytest

from inboxlab.engine.catalogue import BY_CODE, CAUSES, RESPONSE_CODES, by_words
from inboxlab.engine.diag.classify import diagnose
from inboxlab.engine.errors import AuthFailed, ServerRefused, Throttled
from inboxlab.engine.imap.results import refusal
from inboxlab.engine.supervise import classify


def test_causes_and_the_response_code_table_agree_on_permanence() -> None:
    for c in CAUSES:
        for rc in c.evidence.response_codes:
            if rc in RESPONSE_CODES:
                assert RESPONSE_CODES[rc].permanent == c.permanent, (c.code, rc)


@pytest.mark.parametrize("rc", sorted(RESPONSE_CODES))
def test_every_response_code_refusal_follows_the_table(rc: str) -> None:
    err = refusal("NO", rc, (), "said", stage="imap_select", command="SELECT")
    known = RESPONSE_CODES[rc]
    assert err.permanent == known.permanent
    assert isinstance(err, AuthFailed) == known.credentials
    assert err.code == rc.lower()
    # diagnostics and the engine say the same thing whenever a cause names the code
    d = diagnose(err)
    if d.cause.code != "unknown":
        assert d.permanent == err.permanent, d.as_dict()
        assert err.remediation == d.cause.owner_fix


@pytest.mark.parametrize("code", ["imap_disabled", "too_many_connections"])
def test_every_phrasing_of_a_worded_cause_is_recoded_by_the_supervisor(code: str) -> None:
    entry = BY_CODE[code]
    assert entry.evidence.texts
    for phrase in entry.evidence.texts:
        login_no = refusal("NO", "ALERT", (), f"[ALERT] {phrase.upper()} (Failure)",
                           stage="imap_login", command="LOGIN")
        assert isinstance(login_no, AuthFailed)  # what refusal alone would say
        seen = classify(login_no)
        assert (seen.code, seen.permanent, seen.remediation) == (
            code, entry.permanent, entry.owner_fix), phrase
        assert type(seen) is ServerRefused and diagnose(seen).code == code


def test_throttling_words_without_a_code_are_never_a_wrong_password() -> None:
    for text in ("Request is throttled. Try again later.", "Throttling in effect"):
        err = refusal("NO", None, (), text, stage="imap_login", command="LOGIN")
        assert isinstance(err, Throttled) and not err.permanent, text
        assert err.remediation == BY_CODE["throttled"].owner_fix


def test_bad_stays_permanent_and_bare_no_transient() -> None:
    bad = refusal("BAD", "SERVERBUG", (), "oops", stage="imap_fetch", command="UID FETCH")
    assert bad.permanent and bad.code == "serverbug"
    assert refusal("BAD", None, (), "x", stage="imap_fetch", command="UID FETCH").code == \
        "server_bad"
    bare = refusal("NO", None, (), "no", stage="imap_select", command="SELECT")
    assert (bare.code, bare.permanent, bare.remediation) == ("server_no", False, None)


def test_words_bound_to_login_count_only_at_login() -> None:
    said = "Application-specific password required"
    assert by_words(said, "imap_login") is BY_CODE["app_password_required"]
    assert by_words(said, "imap_select") is None
    assert by_words("nothing known", "imap_login") is None


def test_the_engine_s_code_spellings_are_the_catalogue_s() -> None:
    """A refusal's code is its response code lower-cased: a cause that names a response
    code names that spelling among its error codes, and the supervisor recodes only to
    codes the catalogue lists."""
    for c in CAUSES:
        for rc in c.evidence.response_codes:
            assert rc.lower() in c.evidence.codes, (c.code, rc)
            made = refusal("NO", rc, (), "said", stage="imap_select", command="SELECT")
            assert made.code in c.evidence.codes, (c.code, made.code)
    from inboxlab.engine.supervise import _BY_WORDS

    for code in _BY_WORDS:
        assert code in BY_CODE[code].evidence.codes and BY_CODE[code].evidence.texts


@pytest.mark.parametrize("verify_code", [62, 18, 10, 99])
def test_certificate_failures_carry_the_remedy_of_the_cause_diagnosed(verify_code: int) -> None:
    import ssl

    from inboxlab.engine.imap.failures import tls_error

    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_code, exc.verify_message = verify_code, "said"
    err = tls_error(exc, "imap.example.com")
    d = diagnose(err)
    assert d.cause.code in ("tls_hostname_mismatch", "tls_untrusted"), d.as_dict()
    assert err.permanent == d.permanent and err.remediation == d.cause.owner_fix
