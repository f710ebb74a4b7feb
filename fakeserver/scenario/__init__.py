"""Scenarios: a TOML file describing a server, its accounts, a timeline of faults, expectations.

``load.load(path)`` returns a validated ``model.Scenario`` or raises ``ScenarioError``
naming the file, line, key and problem; ``runtime.ScenarioServer`` serves one.
(Nothing is imported here: ``fakeserver.profiles`` and ``load`` import each other's
leaves, and a package ``__init__`` that imported ``load`` would close that loop.)
"""
