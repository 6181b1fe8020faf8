"""Loading scenario files: every problem named with its file and line, before anything runs."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import jsonschema
import pytest

from emulator.scenarios import model as md
from emulator.scenarios.errors import ScenarioFileError
from emulator.scenarios.loader import (
    SCHEMA_PATH,
    event_parameters,
    load_scenario,
    parse_scenario,
    schema,
)
from emulator.scenarios.units import Kind
from protocol.enums import EVENT_PARAMS, AlarmCode, BolusKind, ErrorCode, EventCode, Mode, Origin
from protocol.messages import ImplantFields, PrescriptionSpec

GOOD = """\
scenario: a good one
description: >
  two lines
  of story
tags: [refill]
seed: 3
programmer: {timeout: 200 ms, retries: 2}
pump:
  model: 40 mL
  serial: VP40-TEST
  reservoir: 30 mL
  concentration: 2000 mcg/mL
  prescription:
    flex:
      - {at: "00:00", dose: 350 mcg/day}
      - {at: "07:00", dose: 425.5 mcg/day}
  battery: 70 %
  alarm_volume: 3 mL
  catheter: 110 cm
  implant:
    catheter: 112 cm
    uncertainty: 15 mm
    volume_per_cm: 0.0026 mL/cm
    model: IT-8709SC
    implanted: 2024-03-01T10:00:00Z
    patient: P-7
    origin: CEREBRAL
    physician: Dr B
  start: 2026-09-21T06:00:00Z
steps:
  - interrogate:
  - name: a priming
    bolus: {kind: PRIMING}
  - advance: 1d 6h
  - advance: {until: start + 3d}
  - refill: {removed: expected, added: 10 mL, concentration: 1000 mcg/mL, same_dose: true,
             bridge: true, lot: L-1, expect: {discrepancy: 0 mL ± 0.1 mL, flagged: false}}
  - patient_dose:
    expect_error: PATIENT_DOSE_LOCKOUT
  - fault: {motor_stall: on, battery: 2.5 %, low_battery_reset: true}
  - link: {drop: 10 %, delay: 20 ms, disconnected: false}
  - expect:
      reservoir: 2 mL ± 1 %
      alarms: [LOW_RESERVOIR]
      low_reservoir_date: none
      eri_date: start + 30d ± 1h
      events:
        - {event: REFILLED, added: 10 mL, concentration: 1000 mcg/mL, count: 1}
        - {event: ALARM_RAISED, alarm_code: ERI}
        - {event: PATIENT_DOSE_GRANTED, doses_in_24h: 2}
      events_absent: [STOPPED]
      prescription: {simple: 100 mcg/day}
      bridge_end: now + 1d
      bridge_remaining: 0.1 mL
      bridging: true
      patient_rate: 100 mcg/day ± 1 %
  - cancel_bridge:
  - implant: {catheter: 50 cm}
"""


EVENTS = "scenario: x\nsteps:\n  - expect:\n      events:\n"


def problems_of(text: str) -> list[tuple[int, str]]:
    with pytest.raises(ScenarioFileError) as caught:
        parse_scenario(text, "x.scenario.yaml")
    assert all(p.source == "x.scenario.yaml" for p in caught.value.problems)
    return [(p.line, p.message) for p in caught.value.problems]


def test_a_good_file_becomes_typed_steps() -> None:
    scenario = parse_scenario(GOOD, "good.scenario.yaml")
    assert scenario.title == "a good one"
    assert scenario.description == "two lines of story"
    assert scenario.seed == 3
    assert scenario.programmer == md.ProgrammerSettings(timeout_s=0.2, retries=2)
    pump = scenario.pump
    assert (pump.model, pump.reservoir_nl, pump.concentration_ug_per_ml) == (40, 30_000_000, 2000)
    assert (pump.battery_permille, pump.alarm_volume_nl, pump.catheter_length_cm) == (
        700,
        3_000_000,
        110,
    )
    assert pump.start_s == 1_789_970_400
    flex = pump.prescription.flex
    assert pump.prescription.mode is Mode.FLEX
    assert flex[1].start_min == 420 and flex[1].dose_ug_per_day == Fraction("425.5")
    assert flex[0].dose_ug_per_day == 350
    assert pump.implant == ImplantFields(
        catheter_model="IT-8709SC",
        catheter_volume_nl_per_cm=2_600,
        catheter_length_mm=1_120,
        catheter_length_uncertainty_mm=15,
        implanted_at_s=1_709_287_200,
        patient_id="P-7",
        origin=Origin.CEREBRAL,
        physician="Dr B",
    )
    steps = scenario.steps
    assert [s.line for s in steps] == [31, 32, 34, 35, 36, 38, 40, 41, 42, 57, 58]
    assert steps[1].name == "a priming" and steps[1].action == md.StartBolus(kind=BolusKind.PRIMING)
    assert steps[2].action == md.Advance(seconds=108_000)
    refill = steps[4].action
    assert isinstance(refill, md.Refill)
    assert refill == md.Refill(
        removed_nl=None,
        added_nl=10_000_000,
        concentration_ug_per_ml=1000,
        same_dose=True,
        bridge=True,
        lot="L-1",
        expect_discrepancy=refill.expect_discrepancy,
        expect_flagged=False,
    )
    assert steps[5].expect_error is ErrorCode.PATIENT_DOSE_LOCKOUT
    assert steps[6].action == md.Fault(
        motor_stall=True, battery_permille=25, low_battery_reset=True
    )
    assert steps[7].action == md.LinkChange(drop=0.1, delay_ms=20.0, disconnected=False)
    expect = steps[8].action
    assert isinstance(expect, md.Expect)
    assert dict(expect.alarm_sets) == {"alarms": frozenset({AlarmCode.LOW_RESERVOIR})}
    refilled = expect.events[0]
    assert refilled.code is EventCode.REFILLED and refilled.count == 1
    assert [name for name, _ in refilled.params] == ["added_nl", "concentration_ug_per_ml"]
    assert expect.events[2].params == (("doses_in_24h", 2),)
    assert expect.events[1].params == (("alarm_code", int(AlarmCode.ERI)),)
    assert expect.events_absent == (EventCode.STOPPED,)
    assert ("bridging", True) in expect.flags
    assert [key for key, _ in expect.dates][-1] == "bridge_end"
    assert [key for key, _ in expect.quantities][-2:] == ["bridge_remaining", "patient_rate"]
    assert steps[9].action == md.CancelBridge()
    implant = steps[10].action
    assert isinstance(implant, md.SetImplant) and implant.implant.catheter_length_mm == 500
    assert steps[0].name == "interrogate"


def test_the_true_catheter_follows_the_implant_record_unless_written() -> None:
    text = "scenario: x\npump:\n  implant: {catheter: 90 cm}\nsteps: [advance: 1d]\n"
    pump = parse_scenario(text).pump
    assert pump.catheter_length_cm == 90
    assert pump.implant is not None and pump.implant.catheter_length_mm == 900
    none = parse_scenario("scenario: x\npump:\n  implant: false\nsteps: [advance: 1d]\n").pump
    assert none.implant is None and none.catheter_length_cm == 50


def test_defaults_fill_a_minimal_file() -> None:
    scenario = parse_scenario("scenario: minimal\nsteps:\n  - advance: 1d\n")
    assert scenario.pump == md.PumpStart(serial="VP20-QA0001")
    assert scenario.pump.start_s == md.DEFAULT_START_S
    assert scenario.programmer == md.ProgrammerSettings()


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("scenario: x\nsteps:\n  - advance: 3 weeks\n", 3, "advance takes a duration"),
        ("scenario: x\npump:\n  reservoir: 20 ml\nsteps: [advance: 1d]\n", 3, "did you mean mL"),
        ("scenario: x\npump:\n  concentration: 500\nsteps: [advance: 1d]\n", 3, "bare number"),
        ("scenario: x\nsteps:\n  - frobnicate: 1\n", 3, "unknown key 'frobnicate'"),
        ("scenario: x\nsteps:\n  - name: only a name\n", 3, "this step has no action"),
        ("scenario: x\nsteps:\n  - {advance: 1d, resume: }\n", 3, "2 actions (advance, resume)"),
        ("scenario: x\nsteps:\n  - refill: {removed: 1 mL, added: 2 mL}\n", 3, "'concentration'"),
        ("steps:\n  - advance: 1d\n", 1, "missing 'scenario'"),
        ("scenario: x\nsteps: []\n", 2, "should be non-empty"),
        ("scenario: x\nsteps:\n  - stop: LUNCH\n", 3, "a stop reason"),
        ("scenario: x\nsteps:\n  - expect: {alarms: [LOW]}\n", 3, "an alarm: LOW_RESERVOIR"),
        (
            "scenario: x\nsteps:\n  - expect:\n      low_reservoir_date: tomorrow\n",
            4,
            "an expected date",
        ),
        (
            "scenario: x\nsteps:\n  - program: {simple: 1 mcg/day, stopped: true}\n",
            3,
            "exactly one of simple",
        ),
        ("scenario: x\nsteps:\n  - advance: 1d\n    advance: 2d\n", 4, "duplicate key 'advance'"),
        ("scenario: x\nsteps:\n  - advance: [1d\n", 4, "not YAML"),
        ("", 0, "the file is empty"),
    ],
)
def test_problems_are_named_with_their_line(text: str, line: int, message: str) -> None:
    found = problems_of(text)
    assert any(at == line and message in text_ for at, text_ in found), found


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            EVENTS + "        - {event: REFILLED, mode: SIMPLE}\n",
            5,
            "REFILLED has no parameter 'mode' (it has: added, concentration)",
        ),
        (
            EVENTS + "        - {event: PATIENT_DOSE_GRANTED, doses_in_24h: two}\n",
            5,
            "a count",
        ),
        (
            EVENTS + "        - {event: ALARM_RAISED, alarm_code: LOW}\n",
            5,
            "'LOW' is not one of LOW_RESERVOIR",
        ),
        (
            "scenario: x\nsteps:\n  - bolus: {kind: THERAPEUTIC, dose: 50 mcg}\n",
            3,
            "needs a duration",
        ),
        ("scenario: x\nsteps:\n  - bolus: {kind: BRIDGE}\n", 3, "part of the refill"),
        ("scenario: x\nsteps:\n  - bolus: {kind: PRIMING, duration: 1h}\n", 3, "maximum rate"),
        (
            "scenario: x\nsteps:\n  - bolus: {kind: THERAPEUTIC, volume: 1 mL, duration: 1h}\n",
            3,
            "a dose (e.g. 50 mcg), not a volume",
        ),
        (
            "scenario: x\nsteps:\n  - program: {flex: [{at: '01:00', dose: 1 mcg/day}]}\n",
            3,
            "starts at 00:00",
        ),
        (
            "scenario: x\nsteps:\n  - program: {simple: 0.2 mL/day}\n",
            3,
            "a prescription is a dose of the drug in the pump, written in mcg/day",
        ),
        (
            "scenario: x\npump:\n  prescription: {simple: 0.2 mL/day}\nsteps: [advance: 1d]\n",
            3,
            "never a flow",
        ),
        (
            "scenario: x\nsteps:\n  - program: {simple: 100.0001 mcg/day}\n",
            3,
            "whole ng/day",
        ),
        (
            "scenario: x\nsteps:\n  - refill: {removed: 1 mL, added: 2 mL, concentration: "
            "2000 mcg/mL, same_dose: true, prescription: {simple: 1 mcg/day}}\n",
            3,
            "not both",
        ),
        (
            "scenario: x\nsteps:\n  - implant: {catheter: 10 cm, uncertainty: 10 cm}\n",
            3,
            "not a valid implant record",
        ),
        (
            "scenario: x\nsteps:\n  - advance: 1d\n    expect_error: TIMEOUT\n",
            4,
            "programmer steps",
        ),
        ("scenario: x\nsteps:\n  - link: {drop: 150 %}\n", 3, "0 to 100 %"),
        ("scenario: x\nsteps:\n  - patient_settings: {enabled: true}\n", 3, "need 'dose'"),
        (
            "scenario: x\nsteps:\n  - patient_settings: {enabled: false, volume: 1 mL}\n",
            3,
            "not a volume",
        ),
        ("scenario: x\nsteps:\n  - advance: {until: 'start + 1x'}\n", 3, "cannot read"),
        ("scenario: x\npump:\n  battery: 5.05 %\nsteps: [advance: 1d]\n", 3, "0.1 %"),
        (
            "scenario: x\npump:\n  start: 2026-09-21T08:00:00+02:00\nsteps: [advance: 1d]\n",
            3,
            "UTC",
        ),
        (
            "scenario: x\npump:\n  reservoir: 25 mL\nsteps: [advance: 1d]\n",
            3,
            "the pump cannot start like this",
        ),
    ],
)
def test_values_past_the_schema_are_checked_too(text: str, line: int, message: str) -> None:
    found = problems_of(text)
    assert any(at == line and message in text_ for at, text_ in found), found


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    text = (
        "scenario: x\npump:\n  reservoir: 20\n  concentration: 5 mcg/ml\n"
        "steps:\n  - advance: soon\n  - refill: {}\n"
    )
    lines = [line for line, _ in problems_of(text)]
    assert lines == sorted(lines) and {3, 4, 6, 7} <= set(lines)


def test_a_missing_file_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioFileError, match="cannot read"):
        load_scenario(tmp_path / "nope.scenario.yaml")


def test_dates_and_sexagesimal_looking_times_stay_text() -> None:
    # YAML 1.1 would read 22:00 as the integer 1320 and a date as a datetime.
    text = (
        "scenario: x\npump:\n  start: 2026-09-21T00:00:00Z\n  prescription:\n    flex:\n"
        "      - {at: 00:00, dose: 100 mcg/day}\n      - {at: 22:00, dose: 200 mcg/day}\n"
        "steps: [advance: 1d]\n"
    )
    scenario = parse_scenario(text)
    assert [s.start_min for s in scenario.pump.prescription.flex] == [0, 1320]


def test_the_checked_in_schema_is_a_valid_schema_and_lists_every_event_code() -> None:
    loaded = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(loaded)
    assert loaded == schema()
    assert loaded["$defs"]["event_code"]["enum"] == [c.name for c in EventCode]
    assert loaded["$defs"]["step"]["properties"]["expect_error"]["enum"] == [
        md.TIMEOUT,
        *(c.name for c in ErrorCode),
    ]
    assert loaded["$defs"]["alarm_code"]["enum"] == [c.name for c in AlarmCode]


def test_every_event_parameter_has_a_unit_or_a_vocabulary() -> None:
    for code in EventCode:
        params = event_parameters(code)
        wire_names = [wire for wire, _ in params.values()]
        assert wire_names == [n for n in EVENT_PARAMS[code] if n != "unused"]
    assert event_parameters(EventCode.PROGRAMMED)["daily_dose"][1] is Kind.DOSE_RATE
    assert event_parameters(EventCode.PATIENT_DOSE_GRANTED)["dose"][1] is Kind.DOSE
    assert event_parameters(EventCode.IMPLANT_RECORDED)["catheter_length"][1] is Kind.LENGTH
    assert event_parameters(EventCode.IMPLANT_RECORDED)["origin"][1] is Origin
    assert event_parameters(EventCode.BATTERY_SET)["battery"][1] is Kind.PERCENT
    assert event_parameters(EventCode.STALL_RECOVERY)["stall_duration"][1] is Kind.DURATION


def test_a_prescription_is_a_dose_of_the_drug_it_names() -> None:
    simple = md.PrescriptionInput(mode=Mode.SIMPLE, dose_ug_per_day=Fraction(300))
    assert md.prescription_spec(simple, 500) == PrescriptionSpec.simple(
        300_000, concentration_ug_per_ml=500
    )
    assert md.prescription_spec(simple, 1000).concentration_ug_per_ml == 1000
    assert md.dose_ng(Fraction("0.125")) == 125
    with pytest.raises(ValueError, match="whole number of nanograms"):
        md.dose_ng(Fraction(1, 3))
