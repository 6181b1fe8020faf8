"""The educator backend over a real emulator (demo preset, manual clock): time, speed, faults,
the true state, the wire feed, and the fluid-path lag behind the bridge-bolus lesson."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator

import pytest

from emulator.emulator import Emulator
from programmer_gui.core.educator import (
    DAY_S,
    HOUR_S,
    BridgeCaseKind,
    EducatorValueError,
    EntryKind,
    PatientRisk,
    SpeedSetting,
    WireChunk,
    WireDecoder,
    WireDirection,
)
from programmer_gui.demo.educator_backend import LINK_NOISE_CORRUPT, EmulatorEducatorBackend
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import AlarmCode, BolusKind, Role
from protocol.errors import LinkTimeout
from protocol.units import ml_to_nl
from tests.support import DEMO_KEYS, T0


@pytest.fixture
def world() -> Iterator[tuple[Emulator, EmulatorEducatorBackend, str]]:
    emulator = Emulator.single(
        preset="demo", manual_clock=True, start_pump_s=T0, random_bytes=random.Random(3).randbytes
    )
    backend = EmulatorEducatorBackend(emulator)  # before any link opens: it captures them
    url = emulator.register_inproc()
    emulator.start()
    try:
        yield emulator, backend, url
        emulator.check()
    finally:
        emulator.close()


def client(url: str, *, timeout_s: float = 0.5, retries: int = 3) -> PumpClient:
    return PumpClient(
        url,
        key=DEMO_KEYS[Role.CLINICIAN],
        timeout_s=timeout_s,
        retries=retries,
        random_bytes=random.Random(5).randbytes,
    )


def test_facts_and_the_first_sample(world: tuple[Emulator, EmulatorEducatorBackend, str]) -> None:
    _, backend, _ = world
    facts = backend.facts
    assert (facts.serial, facts.model, facts.start_pump_s) == ("VP40-DEMO01", 40, T0)
    assert facts.dead_volume_nl == 486_000  # 200,000 nL of tubing + 110 cm x 2,600 nL/cm
    assert facts.max_rate_nl_per_day == 24_000_000
    s = backend.sample()
    assert s.pump_time_s == s.clock_s == T0
    assert s.speed == SpeedSetting.stopped()
    assert s.reservoir_nl == ml_to_nl(30)
    assert s.reservoir_concentration_ug_per_ml == s.tip_concentration_ug_per_ml == 2000
    assert s.patient_risk is PatientRisk.NORMAL
    assert s.withdrawal_below_ng_per_ml == pytest.approx(0.4 * s.reference_ng_per_ml)
    assert s.overdose_above_ng_per_ml == pytest.approx(2.0 * s.reference_ng_per_ml)
    assert s.faults.battery_permille == 700
    assert s.tone is None and s.alarms_active == ()
    assert s.patient_response_ng_per_ml == pytest.approx(s.patient_level_ng_per_ml)
    assert s.muscle_tone == pytest.approx(1.5)
    assert s.response_changes == ()


def test_a_dose_change_reaches_the_sample_with_its_milestones(
    world: tuple[Emulator, EmulatorEducatorBackend, str],
) -> None:
    _, backend, url = world
    with client(url) as pump:
        pump.program(m.PrescriptionSpec.simple(480 * 1000, concentration_ug_per_ml=2000))
    s = backend.step(HOUR_S)[-1]
    (change,) = s.response_changes
    assert change.at_s == T0
    assert change.to_ug_per_day == 480
    assert change.onset_at_s is not None and change.full_effect_at_s is not None
    assert 4 * HOUR_S <= change.onset_at_s - T0 <= 8 * HOUR_S
    assert 20 * HOUR_S <= change.full_effect_at_s - T0 <= 48 * HOUR_S
    assert change.start_response_ng_per_ml == pytest.approx(
        s.reference_ng_per_ml * 397.5 / 480, rel=0.01
    )
    assert change.final_response_ng_per_ml == pytest.approx(s.reference_ng_per_ml, rel=1e-3)
    assert s.patient_response_ng_per_ml is not None
    assert s.patient_response_ng_per_ml < s.patient_level_ng_per_ml


def test_steps_sample_inside_and_speed_round_trips(
    world: tuple[Emulator, EmulatorEducatorBackend, str],
) -> None:
    emulator, backend, _ = world
    samples = backend.step(DAY_S, samples=48)
    assert len(samples) == 48
    assert [s.pump_time_s - T0 for s in samples[:2]] == [1800, 3600]
    assert samples[-1].pump_time_s == T0 + DAY_S == backend.pump_time_s()
    assert samples[-1].reservoir_nl < samples[0].reservoir_nl
    assert samples[-1].delivered_to_patient_ug > 0
    backend.set_speed(SpeedSetting.running(10_000))
    assert backend.speed() == SpeedSetting.running(10_000)
    assert emulator.clock.snapshot().speed == 10_000
    backend.set_speed(SpeedSetting.stopped(10_000))
    assert backend.speed() == SpeedSetting.stopped(10_000)
    stopped_at = backend.pump_time_s()
    assert backend.step(HOUR_S)[-1].pump_time_s == stopped_at + HOUR_S
    for bad_seconds, bad_samples in ((0, 1), (HOUR_S, 0), (400 * DAY_S, 1)):
        with pytest.raises(EducatorValueError):
            backend.step(bad_seconds, samples=bad_samples)
    with pytest.raises(EducatorValueError):
        backend.set_speed("fast")  # type: ignore[arg-type]


def test_faults_on_and_off_show_in_the_sample(
    world: tuple[Emulator, EmulatorEducatorBackend, str],
) -> None:
    _, backend, _ = world
    backend.set_motor_stall(True)
    s = backend.sample()
    assert s.faults.motor_stall and AlarmCode.MOTOR_STALL in s.alarms_active
    assert not s.delivering
    assert s.tone is not None and s.tone.tones == 2  # critical: two tones
    backend.step(HOUR_S)
    backend.set_motor_stall(False)
    assert not backend.sample().faults.motor_stall
    backend.inject_memory_error(critical=False)
    assert backend.sample().faults.memory_error_non_critical
    backend.inject_memory_error(critical=True)
    s = backend.sample()
    assert s.faults.memory_error_critical and not s.delivering
    backend.set_battery_percent(12.5)
    assert backend.sample().faults.battery_permille == 125
    with pytest.raises(EducatorValueError):
        backend.set_battery_percent(101)
    with pytest.raises(EducatorValueError):
        backend.set_battery_percent(True)
    backend.set_link_noise(True)
    assert backend.sample().faults.link_noise
    assert backend.emulator.pumps[0].faults.settings.corrupt == LINK_NOISE_CORRUPT
    backend.set_link_noise(False)
    backend.set_link_dropped(True)
    s = backend.sample()
    assert s.faults.link_dropped and not s.faults.link_noise
    backend.set_link_dropped(False)
    assert not backend.sample().faults.link_dropped


def test_the_wire_feed_carries_a_real_session(
    world: tuple[Emulator, EmulatorEducatorBackend, str],
) -> None:
    _, backend, url = world
    received: list[WireChunk] = []
    lock = threading.Lock()

    def collect(chunk: WireChunk) -> None:
        with lock:
            received.append(chunk)

    backend.subscribe_wire(collect)
    backend.subscribe_wire(collect)  # twice is once
    with client(url) as pump:
        pump.status()
    backend.unsubscribe_wire(collect)
    with client(url) as pump:
        pump.status()
    with lock:
        mine = list(received)
    history = backend.wire_history()
    assert 0 < len(mine) < len(history)
    assert tuple(mine) == history[: len(mine)]
    assert {c.link for c in history} == {"pump0#1", "pump0#2"}
    entries = WireDecoder().feed_all(history)
    ops = [(e.direction, e.op_name) for e in entries]
    assert ops[:4] == [
        (WireDirection.TO_PUMP, "SESSION_OPEN"),
        (WireDirection.TO_PROGRAMMER, "SESSION_OPEN"),
        (WireDirection.TO_PUMP, "SESSION_AUTH"),
        (WireDirection.TO_PROGRAMMER, "SESSION_AUTH"),
    ]
    assert (WireDirection.TO_PROGRAMMER, "STATUS") in ops
    assert all(e.kind is not EntryKind.DROPPED for e in entries)
    backend.unsubscribe_wire(collect)  # not subscribed: no error


def test_link_faults_reach_the_programmer_and_the_inspector(
    world: tuple[Emulator, EmulatorEducatorBackend, str],
) -> None:
    _, backend, url = world
    with client(url, timeout_s=0.1, retries=8) as pump:
        backend.set_link_noise(True)
        for _ in range(6):
            pump.status()
        backend.set_link_noise(False)
        backend.set_link_dropped(True)
        pump.retries = 0
        with pytest.raises(LinkTimeout):
            pump.status()
        backend.set_link_dropped(False)
    entries = WireDecoder().feed_all(backend.wire_history())
    dropped = [e for e in entries if e.kind is EntryKind.DROPPED]
    assert dropped, "noise on the link shows as dropped bytes"
    assert all("dropped by the receiver" in e.summary for e in dropped)


def refill_to_500(url: str, *, bridge: bool) -> None:
    """Refill the demo pump (2000 mcg/mL) with 500 mcg/mL at the same doses."""
    with client(url) as pump:
        status = pump.status()
        running = pump.read_prescription().prescription
        pump.refill(
            removed_nl=status.reservoir_nl,
            added_nl=ml_to_nl(20),
            concentration_ug_per_ml=500,
            prescription=running.with_concentration(500),
            bridge=bridge,
        )


def test_without_a_bridge_the_old_drug_keeps_flowing_for_the_dead_volume(
    world: tuple[Emulator, EmulatorEducatorBackend, str],
) -> None:
    _, backend, url = world
    refill_to_500(url, bridge=False)
    s = backend.sample()
    assert (s.reservoir_concentration_ug_per_ml, s.tip_concentration_ug_per_ml) == (500, 2000)
    # The same mcg/day of 500 mcg/mL is 0.8 mL/day: the old 2000 mcg/mL drug reaches the
    # patient four times too strong until the 0.486 mL dead volume has gone (about 15 h).
    rate = s.tip_dose_rate_ug_per_day
    assert rate is not None and rate > 1500
    later = backend.step(DAY_S, samples=4)[-1]
    assert later.tip_concentration_ug_per_ml == 500 and later.old_drug_in_path_nl == 0


def test_with_the_bridge_the_patient_gets_the_prescribed_dose(
    world: tuple[Emulator, EmulatorEducatorBackend, str],
) -> None:
    _, backend, url = world
    refill_to_500(url, bridge=True)
    s = backend.sample()
    assert s.bolus_kind is BolusKind.NONE  # the bridge is not a bolus
    assert (s.reservoir_concentration_ug_per_ml, s.tip_concentration_ug_per_ml) == (500, 2000)
    rate = s.tip_dose_rate_ug_per_day
    assert rate is not None and 340 <= rate <= 430  # 350 or 425 mcg/day: the flex step
    # 0.486 mL of the old drug at about 0.2 mL/day: about 2.4 days.
    samples = backend.step(3 * DAY_S, samples=72)
    assert all(x.patient_risk is PatientRisk.NORMAL for x in samples)
    assert samples[-1].tip_concentration_ug_per_ml == 500


def test_the_bridge_lesson_compares_three_cases(
    world: tuple[Emulator, EmulatorEducatorBackend, str],
) -> None:
    _, backend, _ = world
    lesson = backend.bridge_comparison(
        old_concentration_ug_per_ml=500, new_concentration_ug_per_ml=2000
    )
    assert [c.kind for c in lesson.cases] == list(BridgeCaseKind)
    none = lesson.case(BridgeCaseKind.NO_BRIDGE)
    bridge = lesson.case(BridgeCaseKind.BRIDGE)
    push = lesson.case(BridgeCaseKind.MAX_RATE_PUSH)
    # The real bridge: the level stays in band throughout (about 100 %).
    assert lesson.withdrawal_percent <= bridge.min_percent <= bridge.max_percent
    assert bridge.max_percent <= lesson.overdose_percent
    assert bridge.min_percent >= 95 and bridge.max_percent <= 105
    assert bridge.in_band_hours == pytest.approx(96)
    # No bridge after a rise: a quarter of the dose for days, an underdose.
    assert none.min_percent < 40
    assert "UNDERDOSE" in lesson.summary(BridgeCaseKind.NO_BRIDGE)
    # A push: 0.486 mL of 500 mcg/mL (243 mcg) in under half an hour (then the new rate for
    # the rest of that hour), far over the band.
    assert 243 <= push.max_dose_ug_in_an_hour <= 260
    assert push.max_percent > lesson.overdose_percent
    assert "never a push" in lesson.summary(BridgeCaseKind.MAX_RATE_PUSH)
    assert lesson.bridge_duration_s > 0


def test_the_low_reservoir_alarm_sounds_once_its_forecast_is_reached(
    world: tuple[Emulator, EmulatorEducatorBackend, str],
) -> None:
    _, backend, _ = world
    s = backend.sample()
    assert s.low_reservoir_at_clock_s is not None
    backend.step(s.low_reservoir_at_clock_s - s.clock_s + 60, samples=10)
    s = backend.sample()
    assert AlarmCode.LOW_RESERVOIR in s.alarms_active
    assert s.tone is not None
    assert (s.tone.tones, s.tone.duration_s, s.tone.repeat_s) == (1, 1, 3600)
    assert s.reservoir_nl <= s.alarm_volume_nl
