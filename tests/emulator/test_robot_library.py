"""The Robot Framework keyword library (emulator.robot_library): the example suite in
examples/robot/ runs green, a failing keyword reports its checks and puts the decoded frames in
Robot's log, a bad unit fails with the loader's message, and keywords map onto the scenario
format's steps and assertions."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from robot.api import ExecutionResult, ResultVisitor
from robot.libdoc import libdoc
from robot.run import run as robot_run

from emulator.robot_library import (
    EXPECT_KEYS,
    VpumpLibrary,
    VpumpRobotError,
    assertion_keyword_name,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "robot"

SETTINGS = """\
*** Settings ***
Library           emulator.robot_library.VpumpLibrary

*** Test Cases ***
"""


def _run(suite: Path, out: Path) -> tuple[int, object]:
    stdout = io.StringIO()
    rc = robot_run(str(suite), outputdir=str(out), stdout=stdout, stderr=stdout)
    return rc, ExecutionResult(str(out / "output.xml"))


def _messages(result: object) -> list[str]:
    """Every message logged in the run (output.xml: what log.html shows)."""
    found: list[str] = []

    class Collect(ResultVisitor):  # type: ignore[misc]
        def visit_message(self, msg: object) -> None:
            found.append(str(msg.message))  # type: ignore[attr-defined]

    result.visit(Collect())  # type: ignore[attr-defined]
    return found


def test_the_example_suite_passes(tmp_path: Path) -> None:
    rc, result = _run(EXAMPLES, tmp_path)
    stats = result.statistics.total  # type: ignore[attr-defined]
    assert (rc, stats.passed, stats.failed, stats.skipped) == (0, 6, 0, 0)
    assert (tmp_path / "log.html").is_file()


def test_a_failing_keyword_shows_its_checks_and_the_decoded_frames(tmp_path: Path) -> None:
    suite = tmp_path / "failing.robot"
    suite.write_text(
        SETTINGS
        + """\
A dose that was never programmed
    Start Pump    prescription={simple: 100 mcg/day}
    Program    simple=200 mcg/day
    Expect    daily_dose=150 mcg/day    reservoir=20 mL
""",
        encoding="utf-8",
    )
    rc, result = _run(suite, tmp_path / "out")
    assert rc == 1
    test = result.suite.tests[0]  # type: ignore[attr-defined]
    assert test.status == "FAIL"
    assert "FAIL daily_dose: expected 150 mcg/day, actual 200 mcg/day" in test.message
    assert "ok   reservoir: expected 20 mL, actual 20 mL" in test.message
    assert "COMMIT_PRESCRIPTION request" in test.message  # the frames' first lines
    logged = "\n".join(_messages(result))
    assert "decoded" in logged
    assert "dose_ng_per_day = 200 mcg/day" in logged  # a field of STAGE_PRESCRIPTION
    assert (tmp_path / "out" / "log.html").is_file()  # built from these (compressed) messages


def test_a_refusal_that_does_not_come_fails_and_one_that_comes_passes(tmp_path: Path) -> None:
    suite = tmp_path / "refusals.robot"
    suite.write_text(
        SETTINGS
        + """\
Lockout refused
    Start Pump
    Patient Settings    enabled=true    dose=25 mcg    duration=10 min
    ...                 lockout=3h    max_per_day=4
    Patient Dose
    Advance    2h
    Patient Dose    expect_error=PATIENT_DOSE_LOCKOUT

Expected refusal that does not come
    Start Pump
    Interrogate    expect_error=INVALID_STATE
""",
        encoding="utf-8",
    )
    rc, result = _run(suite, tmp_path / "out")
    first, second = result.suite.tests  # type: ignore[attr-defined]
    assert (rc, first.status, second.status) == (1, "PASS", "FAIL")
    assert "FAIL error: expected INVALID_STATE, actual none: the step succeeded" in second.message


def test_a_bad_unit_fails_with_the_loaders_message(tmp_path: Path) -> None:
    suite = tmp_path / "bad.robot"
    suite.write_text(
        SETTINGS
        + """\
A bad unit
    Start Pump
    Reservoir Should Be    20 ml
""",
        encoding="utf-8",
    )
    rc, result = _run(suite, tmp_path / "out")
    test = result.suite.tests[0]  # type: ignore[attr-defined]
    assert rc == 1
    assert "'ml' is not a unit of a volume (did you mean mL?)" in test.message


def test_the_keyword_documentation_builds(tmp_path: Path) -> None:
    out = tmp_path / "VpumpLibrary.html"
    libdoc("emulator.robot_library.VpumpLibrary", str(out))
    page = out.read_text(encoding="utf-8")
    for name in ("Start Pump", "Refill", "Reservoir Should Be", "Serve Pump On Pty"):
        assert name in page


def test_every_assertion_has_a_keyword_and_keywords_need_a_pump() -> None:
    library = VpumpLibrary()
    for key in EXPECT_KEYS:
        method = getattr(library, f"{key}_should_be")
        assert method.robot_name == assertion_keyword_name(key)
    assert assertion_keyword_name("bridge_end") == "Bridge End Should Be"
    assert assertion_keyword_name("eri_date") == "ERI Date Should Be"
    assert assertion_keyword_name("in_mri_field") == "In MRI Field Should Be"
    assert {"reservoir", "bridge_end", "events", "alarms", "delivered"} <= set(EXPECT_KEYS)
    with pytest.raises(VpumpRobotError, match="call Start Pump first"):
        library.advance("1d")


def test_the_library_drives_a_pump_from_python() -> None:
    library = VpumpLibrary()
    library.start_pump(reservoir="10 mL", prescription="{simple: 200 mcg/day}", seed="3")
    try:
        library.advance("5d")  # 0.4 mL/day
        library.reservoir_should_be("8 mL")  # type: ignore[attr-defined]
        with pytest.raises(VpumpRobotError, match=r"FAIL reservoir: expected 9 mL, actual 8 mL"):
            library.expect(reservoir="9 mL")
        assert library.pump_state()["pump"]["reservoir_nl"] == 8_000_000
    finally:
        library.stop_pump()
    with pytest.raises(VpumpRobotError, match="call Start Pump first"):
        library.expect(reservoir="8 mL")
