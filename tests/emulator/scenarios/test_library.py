"""The scenario library in examples/scenarios: complete, valid, and each one told as a story.

The scenarios themselves run as test items wherever ``examples/scenarios`` is
collected (the vpump plugin collects ``*.scenario.yaml``); this module checks
what a run cannot: that the stories of the issues are all there, that
every file loads, and that each opens with a comment telling its story.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.scenarios.loader import SUFFIX, load_scenarios

LIBRARY = Path(__file__).resolve().parents[3] / "examples" / "scenarios"
STORIES = {
    "first_refill_after_implant",
    "concentration_change_bridge_bolus",
    "titration_week",
    "low_reservoir_alarm_cleared_by_refill",
    "empty_reservoir",
    "eri_then_eos",
    "motor_stall_recovery",
    "flex_night_step",
    "patient_doses_lockout_limit",
    "abandoned_programming_session",
    "lossy_link",
    "refill_concentration_rise_with_bridge",
    "flex_bridge_worked_case",
    "low_battery_reset",
    "implant_record_mismatch",
    # issue 19, MRI and the emergency visit
    "mri_with_post_scan_check",
    "mri_delayed_recovery",
    "mri_telemetry_mode",
    "mri_recovery_logged_at_second_interrogation",
    "emergency_pump_ran_empty",
    "emergency_motor_stall_overnight",
    "emergency_mri_last_week_without_check",
    "mri_valve_pump_not_emptied",
    "mri_valve_pump_emptied",
    "mri_valve_flow_activated_reset",
    "titration_response",
    # issue 15: the language at full strength
    "weekday_profile_saturday_dose",
    "pocket_fill_withdrawal",
    "clock_corrected_flex_step",
    "seven_years_of_refills",
    "weekly_profile_each_day",
}
FILES = sorted(LIBRARY.glob(f"*{SUFFIX}"))


def test_the_library_holds_every_story() -> None:
    assert {p.name.removesuffix(SUFFIX) for p in FILES} == STORIES


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name.removesuffix(SUFFIX))
def test_each_story_loads_and_opens_with_its_clinical_story(path: Path) -> None:
    scenario = load_scenarios(path)[0]
    title = scenario.title.removesuffix(f" [{scenario.case}]") if scenario.case else scenario.title
    header = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    assert header[0] == f"# {title}"
    assert any("domain.md" in line for line in header), "the header cites its domain.md checks"
    assert len(header) >= 8 and scenario.description and scenario.tags
