"""Running scenarios: steps through the client and the emulator, checks, traces and reports."""

from __future__ import annotations

import pytest

from emulator.emulator import Emulator
from emulator.scenarios.errors import ScenarioFailed
from emulator.scenarios.executor import run_scenario
from emulator.scenarios.loader import parse_scenario
from emulator.scenarios.report import render_html
from emulator.scenarios.result import ScenarioResult, StepResult, StepStatus, format_clock

HEADER = """\
scenario: {title}
programmer: {{timeout: 50 ms, retries: 1}}
pump:
  reservoir: 20 mL
  concentration: 500 mcg/mL
  prescription: {{simple: 100 mcg/day}}
steps:
"""


def run(steps: str, title: str = "test") -> ScenarioResult:
    return run_scenario(parse_scenario(HEADER.format(title=title) + steps, "t.scenario.yaml"))


def test_a_passing_run_traces_every_step() -> None:
    seen: list[StepResult] = []
    scenario = parse_scenario(
        HEADER.format(title="ok")
        + "  - interrogate:\n  - advance: 90d\n  - expect: {alarms: [LOW_RESERVOIR]}\n",
        "t.scenario.yaml",
    )
    result = run_scenario(scenario, on_step=seen.append)
    assert result.passed and result.failed_step is None
    assert [s.status for s in seen] == [StepStatus.PASSED] * 3
    assert "reservoir 20 mL, SIMPLE 100 mcg/day at 500 mcg/mL" in seen[0].note
    assert any("STATUS" in frame for frame in seen[0].frames)
    assert seen[1].clock_s - result.start_s == 90 * 86_400
    clocks = [s.clock_s for s in result.samples]
    assert clocks == sorted(clocks) and len(clocks) > 4
    assert result.samples[-1].reservoir_nl == 2_000_000


def test_a_failed_expectation_names_step_expected_actual_and_frames() -> None:
    result = run(
        "  - program: {simple: 120 mcg/day}\n"
        "  - name: the wrong dose\n"
        "    expect: {daily_dose: 125 mcg/day ± 1 %, mode: SIMPLE}\n"
        "  - advance: 1d\n"
    )
    assert not result.passed
    failed = result.failed_step
    assert failed is not None and failed.index == 2 and failed.line == 9
    assert [s.status for s in result.steps] == [
        StepStatus.PASSED,
        StepStatus.FAILED,
        StepStatus.NOT_RUN,
    ]
    report = result.failure_report()
    assert "step 2 (t.scenario.yaml:9) 'the wrong dose' failed" in report
    assert "FAIL daily_dose: expected 125 mcg/day ± 1.25 mcg/day, actual 120 mcg/day" in report
    assert "ok   mode: expected SIMPLE, actual SIMPLE" in report
    assert "during step 1:" in report and "COMMIT_PRESCRIPTION" in report


def test_an_expected_error_must_come() -> None:
    result = run(
        "  - name: nothing to cancel\n    cancel_bolus:\n    expect_error: INVALID_STATE\n"
    )
    assert result.passed
    assert "refused as expected: INVALID_STATE" in result.steps[0].note
    wrong = run("  - cancel_bolus:\n    expect_error: OUT_OF_RANGE\n")
    check = wrong.steps[0].checks[0]
    assert wrong.steps[0].status is StepStatus.FAILED
    assert (check.expected, check.passed) == ("OUT_OF_RANGE", False)
    assert check.actual.startswith("INVALID_STATE")
    missing = run("  - interrogate:\n    expect_error: TIMEOUT\n")
    assert missing.steps[0].status is StepStatus.FAILED
    assert missing.steps[0].checks[0].actual == "none: the step succeeded"


def test_an_unexpected_refusal_is_an_error_of_the_step() -> None:
    result = run("  - bolus: {kind: THERAPEUTIC, dose: 15000 mcg, duration: 1h}\n")  # 30 mL
    step = result.steps[0]
    assert step.status is StepStatus.ERROR
    assert step.error.startswith("OUT_OF_RANGE")
    assert "error: OUT_OF_RANGE" in result.failure_report()


def test_a_lost_link_times_out_and_a_new_session_works_after_it() -> None:
    result = run(
        "  - interrogate:\n"
        "  - link: {disconnected: true}\n"
        "  - {interrogate: , expect_error: TIMEOUT}\n"
        "  - disconnect:\n"
        "  - link: {disconnected: false}\n"
        "  - connect:\n"
        "  - set_alarm_volume: 3 mL\n"
        "  - expect: {alarm_volume: 3 mL, events: [{event: SESSION_OPENED, count: 2}]}\n"
    )
    assert result.passed, result.failure_report()


def test_the_patient_asks_on_a_patient_session() -> None:
    result = run(
        "  - patient_dose:\n    expect_error: NOT_ENABLED\n"
        "  - patient_settings: {enabled: true, dose: 25 mcg, duration: 10 min, lockout: 1h,"
        " max_per_day: 2}\n"
        "  - patient_dose:\n"
        "  - expect: {events: [{event: SESSION_OPENED, role: PATIENT}], bolus: PATIENT}\n"
    )
    assert result.passed, result.failure_report()
    assert "granted 25 mcg = 0.05 mL, 1 in 24 h" in result.steps[2].note


def test_a_refill_at_a_new_drug_must_say_what_runs_on_it() -> None:
    result = run("  - refill: {removed: expected, added: 20 mL, concentration: 2000 mcg/mL}\n")
    step = result.steps[0]
    assert step.status is StepStatus.ERROR
    assert "must say what runs on the new drug" in step.error
    assert not any("STAGE_REFILL" in frame for frame in step.frames)  # nothing was sent


def test_a_refill_with_the_bridge_and_its_cancellation() -> None:
    result = run(
        "  - refill: {removed: expected, added: 20 mL, concentration: 2000 mcg/mL,"
        " same_dose: true, bridge: true, lot: QA-9}\n"
        "  - expect: {bridging: true, bridge_remaining: 0.33 mL, bridge_end: now + 1d 15h 36min,"
        " current_rate: 0.2 mL/day, daily_dose: 100 mcg/day}\n"
        "  - advance: 1h\n"
        "  - cancel_bridge:\n"
        "  - expect: {bridging: false, current_rate: 0.05 mL/day,"
        " events: [{event: BRIDGE_CANCELLED, concentration: 2000 mcg/mL}]}\n"
        "  - {cancel_bridge: , expect_error: INVALID_STATE}\n"
    )
    assert result.passed, result.failure_report()
    assert "dose 100 mcg/day -> 100 mcg/day; bridge of 0.33 mL" in result.steps[0].note
    assert "bridge cancelled after 0.0083 mL" in result.steps[3].note


def test_the_implant_record_is_written_over_the_link() -> None:
    result = run(
        "  - implant: {catheter: 80 cm, uncertainty: 2 cm, origin: SPINAL, patient: P-1}\n"
        "  - expect: {events: [{event: IMPLANT_RECORDED, catheter_length: 80 cm,"
        " origin: SPINAL}]}\n"
        "  - bolus: {kind: PRIMING}\n"
        "  - expect: {bolus: PRIMING, bolus_remaining: 0.408 mL}\n"
    )
    assert result.passed, result.failure_report()
    assert "implant record: 80 cm (± 2 cm) of 2600 nL/cm, SPINAL" in result.steps[0].note


def test_the_low_battery_reset_fault_needs_reprogramming() -> None:
    result = run(
        "  - fault: {low_battery_reset: true}\n"
        "  - expect: {mode: MINIMUM_RATE, current_rate: 0.006 mL/day,"
        " alarms: [LOW_BATTERY_RESET]}\n"
        "  - program: {simple: 100 mcg/day}\n"
        "  - expect: {mode: SIMPLE, alarms: []}\n"
    )
    assert result.passed, result.failure_report()


def test_advancing_into_the_past_is_an_error() -> None:
    result = run("  - advance: 2d\n  - advance: {until: start + 1d}\n")
    assert result.steps[1].status is StepStatus.ERROR
    assert "in the past" in result.steps[1].error


def test_faults_and_dates() -> None:
    result = run(
        "  - fault: {memory_error: CRITICAL}\n"
        "  - expect: {alarms: [MEMORY_CRITICAL], delivering: false}\n"
        "  - clear_alarm: MEMORY_CRITICAL\n"
        "  - fault: {battery: 50 %}\n"
        "  - expect:\n"
        "      alarms: []\n"
        "      battery: 50 %\n"
        "      low_reservoir_date: start + 90d\n"
        "      empty_date: start + 95d\n"
        "      clock: now\n"
        "      eri_date: '> start + 1000d'\n"
    )
    assert result.passed, result.failure_report()


def test_raise_on_failure_carries_the_result() -> None:
    scenario = parse_scenario(HEADER.format(title="x") + "  - expect: {reservoir: 1 mL}\n")
    with pytest.raises(ScenarioFailed, match="FAIL reservoir") as caught:
        run_scenario(scenario, raise_on_failure=True)
    assert isinstance(caught.value.result, ScenarioResult)
    assert isinstance(caught.value, AssertionError)


def test_what_the_emulator_raised_inside_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: Emulator) -> None:
        raise RuntimeError("defect inside the pump")

    monkeypatch.setattr(Emulator, "check", boom)
    result = run("  - advance: 1h\n")
    assert not result.passed and result.failed_step is None
    assert result.emulator_error == "RuntimeError: defect inside the pump"
    assert "the emulator raised inside" in result.failure_report()


def test_the_html_report_has_the_steps_and_a_reservoir_plot() -> None:
    result = run("  - advance: 10d\n  - expect: {reservoir: 1 mL}\n", title="<plot & table>")
    html = render_html(result)
    assert "&lt;plot &amp; table&gt;" in html
    assert html.count("<tr>") == 3 and "<polyline" in html and "<svg" in html
    assert "failed" in html and "18 mL" in html
    still = run("  - interrogate:\n")
    assert "<svg" not in render_html(still)


def test_pump_time_is_shown_since_the_start_with_the_time_of_day() -> None:
    assert format_clock(1_789_977_600 + 86_400 * 84 + 86_399, 1_789_977_600) == (
        "+84d 23:59:59 (07:59Z)"
    )


def test_the_response_can_be_asserted_at_a_time_and_its_onset_by_a_time() -> None:
    before = run("  - expect: {response: 100 % ± 0.1 %, response_onset: none}\n")
    assert before.passed
    unknown = run("  - expect: {response_progress: 0 %}\n")
    (check,) = unknown.steps[0].checks
    assert (check.passed, check.actual) == (False, "unknown (nothing reported)")
    result = run(
        "  - program: {simple: 120 mcg/day}\n"
        "  - expect:\n"
        "      response_onset: <= now + 8h\n"
        "      response_full_effect: now + 23h 51min ± 2min\n"
        "  - advance: 6h\n"
        "  - expect: {response_progress: '> 25 %'}\n"
        "  - expect: {response: 95 %, response_onset: '> now'}\n"
    )
    assert [s.status for s in result.steps[:4]] == [StepStatus.PASSED] * 4
    last = result.steps[4]
    assert last.status is StepStatus.FAILED
    response, onset = last.checks
    assert response.what == "response" and not response.passed
    assert response.actual.endswith("%")
    assert onset.what == "response_onset" and not onset.passed  # already reached
