"""``inboxlab diagnose`` against a real Dovecot: roles without SPECIAL-USE, the certificate."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from typing import Any

import pytest

from inboxlab.cli.main import main as cli_main
from inboxlab.engine.diag.probe import ProbeOptions, probe
from inboxlab.engine.secrets import Secret
from inboxlab.engine.settings import AccountSettings, ImapServer

pytestmark = pytest.mark.dovecot

USER, PASSWORD = "diag@example.com", "diag-Dovecot-pw-1"


def run_cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli_main(argv)
    return code, out.getvalue()


async def test_without_special_use_the_fallback_sent_folder_is_reported_with_its_reason(
    dovecot_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = dovecot_factory(special_use=False)
    server.add_user(USER, PASSWORD)
    monkeypatch.setenv("INBOXLAB_PASSWORD", PASSWORD)
    url = f"imap://{server.host}:{server.port}?security=plain"
    code, out = await asyncio.to_thread(run_cli, ["diagnose", "--imap", url, "--user", USER,
                                                  "--json"])
    data = json.loads(out)
    assert code == 0 and data["status"] == "ok", out
    step = next(s for s in data["steps"] if s["step"] == "list")
    sent = step["data"]["roles"]["sent"]
    assert sent["folder"] == "Sent" and sent["source"] == "name"
    assert "name" in sent["reason"]
    assert "Sent" in step["summary"] and sent["reason"] in step["summary"]
    assert [s["step"] for s in data["steps"] if s["step"].endswith("sent")] == [
        "status sent", "select sent"]
    # The text report says the same to a person.
    code, text = await asyncio.to_thread(run_cli, ["diagnose", "--imap", url, "--user", USER])
    assert code == 0
    assert f"sent: 'Sent' - {sent['reason']}" in text
    assert "Result: OK (exit 0)" in text


async def test_the_tls_step_shows_the_certificate(dovecot: Any) -> None:
    dovecot.add_user("diag-tls@example.com", PASSWORD)
    settings = AccountSettings(username="diag-tls@example.com",
                               imap=ImapServer("localhost", dovecot.tls_port, "tls"))
    report = await probe(settings, Secret(PASSWORD), ProbeOptions(cafile=str(dovecot.ca_pem)))
    tls = report.step("tls")
    assert tls is not None and tls.status == "ok", report.as_dict()
    assert tls.data["issuer"] and tls.data["subject"] and tls.data["not_after"]
    assert "localhost" in tls.data["names"]
    assert tls.data["version"] in ("TLSv1.2", "TLSv1.3")
    assert report.status == "ok"
