"""The vpump pytest plugin (registered through the ``pytest11`` entry point).

Placeholder module created by the lead so the entry point resolves; the QA
plugin (issue #5) replaces it.
"""
