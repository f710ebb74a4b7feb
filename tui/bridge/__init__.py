"""The bridge room: the only modules of ``tui`` that see the engine (and, for the
bridge proper, Textual too). Screens and widgets get plain views and messages.

- ``engine_bridge``: ``EngineBridge``, the engine thread and what crosses it.
- ``crm`` / ``browse_side``: the CRM and folder-browsing halves of the bridge.
- ``browse`` / ``translate``: engine-thread helpers that never see Textual.
"""

from inboxlab.tui.bridge.engine_bridge import EngineBridge, account_dir

__all__ = ["EngineBridge", "account_dir"]
