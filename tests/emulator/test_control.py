"""The simulation controls, in process: the Emulator object and the JSON-lines protocol."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator import control
from emulator.emulator import (
    FORMER_STATE_KEYS,
    ControlError,
    Emulator,
    fleet_setups,
    numbered_port,
)
from emulator.presets import PRESETS
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import AlarmCode, Role
from tests.support import DEMO_KEYS, T0, FakeWall

DAY = 86_400


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator.single(
        preset="default", manual_clock=True, start_pump_s=T0, wall=FakeWall()
    ) as e:
        yield e


def run(emu: Emulator, *words: str) -> dict[str, Any]:
    """The control answer, decoded: JSON, so its values are Any."""
    reply: dict[str, Any] = json.loads(
        control.answer(emu, json.dumps({"id": 7, "command": list(words)}).encode())
    )
    assert reply["id"] == 7
    return reply


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90d", 90 * DAY),
        ("12h", 43_200),
        ("30min", 1800),
        ("45s", 45),
        ("4d 16h", 4 * DAY + 16 * 3600),
        ("1h 30min 5s", 5405),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert control.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["90", "1.5h", "-1d", "d", "3 weeks", "4d 16", "", "1d" * 40])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ControlError, match="unit"):
        control.parse_duration(text)


@pytest.mark.parametrize(("old", "current"), sorted(FORMER_STATE_KEYS.items()))
def test_a_renamed_state_key_keeps_its_old_name(emu: Emulator, old: str, current: str) -> None:
    run(emu, "advance", f"{90 * DAY}s")  # alarms raised, so the values are not all empty
    pump = run(emu, "state")["result"]["pump"]
    assert current in pump and old in pump
    assert pump[old] == pump[current]


def test_advance_takes_a_compound_duration_in_several_words(emu: Emulator) -> None:
    before = emu.clock.snapshot().pump_time_s
    reply = run(emu, "advance", "4d", "16h")
    assert reply["ok"] is True, reply
    assert emu.clock.snapshot().pump_time_s - before == 4 * DAY + 16 * 3600


def test_advance_raises_the_alarm_at_its_second(emu: Emulator) -> None:
    run(emu, "advance", f"{90 * DAY - 1}s")
    assert AlarmCode.LOW_RESERVOIR not in emu.alarms_active()
    run(emu, "advance", "1s")
    state = emu.state()
    assert AlarmCode.LOW_RESERVOIR.name in state["pump"]["alarms_active"]
    alarms = state["pump"]["alarms"]
    assert alarms[0]["raised_at_clock_s"] == T0 + 90 * DAY


def test_faults_raise_their_alarms(emu: Emulator) -> None:
    assert run(emu, "fault", "motor-stall", "on")["result"] == {"alarms": ["MOTOR_STALL"]}
    assert run(emu, "fault", "motor-stall", "off")["result"] == {"alarms": []}
    result = run(emu, "fault", "memory-error", "critical")["result"]
    assert result == {"alarms": ["MEMORY_CRITICAL"]}
    assert emu.state()["pump"]["delivering"] is False
    run(emu, "--pump", "0", "fault", "battery", "1")
    assert emu.state()["pump"]["battery_permille"] == 10


@pytest.mark.parametrize(
    "words",
    [
        [],
        ["speed"],
        ["speed", "fast"],
        ["speed", "0"],
        ["speed", "2000000"],
        ["advance", "5"],
        ["fault", "battery", "101"],
        ["fault", "laser", "on"],
        ["link", "drop=1.5"],
        ["link", "baud=3"],
        ["link", "volume=3"],
        ["state", "--yaml"],
        ["--pump", "4", "state"],
        ["teleport"],
    ],
)
def test_bad_commands_change_nothing(emu: Emulator, words: list[str]) -> None:
    before = emu.state()
    reply = run(emu, *words)
    assert reply["ok"] is False and isinstance(reply["error"], str) and reply["error"]
    after = emu.state()
    for part in ("clock", "link"):
        assert after[part] == before[part]
    assert after["pump"]["battery_permille"] == before["pump"]["battery_permille"]


def test_malformed_requests_get_errors() -> None:
    with Emulator.single(manual_clock=True, start_pump_s=T0) as emu:
        for line in (b"not json", b"[1, 2]", b'{"command": "speed 3"}', b"\xff\xfe"):
            reply = json.loads(control.answer(emu, line))
            assert reply["ok"] is False


def test_link_settings_reach_the_clinical_link(emu: Emulator) -> None:
    url = emu.register_inproc()
    run(emu, "link", "disconnect")
    with (
        pytest.raises(Exception, match="no answer"),
        PumpClient(url, key=DEMO_KEYS[Role.CLINICIAN], timeout_s=0.01, retries=1),
    ):
        pass
    result = run(emu, "link", "reconnect", "drop=0", "corrupt=0")["result"]
    assert result["disconnected"] is False
    with PumpClient(url, key=DEMO_KEYS[Role.CLINICIAN]) as client:
        assert client.status().reservoir_nl == 20_000_000


def test_the_bridge_of_a_refill_brings_the_new_drug_to_the_tip_as_it_ends(emu: Emulator) -> None:
    url = emu.register_inproc()
    state = emu.state()
    # The preset's implant record (110 cm) is also the true catheter: 0.486 mL with the tubing.
    assert state["fluid_path"]["dead_volume_nl"] == 486_000
    with PumpClient(url, key=DEMO_KEYS[Role.CLINICIAN]) as client:
        same_dose = client.read_prescription().prescription.with_concentration(1000)
        done = client.refill(
            removed_nl=20_000_000,
            added_nl=20_000_000,
            concentration_ug_per_ml=1000,
            prescription=same_dose,
            bridge=True,
        )
        assert done.bridge_volume_nl == 486_000
        assert emu.state()["fluid_path"]["concentration_at_tip_ug_per_ml"] == 500
        assert done.bridge_ends_at_s is not None
        # 0.486 mL of 500 mcg/mL at 100 mcg/day: 0.2 mL/day for 2.43 days.
        assert done.bridge_ends_at_s - emu.clock.now() == 209_952
        emu.advance(209_952 - 60)
        assert emu.state()["fluid_path"]["concentration_at_tip_ug_per_ml"] == 500
        emu.advance(120)
        status = client.status()
    assert status.bridge_concentration_ug_per_ml == 0
    assert emu.state()["fluid_path"]["concentration_at_tip_ug_per_ml"] == 1000


def test_low_battery_reset_is_an_injectable_fault(emu: Emulator) -> None:
    reply = run(emu, "fault", "low-battery-reset")
    assert reply["ok"] is True
    assert reply["result"] == {"alarms": ["LOW_BATTERY_RESET"]}
    pump = emu.state()["pump"]
    assert pump["mode"] == "MINIMUM_RATE"
    assert pump["basal_rate_nl_per_day"] == 6_000  # keep-open 0.006 mL/day
    assert "usage" in str(run(emu, "fault", "low-battery-reset", "now")["error"])
    url = emu.register_inproc()
    with PumpClient(url, key=DEMO_KEYS[Role.CLINICIAN]) as client:
        client.program(m.PrescriptionSpec.simple(100_000, concentration_ug_per_ml=500))
    assert AlarmCode.LOW_BATTERY_RESET not in emu.alarms_active()


def test_reset_restores_the_starting_state(emu: Emulator) -> None:
    run(emu, "advance", "30d")
    run(emu, "fault", "motor-stall", "on")
    run(emu, "reset")
    state = emu.state()
    assert state["pump"]["reservoir_nl"] == 20_000_000
    assert state["pump"]["alarms_active"] == []


def test_fleet_helpers() -> None:
    setups = fleet_setups(PRESETS["default"], 3)
    assert len({s.serial for s in setups}) == 3
    assert fleet_setups(PRESETS["default"], 1) == [PRESETS["default"]]
    assert numbered_port("/tmp/ttyPUMP0", 2, 3) == "/tmp/ttyPUMP2"
    assert numbered_port("/tmp/pump", 2, 3) == "/tmp/pump2"
    assert numbered_port("/tmp/ttyPUMP7", 0, 1) == "/tmp/ttyPUMP7"
    with pytest.raises(ControlError):
        fleet_setups(PRESETS["default"], 0)


def test_delay_and_baud_pacing_over_a_real_pty(tmp_path: Path) -> None:
    with Emulator.single(manual_clock=True, start_pump_s=T0) as emu:
        emu.serve_pty(0, tmp_path / "ttyPUMP0")
        emu.set_link(delay_ms=40, baud=9600)
        with PumpClient(str(tmp_path / "ttyPUMP0"), key=DEMO_KEYS[Role.CLINICIAN]) as client:
            started = time.monotonic()
            status = client.status()
            elapsed = time.monotonic() - started
        # Two legs of 40 ms, plus ~27 + ~108 bytes at 960 bytes/s: the link is felt.
        assert status.reservoir_nl == 20_000_000
        assert elapsed >= 0.08 + 135 / 960 * 0.9
        counters = emu.state()["link"]["counters"]
        assert counters["to_programmer"]["chunks_delivered"] >= 3


def test_a_low_battery_reset_shows_as_withdrawal_in_the_patient_model(emu: Emulator) -> None:
    emu.advance(2 * DAY)  # the level settles at the prescription's
    assert emu.state()["patient"]["state"] == "normal"
    emu.fault_low_battery_reset()  # 0.006 mL/day: 3 mcg/day of 500 mcg/mL, not a prescription
    emu.advance(DAY)
    assert emu.state()["patient"]["state"] == "withdrawal_risk"
