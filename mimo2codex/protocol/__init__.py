"""The pure Responses <-> Chat Completions translation core.

Nothing in this package performs I/O, imports a web framework or asyncio, or reads the clock or the
environment: every input (ids, timestamps, the upstream's capabilities) arrives as an argument, so the
translators are deterministic functions over plain dicts, tested with golden files
(``tests/protocol``). ``tests/test_purity.py`` enforces the import rule.
"""
