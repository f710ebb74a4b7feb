"""Connect: an account form with live validation, then each connection stage with its time.

Validation is the engine's own (``engine.settings`` via the bridge): the messages name
the field and the fix, and POP3 is refused with the reason. The password is handed to
the bridge on submit and the field is cleared; the screen never keeps it. "Sign-in"
offers OAuth 2.0 (XOAUTH2 / OAUTHBEARER) instead: the access token comes from the token
command (re-run when the server refuses the token) or $INBOXLAB_OAUTH_TOKEN; the screen
never sees a token.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static

from inboxlab.tui.messages import SessionModel
from inboxlab.tui.screens.base import ModelScreen

LOGIN_CHOICES = (("Password", "password"), ("OAuth 2.0: XOAUTH2 (Google, Microsoft)", "XOAUTH2"),
                 ("OAuth 2.0: OAUTHBEARER (RFC 7628)", "OAUTHBEARER"))


class ConnectScreen(ModelScreen):
    BINDINGS = [
        Binding("escape", "app.back_or_quit", "Back", id="connect.back"),
    ]

    def __init__(self) -> None:
        super().__init__(id="connect")

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="connect-form"):
            yield Label("IMAP server (imaps://host:993, host, host:143)")
            yield Input(placeholder="imaps://imap.example.com", id="server")
            yield Label("User name (usually the email address)")
            yield Input(placeholder="me@example.com", id="username")
            yield Label("Sign-in")
            yield Select(LOGIN_CHOICES, value="password", allow_blank=False, id="login")
            yield Label("Password (never stored)", id="password-label")
            yield Input(password=True, id="password")
            yield Label("Token command (prints an access token; blank: $INBOXLAB_OAUTH_TOKEN)",
                        id="token-label")
            yield Input(placeholder="oama access me@example.com", id="token-command")
            with Horizontal(id="connect-extra"):
                with Vertical():
                    yield Label("Security")
                    yield Select([("as the address says", ""), ("TLS", "tls"),
                                  ("STARTTLS", "starttls"), ("plain (loopback)", "plain")],
                                 value="", allow_blank=False, id="security")
                with Vertical():
                    yield Label("SMTP (optional, for sending)")
                    yield Input(placeholder="smtps://smtp.example.com:465", id="smtp")
                with Vertical():
                    yield Label("CA file (optional)")
                    yield Input(placeholder="/path/to/ca.pem", id="cafile")
            yield Static("", id="validation")
            yield Button("Connect", id="connect-button", variant="primary", disabled=True)
        yield Label("Connection stages", classes="caption")
        yield Static("", id="stages")
        yield Footer()

    def on_mount(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = self.inbox_app.cursor_blink
        self.show_model(self.inbox_app.model)
        self._show_login_fields("password")
        self.query_one("#server", Input).focus()

    def _show_login_fields(self, login: object) -> None:
        oauth = login != "password"
        for selector in ("#password-label", "#password"):
            self.query_one(selector).display = not oauth
        for selector in ("#token-label", "#token-command"):
            self.query_one(selector).display = oauth

    @on(Select.Changed, "#login")
    def login_changed(self, event: Select.Changed) -> None:
        self._show_login_fields(event.value)

    def on_screen_resume(self) -> None:
        self.show_model(self.inbox_app.model)

    def show_model(self, model: SessionModel) -> None:
        text = Text()
        if model.state is not None:
            text.append(f"state: {model.state.label}\n", style="bold")
        for stage in model.stages.values():
            took = "" if stage.elapsed_ms is None else f"  {stage.elapsed_ms:.0f} ms"
            text.append(f"  {stage.stage:<10} {stage.status:<8}{took}  {stage.detail}\n")
        self.query_one("#stages", Static).update(text)

    def _extra(self) -> dict[str, str]:
        security = self.query_one("#security", Select).value
        return {"security": security if isinstance(security, str) else "",
                "smtp": self.query_one("#smtp", Input).value,
                "cafile": self.query_one("#cafile", Input).value}

    def _validate(self) -> str | None:
        server = self.query_one("#server", Input).value
        user = self.query_one("#username", Input).value
        if not server.strip() and not user.strip():
            return ""
        return self.inbox_app.bridge.validate(server, user, **self._extra())

    @on(Select.Changed, "#security")
    def security_changed(self, event: Select.Changed) -> None:
        self.on_input_changed(None)

    def on_input_changed(self, event: Input.Changed | None) -> None:
        problem = self._validate()
        label = self.query_one("#validation", Static)
        if problem:
            label.update(Text(problem, style="red"))
        elif problem is None:
            label.update(Text("looks right", style="green"))
        else:
            label.update("")
        self.query_one("#connect-button", Button).disabled = problem is not None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self._submit()

    def _submit(self) -> None:
        if self._validate() is not None:
            return
        password = self.query_one("#password", Input)
        login = self.query_one("#login", Select).value
        oauth = None if login == "password" else str(login)
        command = self.query_one("#token-command", Input).value.strip() or None
        self.inbox_app.bridge.connect_account(
            self.query_one("#server", Input).value, self.query_one("#username", Input).value,
            "" if oauth else password.value, self.inbox_app.settings.sent_folder,
            oauth=oauth, token_command=command if oauth else None, **self._extra())
        password.value = ""
        self.inbox_app.model.stages.clear()
        self.notify("connecting...", markup=False)
