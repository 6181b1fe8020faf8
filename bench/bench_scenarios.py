"""Scenarios per second for the library in ``examples/scenarios``: serial, ``-n 2``, in process.

``pytest examples/scenarios`` runs as a subprocess, once serially and once with
``-n 2`` (pytest-xdist); each figure is held against the same pytest command
on as many trivial tests (``def test_n(): pass``) in a temporary directory,
i.e. what pytest and xdist cost before any pump is built. Then the library
runs in this process through :func:`~emulator.scenarios.run_scenario`
(no pytest), beside the floor of loading and checking the same files
(YAML, JSON Schema, units) without running them.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.metric import Metric
from emulator.scenarios import load_scenarios, run_scenario
from emulator.scenarios.loader import SUFFIX

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "examples" / "scenarios"
IN_PROCESS_ROUNDS = 5


def _pytest_wall_s(target: Path, *extra: str) -> float:
    """Wall time of one ``pytest -q target`` subprocess (which must pass)."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(target), *extra],
        cwd=target if target.is_dir() else target.parent,
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - started


def _trivial_tests(directory: Path, count: int) -> Path:
    body = "".join(f"def test_{i}():\n    pass\n\n\n" for i in range(count))
    (directory / "test_trivial.py").write_text(body, encoding="utf-8")
    return directory


def run() -> list[Metric]:
    files = sorted(LIBRARY.glob(f"*{SUFFIX}"))
    # A parametrised file is one scenario (and one pytest item) per case.
    scenarios = [scenario for path in files for scenario in load_scenarios(path)]
    count = len(scenarios)
    metrics: list[Metric] = []
    with tempfile.TemporaryDirectory(prefix="vpump-bench-scenarios-") as tmp:
        trivial = _trivial_tests(Path(tmp), count)
        for label, extra in (("serial", ()), ("-n 2", ("-n", "2"))):
            wall = _pytest_wall_s(LIBRARY, *extra)
            floor = _pytest_wall_s(trivial, *extra)
            metrics.append(
                Metric(
                    name=f"scenario library via pytest, {label}",
                    value=count / wall,
                    unit="scenarios/s",
                    floor_name=f"pytest {label} on {count} empty tests (startup, collection)",
                    floor_value=count / floor,
                    floor_unit="scenarios/s",
                    target="the pumps cost little beside pytest itself (ratio near 1)",
                )
            )
    started = time.perf_counter()
    for _ in range(IN_PROCESS_ROUNDS):
        for scenario in scenarios:
            if not run_scenario(scenario).passed:
                raise AssertionError(f"{scenario.source} failed in the benchmark")
    run_s = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(IN_PROCESS_ROUNDS):
        for path in files:
            load_scenarios(path)
    load_s = time.perf_counter() - started
    metrics.append(
        Metric(
            name="scenario library in process (run_scenario)",
            value=count * IN_PROCESS_ROUNDS / run_s,
            unit="scenarios/s",
            floor_name="loading and checking the same files only",
            floor_value=count * IN_PROCESS_ROUNDS / load_s,
            floor_unit="scenarios/s",
            target=">= 5 scenarios/s on one core",
        )
    )
    return metrics
