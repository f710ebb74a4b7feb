"""The engine's own IMAP client: a sans-I/O parser (``protocol``), a command builder
(``commands``) and a thin asyncio shell (``client``). Independent of ``fakeserver``."""
