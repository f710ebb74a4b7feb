"""A scripted bridge: a fixed session as plain views, for snapshots (no sockets, no threads).

Everything the screens show comes from here, with fixed times, so a snapshot changes
only when the rendering does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from textual.message_pump import MessagePump

from inboxlab.tui import messages as m

AT = datetime(2026, 1, 2, 9, 30, 0, tzinfo=UTC)
FOLDERS = (
    m.FolderView("INBOX", "inbox", "INBOX is the inbox by definition (RFC 3501)", 100_412, 100_412,
                 "100,412 messages (over 100,000): first sync reads new only"),
    m.FolderView("Sent", "sent", "carries \\Sent (from LIST RETURN (SPECIAL-USE))", 120, 120),
    m.FolderView("Archive", "archive", "carries \\Archive (from LIST RETURN (SPECIAL-USE))",
                 300, 300),
    m.FolderView("Projects/Acme", None, "", 1, 1),
)
ROWS = tuple(m.HeaderRow(uid=1000 - i, date="Thu, 04 Jan 2024", sender=f"Sender {i}",
                         subject=f"Subject number {i}", seen=i % 3 != 0) for i in range(200))
TRACE = [
    "09:30:00.000 imap.connect.started host=127.0.0.1 port=993 tls=True",
    "09:30:00.010 imap.connect.complete host=127.0.0.1 port=993",
    "09:30:00.011 > A0001 LOGIN user@example.com [redacted]",
    "09:30:00.020 < A0001 OK [CAPABILITY IMAP4rev1 IDLE] Logged in",
    "09:30:05.000 < * BYE [ALERT] Server restarting [maintenance]",
]


class ScriptedBridge:
    def __init__(self) -> None:
        self.trace = list(TRACE)
        self.asked: list[tuple[str, Any]] = []

    def start(self, target: MessagePump) -> None:
        post = target.post_message
        post(m.Endpoint("scenario demo", "fake servers on 127.0.0.1:993"))
        post(m.Capabilities(("IMAP4REV1", "IDLE", "SPECIAL-USE", "CONDSTORE", "ESEARCH")))
        post(m.ConnectStage(m.StageView("connect", "ok", 10.0, "TLS")))
        post(m.ConnectStage(m.StageView("login", "ok", 9.0)))
        post(m.FoldersChanged(FOLDERS))
        post(m.ConnectionsInUse(2, 5))
        for rate in (800.0, 1200.0, 1500.0, 900.0, 1700.0, 2100.0):
            post(m.ScanProgress(m.ProgressView("Archive", 150, 300, rate)))
        post(m.ScanProgress(m.ProgressView("INBOX", 40_000, 100_412, 2000.0)))
        post(m.EngineState(m.StateView("disconnected", "Disconnected", "yellow", "warn",
                                       "Lost the connection; will retry after a backoff.", AT)))
        post(m.DisconnectReported(m.DisconnectView(
            at=AT, code="greeting_bye", kind="ServerRefused", permanent=False,
            stage="imap_idle", message="the server closed the connection",
            server_text="[ALERT] Server restarting [maintenance]",
            remediation="nothing to do: the connector reconnects after a backoff",
            cause="server_restart", cause_title="The server is restarting",
            matched_by="BYE response code 'ALERT'",
            it_fix="Nothing, unless it happens daily")))
        post(m.RetryPlanned(m.RetryView(2, 8.0, AT)))

    def stop(self, timeout: float = 10.0) -> None:
        pass

    def drain_trace(self, limit: int = 2000) -> list[str]:
        out, self.trace = self.trace, []
        return out

    def open_folder(self, folder: str, reply_to: MessagePump) -> None:
        reply_to.post_message(m.FolderOpened(folder, len(ROWS)))

    def fetch_rows(self, folder: str, start: int, count: int, reply_to: MessagePump,
                   generation: int = 0) -> None:
        self.asked.append(("rows", (start, count)))
        reply_to.post_message(m.RowsLoaded(folder, start, ROWS[start:start + count], generation))

    def search(self, folder: str, query: str, reply_to: MessagePump) -> None:
        hits = tuple(i for i, r in enumerate(ROWS) if query in r.subject)
        reply_to.post_message(m.SearchHits(folder, query, hits))

    def close_folder(self) -> None:
        self.asked.append(("close", None))

    def scan(self, folder: str) -> None:
        self.asked.append(("scan", folder))

    def run_scenario(self, name: str) -> None:
        self.asked.append(("scenario", name))

    def fire_fault(self, name: str) -> None:
        self.asked.append(("fault", name))

    def fire_action(self, action: dict[str, Any]) -> None:
        self.asked.append(("action", action))

    def connect_account(self, server: str, username: str, password: str,
                        sent_folder: str | None = None, **extra: str) -> None:
        self.asked.append(("connect", (server, username)))

    def export_bundle(self, path: Any, reply_to: MessagePump | None = None) -> None:
        self.asked.append(("bundle", path))
        path.write_text("{}")
        if reply_to is not None:
            reply_to.post_message(m.Exported("diagnostic bundle", str(path), None))

    def open_message(self, folder: str, uid: int, reply_to: MessagePump) -> None:
        self.asked.append(("message", (folder, uid)))

    def find_message(self, message_id: str, reply_to: MessagePump) -> None:
        self.asked.append(("find", message_id))

    def reconnect_now(self) -> None:
        self.asked.append(("reconnect", None))

    def validate(self, server: str, username: str, **extra: str) -> str | None:
        return None if server.startswith("imaps://") else "imap.host: not an IMAP address"

    def scenarios(self) -> list[m.ScenarioView]:
        return [m.ScenarioView("demo", "A healthy mailbox", "dovecot"),
                m.ScenarioView("inbox-100k", "INBOX with 100,000 messages", "dovecot"),
                m.ScenarioView("tarpit", "The server stops answering mid-session", "dovecot")]

    def faults(self) -> list[str]:
        return ["reset", "down 5 s", "password changed"]
