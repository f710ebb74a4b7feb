"""What the server does for each command: generators ``handler(session, command)`` that
yield response bytes and return the tagged OK (``session.Done``).

``basic`` (CAPABILITY, LOGIN, AUTHENTICATE with ``oauth``, IDLE...), ``mailbox`` (SELECT,
LIST via ``listing``, STATUS, APPEND...), ``selected`` (STORE, COPY/MOVE, EXPUNGE...),
``fetch``, ``search`` (planned by ``search_plan``), ``sort`` (SORT and THREAD via
``threads``). Which handler answers which command is ``command_specs.COMMANDS``.
"""
