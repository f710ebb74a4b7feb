"""What a client's command is, and how its bytes become one (sans-I/O).

``reader`` frames lines and literals; ``grammar`` (with ``lexer`` and the per-family
``fetch``, ``mailbox``, ``search``, ``sort`` parsers) turns a framed command into a
``commands.Command`` whose arguments are the dataclasses of ``commands``, ``args``,
``search_keys`` and ``seqset``. No state, no store: the session decides what it means.
"""
