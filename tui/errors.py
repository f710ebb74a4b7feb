"""The TUI's own exception tree (engine and fake-server errors arrive as views, not here).

::

    TuiError(what, field, remediation)
     └── SettingsError      the settings file or a value typed into it is unusable

Each names the field and the fix, because the person reading it is at the keyboard.
"""

from __future__ import annotations


class TuiError(Exception):
    def __init__(self, what: str, *, field: str = "", remediation: str = "") -> None:
        super().__init__(f"{field}: {what}" if field else what)
        self.what = what
        self.field = field
        self.remediation = remediation


class SettingsError(TuiError):
    """A settings value or file that cannot be used; nothing is written when raised."""


__all__ = ["SettingsError", "TuiError"]
