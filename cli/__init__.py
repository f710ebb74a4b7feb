"""The CLI room: the ``inboxlab`` command line and its front ends.

``main`` parses the command line and dispatches into the rooms, each imported lazily
(``inboxlab fakeserver serve`` never loads Textual); ``args`` holds the options of
``diagnose``, ``record`` and ``scenario from-trace``; ``diagnose`` runs the probe and
prints its report. It may import every room; Textual only through ``tui`` (a contract).
"""
