"""The bases of the app's screens: the footer's key order, and the session-model views.

``KeyScreen`` puts the keys a person needs on every screen first in the footer: what
Enter does on the focused list, then ``q`` (back, then quit; Escape in a form) and
``?`` (every key).
Textual lists the focused widget's bindings, then the screen's, then the App's, and a
footer cuts what does not fit; at 80 columns that cut ``q`` and ``?`` on every screen.

While mounted, a ``ModelScreen`` is one of the app's views: ``InboxLabApp`` calls its
``show_model`` whenever the engine changes the model. Textual runs the ``on_mount`` and
``on_unmount`` handlers of every class in the MRO, so subclasses keep their own handlers
and do not repeat the registration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual.binding import ActiveBinding
from textual.screen import Screen

if TYPE_CHECKING:
    from inboxlab.tui.app import InboxLabApp



def footer_order(bindings: dict[str, ActiveBinding]) -> dict[str, ActiveBinding]:
    """The same bindings: Enter first, then back (``q``, or Escape in a form, where ``q``
    is typed), then help, then the rest in their order."""
    def rank(item: tuple[str, ActiveBinding]) -> int:
        key, active = item
        binding_id = active.binding.id or ""
        if key == "enter":
            return 0
        if binding_id == "app.quit" or binding_id.endswith(".back"):
            return 1
        return 2 if binding_id == "app.help" else 3

    return dict(sorted(bindings.items(), key=rank))  # sorted() is stable: the rest keep order


class KeyScreen(Screen[None]):
    @property
    def inbox_app(self) -> InboxLabApp:
        return cast("InboxLabApp", self.app)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """What the footer shows, in the order above (key dispatch does not read this)."""
        return footer_order(super().active_bindings)


class ModelScreen(KeyScreen):
    def show_model(self, model: Any) -> None:
        raise NotImplementedError

    def on_mount(self) -> None:
        self.inbox_app.views.append(self)

    def on_unmount(self) -> None:
        if self in self.inbox_app.views:
            self.inbox_app.views.remove(self)
