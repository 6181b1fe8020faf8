"""Every example in docs/qa.md runs: its Python blocks as pytest modules with the vpump
fixtures (each must pass, and hold at least one test), its Robot Framework blocks as suites,
and the doctests of the unit helpers (emulator.quantities)."""

from __future__ import annotations

import doctest
import io
import re
from pathlib import Path

import pytest
from robot.api import ExecutionResult
from robot.run import run as robot_run

import emulator.quantities

pytest_plugins = ["pytester"]

QA = Path(__file__).resolve().parents[1] / "docs" / "qa.md"


def _blocks(language: str) -> list[str]:
    text = QA.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


PYTHON = _blocks("python")
ROBOT = _blocks("robotframework")


def test_the_guide_has_examples() -> None:
    assert len(PYTHON) >= 6
    assert len(ROBOT) >= 1


@pytest.mark.parametrize("number", range(len(PYTHON)), ids=lambda n: f"python-{n + 1}")
def test_a_python_example_runs(pytester: pytest.Pytester, number: int) -> None:
    block = PYTHON[number]
    tests = len(re.findall(r"^def test_", block, re.M))
    assert tests, "every Python example in docs/qa.md is a test"
    pytester.makepyfile(**{f"test_qa_example_{number + 1}": block})
    result = pytester.runpytest("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=tests)


@pytest.mark.parametrize("number", range(len(ROBOT)), ids=lambda n: f"robot-{n + 1}")
def test_a_robot_example_runs(tmp_path: Path, number: int) -> None:
    suite = tmp_path / f"qa_example_{number + 1}.robot"
    suite.write_text(ROBOT[number], encoding="utf-8")
    out = io.StringIO()
    rc = robot_run(str(suite), outputdir=str(tmp_path), stdout=out, stderr=out)
    stats = ExecutionResult(str(tmp_path / "output.xml")).statistics.total
    assert (rc, stats.failed) == (0, 0), out.getvalue()
    assert stats.passed >= 1


def test_the_unit_helpers_doctests() -> None:
    failures, tried = doctest.testmod(emulator.quantities)
    assert (failures, tried > 0) == (0, True)
