"""The base of every screen that shows the app's session model.

While mounted, such a screen is one of the app's views: ``InboxLabApp`` calls its
``show_model`` whenever the engine changes the model. Textual runs the ``on_mount`` and
``on_unmount`` handlers of every class in the MRO, so subclasses keep their own handlers
and do not repeat the registration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual.screen import Screen

if TYPE_CHECKING:
    from tui.app import InboxLabApp


class ModelScreen(Screen[None]):
    @property
    def inbox_app(self) -> InboxLabApp:
        return cast("InboxLabApp", self.app)

    def show_model(self, model: Any) -> None:
        raise NotImplementedError

    def on_mount(self) -> None:
        self.inbox_app.views.append(self)

    def on_unmount(self) -> None:
        if self in self.inbox_app.views:
            self.inbox_app.views.remove(self)
