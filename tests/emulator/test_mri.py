"""MRI exposures as world events (issue 19, domain.md "MRI and the emergency visit"): the
control channel's ``mri`` command and its refusals, the end landing on its pump second at
any clock speed, the seeded draws, the fixture helper, and the missed drug in the fluid
path and the patient model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from emulator import control
from emulator.cli import _catch_up_to, build_emulator, build_parser
from emulator.emulator import ControlError, Emulator, MriControlError
from emulator.mri import (
    MriExit,
    MriValueError,
    ScheduledMriEnd,
    parse_delay,
    parse_mri_duration,
    parse_trap,
)
from emulator.scenarios import model as md
from emulator.scenarios.errors import ScenarioFileError
from emulator.scenarios.executor import run_scenario
from emulator.scenarios.loader import parse_scenario
from firmware_model.pump import Pump
from protocol.client import PumpClient
from protocol.enums import AlarmCode, EventCode, Role
from tests.support import DEMO_KEYS, T0, FakeWall

pytest_plugins = ["pytester"]

HOUR = 3_600
DAY = 86_400
NL_PER_DAY = 200_000
"""The default preset: 100 mcg/day of 500 mcg/mL, 0.2 mL/day."""


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator.single(
        preset="default", manual_clock=True, start_pump_s=T0, wall=FakeWall()
    ) as e:
        yield e


def run(emu: Emulator, *words: str) -> dict[str, Any]:
    """The control answer, decoded: JSON, so its values are Any."""
    reply: dict[str, Any] = json.loads(
        control.answer(emu, json.dumps({"id": 3, "command": list(words)}).encode())
    )
    return reply


def stall_recoveries(emu: Emulator) -> list[int]:
    with emu.pumps[0].virtual.lock:
        return [e.a for e in emu.pumps[0].pump.event_log if e.code is EventCode.STALL_RECOVERY]


def delivered_nl(emu: Emulator) -> int:
    return int(emu.state()["pump"]["total_delivered_nl"])


# -- values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"), [("45m", 2700), ("45min", 2700), ("2h", 7200), ("1s", 1), ("1d", DAY)]
)
def test_exposure_lengths(text: str, seconds: int) -> None:
    assert parse_mri_duration(text) == seconds


@pytest.mark.parametrize("text", ["0s", "25h", "2d", "45", "-5m", "1.5h", "soon", ""])
def test_bad_exposure_lengths_are_refused(text: str) -> None:
    with pytest.raises(MriValueError):
        parse_mri_duration(text)


def test_delays_fixed_or_a_range_within_the_reported_24_hours() -> None:
    assert parse_delay("0s") == 0
    assert parse_delay("4h") == 4 * HOUR
    assert parse_delay("2h..24h") == (2 * HOUR, 24 * HOUR)
    for bad in ("25h", "4h..2h", "2h..2h", "2h..25h", "..4h", "4h..", "x"):
        with pytest.raises(MriValueError):
            parse_delay(bad)


def test_trap_words() -> None:
    assert (parse_trap("on"), parse_trap("off"), parse_trap("seeded")) == (True, False, "seeded")
    with pytest.raises(MriValueError):
        parse_trap("yes")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"recovery_delay_s": -1},
        {"recovery_delay_s": DAY + 1},
        {"recovery_delay_s": 1.5},
        {"recovery_delay_s": True},
        {"recovery_delay_s": (5, 5)},
        {"recovery_delay_s": (0, DAY + 1)},
        {"telemetry_trap": "maybe"},
        {"telemetry_trap": 1},
        {"recovery_logged_at_second_interrogation": 1},
    ],
)
def test_a_bad_exit_cannot_be_built(kwargs: dict[str, object]) -> None:
    with pytest.raises(MriValueError):
        MriExit(**kwargs)  # type: ignore[arg-type]


# -- the control channel ----------------------------------------------------------------------


def test_mri_start_and_end_by_hand(emu: Emulator) -> None:
    reply = run(emu, "mri", "start")
    assert reply["ok"], reply
    state = emu.state()
    assert state["pump"]["mri"]["in_field"] is True
    assert state["pump"]["alarms_active"] == ["MOTOR_STALL"]
    assert not state["pump"]["delivering"]
    run(emu, "advance", "30min")
    reply = run(emu, "mri", "end", "--delay", "4h")
    assert reply["ok"], reply
    assert reply["result"]["exit"] == {
        "recovery_delay_s": 4 * HOUR,
        "telemetry_trap": False,
        "recovery_logged_at_second_interrogation": False,
    }
    run(emu, "advance", f"{4 * HOUR - 1}s")
    assert not emu.state()["pump"]["delivering"]
    run(emu, "advance", "1s")
    state = emu.state()
    assert state["pump"]["delivering"] and state["pump"]["mri"] is None
    assert state["pump"]["delivering_since_clock_s"] == T0 + 30 * 60 + 4 * HOUR
    assert stall_recoveries(emu) == [30 * 60 + 4 * HOUR]


@pytest.mark.parametrize(
    "words",
    [
        ["mri"],
        ["mri", "end"],  # not in a field
        ["mri", "start", "--delay", "4h"],
        ["mri", "25h"],
        ["mri", "0s"],
        ["mri", "45m", "--delay", "25h"],
        ["mri", "45m", "--delay", "4h..2h"],
        ["mri", "45m", "--delay"],
        ["mri", "45m", "--delay", "4h", "--delay", "5h"],
        ["mri", "45m", "--telemetry-trap", "maybe"],
        ["mri", "45m", "--log-recovery-at-second-interrogation=yes"],
        ["mri", "--delay", "4h"],
        ["mri", "45m", "extra"],
    ],
)
def test_bad_mri_commands_are_refused_and_change_nothing(emu: Emulator, words: list[str]) -> None:
    before = emu.state()
    reply = run(emu, *words)
    assert reply["ok"] is False and reply["error"]
    after = emu.state()
    assert after["pump"] == before["pump"]
    with pytest.raises(MriControlError):
        control.execute(emu, words)
    assert issubclass(MriControlError, ControlError)


def test_a_second_exposure_is_refused_while_the_first_holds_the_motor(emu: Emulator) -> None:
    assert run(emu, "mri", "45m")["ok"]
    for words in (["mri", "start"], ["mri", "10m"]):
        reply = run(emu, *words)
        assert reply["ok"] is False and "already stalled" in str(reply["error"])
    # Out of the field but the gears still bound: still refused.
    assert run(emu, "mri", "end", "--delay", "1h")["ok"]
    assert run(emu, "mri", "start")["ok"] is False
    run(emu, "advance", "1h")
    assert run(emu, "mri", "start")["ok"]


def test_the_channel_survives_garbage(emu: Emulator) -> None:
    for line in (b'{"command": ["mri", 45]}', b"not json", b'{"command": ["mri", "\\u0000"]}'):
        reply = json.loads(control.answer(emu, line))
        assert reply["ok"] is False
    assert run(emu, "mri", "45m")["ok"]


def test_mri_end_cuts_a_scheduled_exposure_short(emu: Emulator) -> None:
    run(emu, "mri", "2h", "--delay", "5h")
    run(emu, "advance", "10min")
    reply = run(emu, "mri", "end")
    assert reply["ok"]
    assert emu.state()["pump"]["delivering"]
    assert emu.pumps[0].next_world_event_t is None
    run(emu, "advance", "3h")  # the dropped end (and its 5 h delay) never fires
    assert emu.state()["pump"]["delivering"]
    assert stall_recoveries(emu) == [600]


def test_reset_drops_a_scheduled_end(emu: Emulator) -> None:
    run(emu, "mri", "45m")
    run(emu, "reset")
    assert emu.pumps[0].next_world_event_t is None
    assert emu.state()["pump"]["mri"] is None and emu.state()["pump"]["delivering"]


# -- exact and event-driven -------------------------------------------------------------------


def test_the_end_lands_on_its_second_in_one_huge_step(emu: Emulator) -> None:
    run(emu, "mri", "45m", "--delay", "6h")
    run(emu, "advance", "1d")  # one step across the end and the delay
    state = emu.state()
    assert state["pump"]["delivering_since_clock_s"] == T0 + 2700 + 6 * HOUR
    assert stall_recoveries(emu) == [2700 + 6 * HOUR]
    # 6 h 45 min missed at 0.2 mL/day: 56,250 nL, exactly.
    assert delivered_nl(emu) == NL_PER_DAY - 56_250


@pytest.mark.parametrize("speed", [1.0, 3_600.0, 1_000_000.0])
def test_the_end_lands_on_its_second_at_any_speed(speed: float) -> None:
    wall = FakeWall()
    with Emulator.single(preset="default", start_pump_s=T0, wall=wall) as emu:
        emu.set_speed(speed)
        emu.mri(2700)
        # The server is asked to wake no later than the wall second the end comes due.
        due_at = emu.clock.next_wall_deadline(T0 + 2700)
        assert due_at is not None
        deadline = emu._tick()  # the server loop's own deadline
        assert deadline is not None and deadline <= due_at
        wall.now += 2 * DAY / speed  # far past the end, in one jump
        emu._tick()
        state = emu.state()
        assert state["pump"]["delivering"]
        assert state["pump"]["delivering_since_clock_s"] == T0 + 2700
        assert stall_recoveries(emu) == [2700]


def test_seeded_draws_repeat_with_the_seed_and_stay_in_range() -> None:
    def draws(seed: int) -> list[tuple[int, bool]]:
        out = []
        with Emulator.single(manual_clock=True, start_pump_s=T0, wall=FakeWall(), seed=seed) as e:
            url = e.register_inproc()
            for _ in range(20):
                e.mri_start()
                reply = e.mri_end(
                    MriExit(recovery_delay_s=(2 * HOUR, DAY), telemetry_trap="seeded")
                )
                out.append((reply["exit"]["recovery_delay_s"], reply["exit"]["telemetry_trap"]))
                e.advance(DAY)
                if reply["exit"]["telemetry_trap"]:
                    with PumpClient(url, key=DEMO_KEYS[Role.CLINICIAN]) as client:
                        client.status()  # the interrogation that frees it
            # A reset starts the draws again (a session-scoped fixture pump stays repeatable).
            e.reset()
            e.mri_start()
            again = e.mri_end(MriExit(recovery_delay_s=(2 * HOUR, DAY), telemetry_trap="seeded"))
            assert (again["exit"]["recovery_delay_s"], again["exit"]["telemetry_trap"]) == out[0]
        return out

    first = draws(7)
    assert first == draws(7)
    assert first != draws(8)
    assert all(2 * HOUR <= delay <= DAY for delay, _ in first)
    assert {trap for _, trap in first} == {True, False}


# -- the telemetry-mode trap and the interrogations, over the wire ------------------------------


def test_the_trap_waits_for_an_interrogation_over_the_wire(emu: Emulator) -> None:
    url = emu.register_inproc()
    emu.mri(2700, MriExit(telemetry_trap=True, recovery_logged_at_second_interrogation=True))
    emu.advance(3 * HOUR)
    assert not emu.state()["pump"]["delivering"]
    assert emu.state()["pump"]["mri"]["telemetry_mode"]
    with PumpClient(url, key=DEMO_KEYS[Role.PATIENT], role=Role.PATIENT) as client:
        assert client.status().delivering  # the patient's handheld interrogated it
    assert stall_recoveries(emu) == []  # logged only at the second interrogation
    emu.advance(HOUR)
    with PumpClient(url, key=DEMO_KEYS[Role.CLINICIAN]) as client:
        client.status()
    assert stall_recoveries(emu) == [3 * HOUR]
    assert emu.state()["pump"]["mri"] is None


# -- the missed drug: the fluid path and the patient model --------------------------------------


def test_the_drug_reaching_the_patient_drops_to_zero_and_recovers(emu: Emulator) -> None:
    p = emu.pumps[0]
    hour0 = (T0 + 2 * DAY) // HOUR * HOUR + HOUR  # a whole pump-clock hour, two days on
    emu.advance(hour0 - T0)  # steady state, the catheter full of the drug
    emu.mri(2 * HOUR, MriExit(recovery_delay_s=HOUR))
    emu.advance(6 * HOUR)
    hours = dict(p.patient_hours(hour0 - HOUR, hour0 + 6 * HOUR))
    normal = Fraction(NL_PER_DAY * 500, 24 * 1_000_000)  # mcg an hour: 4.1667
    assert hours[hour0 - HOUR] == pytest.approx(normal, rel=1e-3)
    # The 2 h exposure and the 1 h delay: nothing leaves the catheter tip.
    assert [hours[hour0 + i * HOUR] for i in range(3)] == [0, 0, 0]
    for i in range(3, 6):
        assert hours[hour0 + i * HOUR] == pytest.approx(normal, rel=1e-3)
    state = emu.state()
    assert state["fluid_path"]["patient_rate_ug_per_day"] == pytest.approx(100, rel=1e-3)
    # What did not leave the pump is exactly 3 h of 0.2 mL/day (to the whole nanolitre).
    delivering_s = (hour0 - T0) + 3 * HOUR
    assert delivered_nl(emu) == NL_PER_DAY * delivering_s // DAY


def test_the_patient_model_drifts_toward_withdrawal_without_the_check(emu: Emulator) -> None:
    emu.advance(3 * DAY)
    reference = emu.state()["patient"]["level_ng_per_ml"]
    emu.mri(2700, MriExit(telemetry_trap=True))
    emu.advance(DAY)
    patient = emu.state()["patient"]
    assert patient["level_ng_per_ml"] < 0.1 * reference
    assert patient["state"] == "withdrawal_risk"
    assert emu.alarms_active() == (AlarmCode.MOTOR_STALL,)


# -- the pytest fixture helper ----------------------------------------------------------------


def test_the_fixture_helper(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        r"""
        from protocol.enums import AlarmCode, EventCode, Role

        def test_an_exposure_with_a_delay(virtual_pump, pump_client):
            exposure = virtual_pump.mri("45 min", recovery_delay="6h")
            assert exposure["scheduled_end"]["recovery_delay_s"] == 21_600
            status = pump_client.status()
            assert not status.delivering and AlarmCode.MOTOR_STALL in status.alarms_active
            virtual_pump.advance("1d")
            state = virtual_pump.state()["pump"]
            assert state["delivering_since_clock_s"] == virtual_pump.start_s + 24_300
            # 6 h 45 min missed at 0.2 mL/day: 56,250 nL.
            assert state["total_delivered_nl"] == 200_000 - 56_250

        def test_start_and_end_by_hand_with_the_trap(virtual_pump):
            virtual_pump.mri_start()
            virtual_pump.advance("30 min")
            exit_ = virtual_pump.mri_end(telemetry_trap=True)["exit"]
            assert exit_["telemetry_trap"] is True
            virtual_pump.advance("2h")
            assert not virtual_pump.state()["pump"]["delivering"]
            virtual_pump.client(Role.PATIENT).status()  # the handheld interrogates
            assert virtual_pump.state()["pump"]["delivering"]

        def test_a_seeded_range(virtual_pump):
            delay = virtual_pump.mri(
                "10 min", recovery_delay="2h..24h", telemetry_trap="seeded"
            )["scheduled_end"]["recovery_delay_s"]
            assert 7_200 <= delay <= 86_400
        """
    )
    result = pytester.runpytest(
        "-W", "ignore::pytest.PytestAssertRewriteWarning", "-q", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=3)


# -- a restart keeps the scheduled end --------------------------------------------------------


def test_a_restart_keeps_the_scheduled_end(tmp_path: Path) -> None:
    parser = build_parser()
    args = ["serve", "--no-pty", "--state", str(tmp_path / "pump.state"), "--clock", "manual"]
    first = build_emulator(parser.parse_args(args))
    start = first.clock.now()
    first.mri(2700, MriExit(recovery_delay_s=HOUR))
    first.advance(600)
    first.close()
    again = build_emulator(parser.parse_args(args))
    try:
        assert again.pumps[0].next_world_event_t == start + 2700
        again.advance(DAY)
        assert again.state()["pump"]["delivering_since_clock_s"] == start + 2700 + HOUR
        assert stall_recoveries(again) == [2700 + HOUR]
    finally:
        again.close()


def test_a_catch_up_applies_the_end_on_its_second() -> None:
    with Emulator.single(manual_clock=True, start_pump_s=T0, wall=FakeWall()) as emu:
        emu.mri(2700, MriExit(telemetry_trap=True))
        saved = emu.pumps[0].pump.to_bytes()
        end = ScheduledMriEnd.from_extra(emu.pumps[0]._stored(saved).extra)
    assert end is not None and end.at_t == emu.pumps[0].pump.t + 2700
    pump = Pump.from_bytes(saved)
    assert _catch_up_to(pump, pump.t + DAY, end) is None
    state = pump.mri
    assert state is not None and not state.in_field and state.trapped
    assert state.resume_at_t == end.at_t
    pump2 = Pump.from_bytes(saved)
    assert _catch_up_to(pump2, pump2.t + 60, end) == end  # still ahead: kept


def test_a_malformed_saved_end_is_ignored() -> None:
    good = ScheduledMriEnd(
        at_t=5,
        recovery_delay_s=0,
        telemetry_trap=False,
        recovery_logged_at_second_interrogation=True,
    ).to_extra()
    assert ScheduledMriEnd.from_extra(good) is not None
    for key, bad in (
        ("mri_end_at_t", -1),
        ("mri_end_recovery_delay_s", DAY + 1),
        ("mri_end_telemetry_trap", 1),
        ("mri_end_log_at_second", "yes"),
    ):
        assert ScheduledMriEnd.from_extra({**good, key: bad}) is None
    assert ScheduledMriEnd.from_extra({}) is None


# -- the scenario steps -------------------------------------------------------------------------


def test_the_mri_steps_load_into_typed_values() -> None:
    scenario = parse_scenario(
        "scenario: x\nseed: 4\nsteps:\n"
        "  - mri: {duration: 45 min, recovery_delay: 2h..24h, telemetry_trap: seeded,"
        " recovery_logged_at_second_interrogation: true}\n"
        "  - mri_start:\n"
        "  - mri_end: {recovery_delay: 4h, telemetry_trap: true}\n"
        "  - mri_end:\n"
        "  - expect: {in_mri_field: false, telemetry_mode: false, not_delivering_for: 30h,"
        " delivering_since: start + 1d, patient_state: WITHDRAWAL_RISK}\n",
        "x.scenario.yaml",
    )
    actions = [s.action for s in scenario.steps]
    assert actions[0] == md.Mri(
        start=True,
        end=True,
        duration_s=2700,
        exit=MriExit(
            recovery_delay_s=(2 * HOUR, DAY),
            telemetry_trap="seeded",
            recovery_logged_at_second_interrogation=True,
        ),
    )
    assert actions[1] == md.Mri(start=True, end=False)
    assert actions[2] == md.Mri(
        start=False, end=True, exit=MriExit(recovery_delay_s=4 * HOUR, telemetry_trap=True)
    )
    assert actions[3] == md.Mri(start=False, end=True)
    expect = actions[4]
    assert isinstance(expect, md.Expect)
    assert dict(expect.flags) == {"in_mri_field": False, "telemetry_mode": False}
    assert dict(expect.names) == {"patient_state": "WITHDRAWAL_RISK"}


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("mri: {duration: 25h}", "1 s to 24 h"),
        ("mri: {duration: 0 s}", "1 s to 24 h"),
        ("mri: {duration: 45 min, recovery_delay: 25h}", "0 to 24 h"),
        ("mri: {duration: 45 min, recovery_delay: 4h..2h}", "the shorter first"),
        ("mri: {duration: 45 min, recovery_delay: 2h..2h}", "the shorter first"),
        ("mri: {duration: 45 min, recovery_delay: soon}", "duration"),
        ("mri: {duration: 45 min, telemetry_trap: maybe}", "maybe"),
        ("mri: {recovery_delay: 4h}", "duration"),
        ("mri_start: {recovery_delay: 4h}", "no arguments"),
        ("mri_end: {duration: 45 min}", "duration"),
        ("mri: {duration: 45 min}\n    expect_error: INVALID_STATE", "programmer steps"),
    ],
)
def test_bad_mri_steps_are_refused_before_anything_runs(step: str, message: str) -> None:
    with pytest.raises(ScenarioFileError) as caught:
        parse_scenario(f"scenario: x\nsteps:\n  - {step}\n", "x.scenario.yaml")
    assert any(message in p.message for p in caught.value.problems), caught.value.problems


def test_an_mri_step_ends_the_programmer_sessions_and_a_second_exposure_is_an_error() -> None:
    scenario = parse_scenario(
        "scenario: x\nsteps:\n"
        "  - interrogate:\n"
        "  - mri: {duration: 45 min, telemetry_trap: true}\n"
        "  - advance: 1h\n"
        "  - expect: {telemetry_mode: true, delivering: false}\n"
        "  - interrogate:\n"
        "  - expect: {telemetry_mode: false, delivering: true, not_delivering_for: 0 s}\n"
        "  - mri_start:\n"
        "  - mri_start:\n",
        "x.scenario.yaml",
    )
    result = run_scenario(scenario)
    statuses = [s.status.name for s in result.steps]
    assert statuses == ["PASSED"] * 7 + ["ERROR"], result.failure_report()
    assert "already stalled" in result.steps[-1].error
