"""Issue 15 in the scenario language and its runners, without pytester.

Weekly flex profiles, ``set_clock``, the patient and fluid-path expectations
and the pocket-fill fault (item 1); every problem reported at once with a
"did you mean" (item 2); waits nothing can end cost no wall time (item 3);
``parameters:`` and ``repeat:`` (item 6); the runner's HTML report and the
plot's failing-step mark (item 12).
"""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from emulator.link_faults import LinkFaults, LinkImpairment
from emulator.scenarios import console
from emulator.scenarios import model as md
from emulator.scenarios.errors import ScenarioFileError
from emulator.scenarios.executor import SilentLinkClock, run_scenario
from emulator.scenarios.loader import parse_prescription, parse_scenario, parse_scenarios
from emulator.scenarios.report import reservoir_svg
from emulator.scenarios.units import Anchor
from protocol.enums import Mode

WEEK = """\
    flex_weekly:
      monday: &weekday
        - {at: "00:00", dose: 100 mcg/day}
        - {at: "07:00", dose: 150 mcg/day}
      tuesday: *weekday
      wednesday: *weekday
      thursday: *weekday
      friday: *weekday
      saturday: &weekend [{at: "00:00", dose: 120 mcg/day}]
      sunday: *weekend
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ScenarioFileError) as caught:
        parse_scenarios(text, "x.scenario.yaml")
    return [str(p) for p in caught.value.problems]


# --- item 1: the language -----------------------------------------------------------------------


def test_a_weekly_flex_profile_becomes_seven_days_monday_first() -> None:
    scenario = parse_scenario(f"scenario: w\npump:\n  prescription:\n{WEEK}steps: [advance: 1d]\n")
    written = scenario.pump.prescription
    assert written.mode is Mode.FLEX and len(written.weekly) == 7 and not written.flex
    spec = md.prescription_spec(written, 500)
    assert spec.weekly and spec.profile_for_weekday(5)[0].dose_ng_per_day == 120_000
    assert spec.profile_for_weekday(0)[1].start_min == 7 * 60
    # The marker's (and the Python API's) form: the same mapping as data.
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    flat = [{"at": "00:00", "dose": "5 mcg/day"}]
    assert len(parse_prescription({"flex_weekly": dict.fromkeys(days, flat)}).weekly) == 7


def test_a_weekly_profile_needs_every_day_and_good_days() -> None:
    text = (
        "scenario: w\nsteps:\n  - program:\n      flex_weekly:\n"
        "        monday: [{at: '07:00', dose: 100 mcg/day}]\n"
        "        tusday: [{at: '00:00', dose: 100 mcg/day}]\n"
    )
    found = problems_of(text)
    assert any("unknown key 'tusday' here (did you mean tuesday?)" in p for p in found)
    assert any("missing 'tuesday', 'wednesday'" in p for p in found)


def test_the_dose_delivered_on_a_saturday() -> None:
    text = (
        f"scenario: w\npump:\n  concentration: 500 mcg/mL\n  prescription:\n{WEEK}steps:\n"
        "  - advance: {until: start + 4d 16h}\n"
        # Monday 08:00-24:00 at 150, then four weekdays of 100 x 7/24 + 150 x 17/24.
        "  - expect: {daily_dose: 120 mcg/day, delivered_to_patient: 641.667 mcg ± 0.001 mcg}\n"
        "  - advance: 1d\n"
        "  - expect: {delivered_to_patient: 761.667 mcg ± 0.001 mcg, patient_last_hour: 5 mcg}\n"
    )
    result = run_scenario(parse_scenario(text))
    assert result.passed, result.failure_report()


def test_set_clock_moves_the_pump_clock_and_what_start_and_now_mean() -> None:
    step = parse_scenario("scenario: c\nsteps:\n  - set_clock: now - 1h\n").steps[0].action
    assert isinstance(step, md.SetClock)
    assert step.to.anchor is Anchor.NOW and step.to.offset_s == -3600
    text = (
        "scenario: c\nsteps:\n"
        "  - set_clock: 2026-09-21T10:00:00Z\n"
        "  - expect: {clock: start + 2h, events: [{event: CLOCK_SET}]}\n"
        "  - advance: {until: start + 3h}\n"  # on the pump clock: one hour later
        "  - expect: {clock: 2026-09-21T11:00:00Z, delivered_to_patient: 4.167 mcg ± 0.001 mcg}\n"
        "  - set_clock: now - 3h\n"
        "  - expect: {clock: start}\n"
    )
    result = run_scenario(parse_scenario(text))
    assert result.passed, result.failure_report()
    assert "pump clock set from +0d 00:00:00 (08:00Z) to +0d 02:00:00 (10:00Z) (+2h)" in (
        result.steps[0].note
    )
    assert "(-3h)" in result.steps[4].note


def test_a_pocket_fill_fills_the_pump_and_leaves_the_reservoir_and_the_patient_empty() -> None:
    text = (
        "scenario: p\npump: {reservoir: 5 mL, concentration: 500 mcg/mL, "
        "prescription: {simple: 100 mcg/day}}\nsteps:\n"
        "  - advance: 1d\n"
        "  - fault: {pocket_fill: true}\n"
        "  - expect: {pocket: 0 mL, true_reservoir: 4.8 mL}\n"  # armed: nothing happened yet
        "  - refill: {removed: expected, added: 15 mL, concentration: 500 mcg/mL}\n"
        "  - expect: {reservoir: 15 mL, true_reservoir: 0 mL, pocket: 15 mL, "
        "delivered_to_patient: 100 mcg ± 0.001 mcg}\n"
        "  - advance: 1d\n"
        "  - expect: {reservoir: 14.8 mL, true_reservoir: 0 mL, patient_last_hour: 0 mcg, "
        "delivered_to_patient: 100 mcg ± 0.001 mcg, concentration_at_tip: 500 mcg/mL, "
        "withdrawal_risk: true, overdose_risk: false, patient_level: < 0.01 ng/mL}\n"
        "  - name: a good refill ends it\n"
        "    refill: {removed: expected, added: 10 mL, concentration: 500 mcg/mL}\n"
        "  - advance: 1h\n"
        "  - expect: {true_reservoir: 9.991667 mL ± 0.000001 mL, pocket: 15 mL, "
        "patient_last_hour: 4.167 mcg ± 0.001 mcg}\n"
    )
    result = run_scenario(parse_scenario(text))
    assert result.passed, result.failure_report()
    assert "the next refill's drug goes into the pocket" in result.steps[1].note


def test_patient_expectations_fail_with_their_values() -> None:
    text = (
        "scenario: p\nsteps:\n  - advance: 1d\n"
        "  - expect: {withdrawal_risk: true, patient_level: 1 ng/mL, overdose_risk: false}\n"
    )
    result = run_scenario(parse_scenario(text))
    step = result.failed_step
    assert step is not None and step.index == 2
    checks = {c.what: (c.passed, c.actual) for c in step.checks}
    assert checks["withdrawal_risk"] == (False, "false")
    assert checks["overdose_risk"][0] and not checks["patient_level"][0]
    assert checks["patient_level"][1].endswith("ng/mL")


# --- item 2: every problem at once ---------------------------------------------------------------


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    text = (
        "scenario: x\nsteps:\n"
        "  - program: {simple: 0.01 mL/h}\n"
        "  - expect: {reservoir: 3 ml, resevoir: 2 mL, daily_dose: 5 mcg/day}\n"
        "  - advance: 3 weeks\n"
        "  - interogate:\n"
        "  - stop: CLINICAN_DECISION\n"
    )
    found = problems_of(text)
    assert found == [
        "x.scenario.yaml:3:23: '0.01 mL/h': a prescription is a dose of the drug in the pump, "
        "written in mcg/day (e.g. 100 mcg/day), never a flow; only minimum_rate runs a volume "
        "rate, and it takes none",
        "x.scenario.yaml:4:25: '3 ml': 'ml' is not a unit of a volume (did you mean mL?); a "
        "volume is written with its unit, e.g. 20 mL (units: mL, µL, uL, nL)",
        found[2],
        "x.scenario.yaml:5:14: '3 weeks' is not valid here: advance takes a duration (e.g. "
        "90d) or {until: start + 90d}",
        found[4],
        "x.scenario.yaml:7:11: 'CLINICAN_DECISION' is not valid here (did you mean "
        "CLINICIAN_DECISION?): a stop reason: CLINICIAN_DECISION, MRI, CATHETER_REVISION, "
        "ADVERSE_EFFECT or OTHER",
    ]
    assert found[2].startswith(
        "x.scenario.yaml:4:31: unknown key 'resevoir' here (did you mean reservoir?); known keys:"
    )
    assert found[4].startswith(
        "x.scenario.yaml:6:5: unknown key 'interogate' here (did you mean interrogate?)"
    )


def test_a_misspelt_event_parameter_gets_a_did_you_mean() -> None:
    found = problems_of(
        "scenario: x\nsteps:\n  - expect:\n      events: [{event: REFILLED, aded: 2 mL}]\n"
    )
    assert any("REFILLED has no parameter 'aded' (did you mean added?)" in p for p in found)


def test_a_prescription_is_a_dose_never_a_flow() -> None:
    for flow in ("0.01 mL/h", "0.2 mL/day"):
        (problem,) = problems_of(f"scenario: x\nsteps:\n  - program: {{simple: {flow}}}\n")
        assert "never a flow" in problem
    with pytest.raises(ScenarioFileError, match="'100 mg/day' is not valid here"):
        parse_prescription({"simple": "100 mg/day"})


# --- item 3: waits nothing can end ---------------------------------------------------------------


def test_the_silent_link_clock_skips_only_waits_nothing_can_end() -> None:
    faults = LinkFaults(LinkImpairment())
    clock = SilentLinkClock(faults, lambda: 3600.0)
    first = clock()
    assert clock() - first < 3600 and clock.skipped_waits == 0
    faults.update(disconnected=True)
    before = clock.skipped_waits
    assert clock() - first >= 3600 and clock.skipped_waits == before + 1
    faults.update(disconnected=False, drop=1.0)
    assert clock.silent()
    faults.update(drop=0.5)
    assert not clock.silent()


def test_an_expected_timeout_is_decided_without_waiting_out_the_timeouts() -> None:
    # Four attempts of an hour each: with real waits this would take four hours.
    text = (
        "scenario: t\nprogrammer: {timeout: 3600 s, retries: 3}\nsteps:\n"
        "  - interrogate:\n"
        "  - link: {disconnected: true}\n"
        "  - commit:\n    expect_error: TIMEOUT\n"
        "  - link: {disconnected: false, drop: 100 %}\n"
        "  - interrogate:\n    expect_error: TIMEOUT\n"
        "  - link: {drop: 0 %}\n"
        "  - disconnect:\n"
        "  - interrogate:\n"
    )
    result = run_scenario(parse_scenario(text))
    assert result.passed, result.failure_report()
    assert "refused as expected: no answer" in result.steps[2].note
    assert "after 4 attempt(s) of 3600 s" in result.steps[2].note


# --- item 6: parameters and repeat ---------------------------------------------------------------

TABLE = """\
scenario: t
parameters:
  - {case: low, dose: 50 mcg/day, days: 2, left: 19.8 mL}
  - {case: high, dose: 200 mcg/day, days: 1, left: 19.6 mL}
steps:
  - program: {simple: "${dose}"}
  - repeat:
      times: "${days}"
      counter: day
      steps:
        - name: day ${day} of ${days} at ${dose} (${case})
          advance: 1d
  - expect: {reservoir: "${left}"}
"""


def test_a_table_of_cases_makes_one_scenario_per_row() -> None:
    low, high = parse_scenarios(TABLE, "t.scenario.yaml")
    assert (low.case, high.case) == ("low", "high")
    assert (low.title, high.title) == ("t [low]", "t [high]")
    assert [s.name for s in low.steps[1:3]] == [
        "day 1 of 2 at 50 mcg/day (low)",
        "day 2 of 2 at 50 mcg/day (low)",
    ]
    assert len(high.steps) == 3
    # Unrolled steps keep the line they are written on.
    assert [s.line for s in low.steps] == [6, 11, 11, 13]
    for scenario in (low, high):
        assert run_scenario(scenario).passed
    with pytest.raises(ScenarioFileError, match="holds 2 scenarios"):
        parse_scenario(TABLE)


def test_repeats_nest_and_their_problems_name_their_lines() -> None:
    nested = parse_scenario(
        "scenario: r\nsteps:\n  - repeat:\n      times: 2\n      steps:\n"
        "        - repeat: {times: 3, counter: j, steps: [{advance: 1h, name: '${i}.${j}'}]}\n"
    )
    assert [s.name for s in nested.steps] == ["1.1", "1.2", "1.3", "2.1", "2.2", "2.3"]
    found = problems_of(
        "scenario: r\nsteps:\n"
        "  - repeat: {times: 0, steps: [{advance: 1h}]}\n"
        "  - repeat: {times: 2, steps: [{advance: 3 weeks}]}\n"
        "  - name: ${visit}\n    advance: 1h\n"
    )
    assert found == [
        "x.scenario.yaml:3:21: 0: times is a whole number >= 1",
        "x.scenario.yaml:4:42: '3 weeks' is not valid here: advance takes a duration (e.g. "
        "90d) or {until: start + 90d}",
        "x.scenario.yaml:5:11: ${visit}: no such parameter or counter (known: none here)",
    ]


def test_a_bad_table_is_refused() -> None:
    found = problems_of(
        "scenario: t\nparameters:\n  - {case: a, x: 1}\n  - {case: a, x: 2}\n"
        "  - {x: 3}\n  - {case: 'has space'}\nsteps: [{advance: 1h}]\n"
    )
    assert found == [
        "x.scenario.yaml:4:12: case 'a' again (first on line 3)",
        "x.scenario.yaml:5:5: a case is a mapping with a case name: {case: NAME, ...}",
        "x.scenario.yaml:6:12: 'has space': a case name is letters, digits and _ . + - "
        "(it names a test)",
    ]


def test_requirements_and_tags() -> None:
    one = parse_scenario("scenario: r\nrequirement: SRS-1\ntags: [a-b]\nsteps: [{advance: 1h}]\n")
    assert one.requirements == ("SRS-1",) and one.tags == ("a-b",)
    two = parse_scenario("scenario: r\nrequirement: [SRS-1, SRS-2]\nsteps: [{advance: 1h}]\n")
    assert two.requirements == ("SRS-1", "SRS-2")
    assert any(
        "a tag is a word" in p
        for p in problems_of("scenario: r\ntags: ['two words']\nsteps: [{advance: 1h}]\n")
    )


# --- item 12: the runner's report ----------------------------------------------------------------


def test_the_runners_html_links_the_summary_to_each_scenario_and_its_failure(
    tmp_path: Path,
) -> None:
    good = tmp_path / "a.scenario.yaml"
    good.write_text("scenario: good\nsteps: [{advance: 1d}]\n", encoding="utf-8")
    (tmp_path / "b.scenario.yaml").write_text(TABLE.replace("19.6 mL", "1 mL"), encoding="utf-8")
    report = tmp_path / "r.html"
    parser = argparse.ArgumentParser()
    console.add_arguments(parser)
    out = io.StringIO()
    status = console.run(
        parser.parse_args(["-q", "--html", str(report), str(tmp_path)]), out=out, err=out
    )
    assert status == console.EXIT_FAILED
    html = report.read_text(encoding="utf-8")
    assert '<li><a href="#scenario-1">good</a>: passed</li>' in html
    assert '<li><a href="#scenario-2">t [low]</a>: passed</li>' in html
    assert (
        '<li><a href="#scenario-3">t [high]</a>: FAILED at '
        '<a href="#scenario-3-step-3">step 3</a></li>'
    ) in html
    for anchor in ("scenario-1", "scenario-2", "scenario-3", "scenario-3-step-3"):
        assert f'id="{anchor}"' in html
    generated = html.split('<p class="vpump-generated">Generated ')[1].split(" UTC")[0]
    written = datetime.strptime(generated, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - written).total_seconds()) < 3600


def test_the_plot_marks_the_failing_step() -> None:
    text = "scenario: f\nsteps:\n  - advance: 2d\n  - expect: {reservoir: 1 mL}\n  - advance: 2d\n"
    failed = run_scenario(parse_scenario(text))
    svg = reservoir_svg(failed)
    assert 'class="vpump-failed-step"' in svg and "step 2 failed" in svg
    passed = run_scenario(parse_scenario(text.replace("1 mL", "19.6 mL")))
    assert passed.passed and "vpump-failed-step" not in reservoir_svg(passed)


def test_a_mapping_in_the_wrong_place_is_named_by_its_keys_never_dumped() -> None:
    found = problems_of(
        "scenario: x\nsteps:\n"
        "  - program: {flex: [{at: '00:00', dose: 1 mcg/day}], simple: 1 mcg/day}\n"
        "  - fault: {}\n"
    )
    assert found == [
        "x.scenario.yaml:3:14: a prescription is exactly one of simple, flex, flex_weekly, "
        "minimum_rate or stopped (here: flex, simple)",
        "x.scenario.yaml:4:12: fault takes one or more of motor_stall, memory_error, battery, "
        "low_battery_reset, pocket_fill (here: none)",
    ]
