"""Repo-wide test settings.

Every test must leave no threads, descriptors, in-process port names, pty links or temp
dirs behind: the vpump pytest plugin's leak check (``vpump_leak_check = true`` in
pyproject.toml, see ``emulator/pytest_plugin.py`` and docs/qa.md) fails a test at
teardown naming what leaked. A test that truly cannot clean up after itself opts out
with ``@pytest.mark.leaks_ok("why")``.

Tests must put pty symlinks under ``tmp_path`` (never the default ``/tmp/ttyPUMP0``), so
that parallel workers (``pytest -n 2``) never see each other's links. A new
``/tmp/ttyPUMP*`` link only counts against this process when it is dangling or points at
a pty whose master this process holds.
"""

from __future__ import annotations

import gc
import os

import pytest
from hypothesis import settings

# Deterministic property tests: the same examples on every run and every machine, so a
# failure in CI reproduces locally (VPUMP_HYPOTHESIS=explore draws fresh examples).
settings.register_profile("deterministic", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("VPUMP_HYPOTHESIS", "deterministic"))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move everything alive after collection (the modules, the collected tests) into the
    collector's permanent generation: a full ``gc.collect()`` then walks only what the tests
    make. The programmer's tests collect after each test on the GUI thread
    (tests/programmer_gui/conftest.py), and without this each collection walked the whole
    suite's heap (about 0.4 s a test, 2 minutes of a run). Nothing a test makes is frozen."""
    gc.collect()
    gc.freeze()
