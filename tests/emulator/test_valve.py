"""Valve pump models in the emulator (issue 19): chosen per pump (``serve --pump-kind``,
a preset's setup, a scenario's ``kind``), the original model's discharge reaching the
patient as one instantaneous dose through the fluid path, and the flow-activated valve
reset by the control channel (``valve-reset``) or by the programmer (RESET_VALVE)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from fractions import Fraction

import pytest

from emulator import control
from emulator.cli import build_emulator, build_parser
from emulator.clock import PumpClock
from emulator.emulator import Emulator
from emulator.mri import MriValueError, parse_valve
from emulator.presets import PRESETS
from protocol import cli
from protocol.client import PumpClient
from protocol.enums import ErrorCode, Role, ValveModel
from protocol.errors import NakError
from protocol.keys import DEMO_KEY_FILE, load_keys
from tests.support import DEMO_KEYS, T0, FakeWall

pytest_plugins = ["pytester"]

HOUR = 3_600
DAY = 86_400


def _emulator(valve: ValveModel) -> Emulator:
    wall = FakeWall()
    clock = PumpClock(start_pump_s=T0, wall=wall)
    clock.set_manual()
    setup = dataclasses.replace(PRESETS["default"], valve=valve)
    return Emulator([setup], keys=load_keys(DEMO_KEY_FILE), clock=clock, wall=wall)


@pytest.fixture
def original() -> Iterator[Emulator]:
    with _emulator(ValveModel.VALVE_DISCHARGE) as emu:
        yield emu


@pytest.fixture
def flow() -> Iterator[Emulator]:
    with _emulator(ValveModel.VALVE_FLOW_ACTIVATED) as emu:
        yield emu


def run(emu: Emulator, *words: str) -> dict[str, object]:
    reply: dict[str, object] = json.loads(
        control.answer(emu, json.dumps({"id": 1, "command": list(words)}).encode())
    )
    return reply


def test_the_pump_kinds_by_name() -> None:
    assert parse_valve("motor") is ValveModel.MOTOR
    assert parse_valve("valve-discharge") is ValveModel.VALVE_DISCHARGE
    assert parse_valve("valve-flow-activated") is ValveModel.VALVE_FLOW_ACTIVATED
    with pytest.raises(MriValueError, match="one of motor"):
        parse_valve("prometra")


def test_serve_builds_the_pump_kind_asked_for() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["serve", "--no-pty", "--clock", "manual", "--pump-kind", "valve-flow-activated"]
    )
    emu = build_emulator(args)
    try:
        assert emu.pumps[0].pump.profile.valve_model is ValveModel.VALVE_FLOW_ACTIVATED
        assert emu.state()["pump"]["valve"]["model"] == "VALVE_FLOW_ACTIVATED"
    finally:
        emu.close()
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--pump-kind", "prometra"])


def test_the_discharge_reaches_the_patient_at_once(original: Emulator) -> None:
    p = original.pumps[0]
    hour0 = (T0 + DAY) // HOUR * HOUR + HOUR
    original.advance(hour0 - T0)
    path = original.state()["fluid_path"]
    before_ug = path["delivered_to_patient_ug"]
    reservoir = p.pump.reservoir_nl
    concentration = p.pump.concentration_ug_per_ml
    original.mri(2700)
    state = original.state()
    # The whole reservoir left at that second; its drug is at the patient on that second
    # (the catheter's content first, then as much of the reservoir's: the same drug).
    discharged_ug = Fraction(reservoir * concentration, 1_000_000)
    assert state["pump"]["true_reservoir_nl"] == 0
    assert state["fluid_path"]["delivered_to_patient_ug"] == pytest.approx(
        before_ug + float(discharged_ug), rel=1e-12
    )
    original.advance(HOUR)
    # The hour of the scan holds the discharge alone: an empty reservoir meters nothing.
    assert dict(p.patient_hours(hour0, hour0 + HOUR))[hour0] == discharged_ug
    assert original.state()["patient"]["state"] == "overdose_risk"
    assert not original.state()["pump"]["mri"] or not original.state()["pump"]["mri"]["in_field"]


def test_valve_reset_by_the_control_channel(flow: Emulator) -> None:
    flow.mri(2700)
    flow.advance(2 * HOUR)
    state = flow.state()["pump"]
    assert not state["delivering"] and state["valve"]["closed_since_clock_s"] == T0
    assert run(flow, "valve-reset") == {"id": 1, "ok": True, "result": {"closed_for_s": 7200}}
    assert flow.state()["pump"]["delivering"]
    again = run(flow, "valve-reset")
    assert again["ok"] is False and "valve is open" in str(again["error"])
    assert run(flow, "valve-reset", "now")["ok"] is False


def test_a_motor_pump_refuses_valve_reset() -> None:
    with Emulator.single(manual_clock=True, start_pump_s=T0, wall=FakeWall()) as emu:
        reply = run(emu, "valve-reset")
        assert reply["ok"] is False and "no flow-activated valve" in str(reply["error"])


def test_the_programmer_reads_and_resets_the_valve_over_the_wire(flow: Emulator) -> None:
    url = flow.register_inproc()
    with PumpClient(url, key=DEMO_KEYS[Role.CLINICIAN]) as client:
        valve = client.read_valve()
        assert valve.valve_model is ValveModel.VALVE_FLOW_ACTIVATED and not valve.closed
        with pytest.raises(NakError) as refused:
            client.reset_valve()
        assert refused.value.code is ErrorCode.INVALID_STATE
    flow.mri(2700)
    flow.advance(HOUR)
    with PumpClient(url, key=DEMO_KEYS[Role.PATIENT], role=Role.PATIENT) as patient:
        with pytest.raises(NakError) as forbidden:
            patient.reset_valve()
        assert forbidden.value.code is ErrorCode.FORBIDDEN
    with PumpClient(url, key=DEMO_KEYS[Role.CLINICIAN]) as client:
        valve = client.read_valve()
        assert valve.closed and valve.closed_since_s == T0
        assert not client.status().delivering
        assert client.reset_valve() == HOUR
        assert client.status().delivering


def test_the_fixture_chooses_the_pump_kind(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        r"""
        import pytest

        @pytest.mark.vpump(kind="valve-flow-activated")
        def test_the_valve_closes_and_is_reset(virtual_pump, pump_client):
            virtual_pump.mri("45 min")
            assert not pump_client.status().delivering
            assert pump_client.read_valve().closed
            virtual_pump.advance("1h")
            assert virtual_pump.valve_reset() == {"closed_for_s": 3_600}
            assert pump_client.status().delivering

        @pytest.mark.vpump(kind="valve-discharge")
        def test_the_reservoir_discharges(virtual_pump):
            virtual_pump.mri("45 min")
            assert virtual_pump.state()["pump"]["true_reservoir_nl"] == 0

        @pytest.mark.vpump(kind="prometra")
        def test_a_bad_kind_is_refused(virtual_pump):
            pass
        """
    )
    result = pytester.runpytest(
        "-W", "ignore::pytest.PytestAssertRewriteWarning", "-q", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*kind 'prometra': one of motor, valve-discharge*"])


def test_the_emergency_summary_names_a_closed_valve(
    flow: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    url = flow.register_inproc()
    flow.mri(2700)
    flow.advance(3 * HOUR)
    for role in ([], ["--role", "patient"]):
        assert cli.main(["--port", url, "--timeout", "0.5", *role, "emergency"]) == cli.EXIT_OK
        out = capsys.readouterr().out
        assert "delivering now:       NO: the flow-activated valve is closed" in out
        assert "(3 h ago)" in out
        assert "pump kind:            flow-activated valve pump" in out
    # The clinician's summary also lists the closure from the log.
    assert cli.main(["--port", url, "--timeout", "0.5", "emergency"]) == cli.EXIT_OK
    clinician = capsys.readouterr().out
    assert "in the last 30 days:  " in clinician and "valve closed" in clinician


def test_pumpctl_valve_shows_and_resets(flow: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    url = flow.register_inproc()
    base = ["--port", url, "--timeout", "0.5"]
    assert cli.main([*base, "valve"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "pump kind:            flow-activated valve pump" in out
    assert "flow-activated valve: open" in out
    flow.mri(2700)
    flow.advance(HOUR)
    assert cli.main([*base, "valve"]) == cli.EXIT_OK
    assert "flow-activated valve: CLOSED since 2026-09-21 14:13:20 UTC" in capsys.readouterr().out
    assert cli.main([*base, "valve", "reset"]) == cli.EXIT_OK
    assert "valve reset after 1 h closed: delivery resumes" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:  # open now: refused, a NAK's exit status
        cli.main([*base, "valve", "reset"])
    assert refused.value.code not in (0, None)
    assert "the flow-activated valve is open" in capsys.readouterr().err
