"""The Textual face of inboxlab and the ``inboxlab`` command line."""
