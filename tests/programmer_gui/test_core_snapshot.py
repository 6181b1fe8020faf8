"""PumpSnapshot: the reads against the in-process pump, and the derived figures.

``make_snapshot`` builds a snapshot from plain values for the other core tests.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from emulator.presets import PRESETS
from firmware_model.profile import profile_for
from programmer_gui.core import PumpDataError
from programmer_gui.core.dates import SECONDS_PER_DAY, weekday_of
from programmer_gui.core.snapshot import PumpSnapshot
from protocol import messages as m
from protocol.enums import ALARM_CLASS, AlarmCode, BolusKind, Mode, Origin, Role, StopReason
from protocol.forecast import dates_from_status
from protocol.schedule import compile_schedule, daily_dose_ng
from tests.support import T0, inproc_pump

HALTING = frozenset(
    {AlarmCode.EMPTY_RESERVOIR, AlarmCode.EOS, AlarmCode.MOTOR_STALL, AlarmCode.MEMORY_CRITICAL}
)
EMPTY_IMPLANT = m.ImplantFields(
    catheter_model="",
    catheter_volume_nl_per_cm=1,
    catheter_length_mm=1,
    catheter_length_uncertainty_mm=0,
    implanted_at_s=None,
    patient_id="",
    origin=Origin.UNKNOWN,
    physician="",
)

DEMO_FLEX = m.PrescriptionSpec.flex(
    [
        m.FlexStep(start_min=0, dose_ng_per_day=350_000),
        m.FlexStep(start_min=7 * 60, dose_ng_per_day=425_000),
        m.FlexStep(start_min=22 * 60, dose_ng_per_day=350_000),
    ],
    concentration_ug_per_ml=2000,
)
"""The demo preset's flex profile: about 397 mcg/day of 2000 mcg/mL."""

SIMPLE_100 = m.PrescriptionSpec.simple(100_000, concentration_ug_per_ml=500)
"""domain.md's worked example: 100 mcg/day of 500 mcg/mL (0.2 mL/day)."""

IMPLANT_110 = m.ImplantFields(
    catheter_model="IT-8709SC",
    catheter_volume_nl_per_cm=2_600,
    catheter_length_mm=1_100,
    catheter_length_uncertainty_mm=0,
    implanted_at_s=None,
    patient_id="TEST-01",
    origin=Origin.SPINAL,
    physician="",
)


def make_device(model: int = 20) -> m.DeviceInfoResponse:
    """DEVICE_INFO of a model with its firmware profile's limits and battery constants."""
    profile = profile_for(model)
    return m.DeviceInfoResponse(
        model=model,
        serial=f"VP{model}-TEST",
        firmware_version="1.0.0",
        capacity_nl=model * 1_000_000,
        protocol_version=1,
        min_rate_nl_per_day=profile.min_rate_nl_per_day,
        max_rate_nl_per_day=profile.max_rate_nl_per_day,
        minimum_mode_rate_nl_per_day=profile.minimum_rate_mode_nl_per_day,
        empty_threshold_nl=profile.empty_threshold_nl,
        tubing_volume_nl=profile.internal_tubing_volume_nl,
        catheter_volume_nl_per_cm=profile.catheter_volume_nl_per_cm,
        battery_capacity_uc=profile.battery_capacity_uc,
        battery_quiescent_drain_uc_per_s=profile.battery_quiescent_drain_uc_per_s,
        battery_drain_uc_per_nl=profile.battery_drain_uc_per_nl,
        battery_telemetry_drain_uc_per_s=profile.battery_telemetry_drain_uc_per_s,
        telemetry_s_per_frame=1,
        eri_lead_s=profile.eri_lead_s,
        forecast_horizon_s=profile.forecast_horizon_s,
        min_bolus_volume_nl=profile.min_bolus_volume_nl,
        max_bolus_duration_s=profile.max_bolus_duration_s,
    )


def make_snapshot(
    *,
    model: int = 20,
    prescription: m.PrescriptionSpec | None = None,
    concentration_ug_per_ml: int | None = None,
    reservoir_nl: int = 20_000_000,
    alarm_volume_nl: int = 2_000_000,
    clock_s: int = T0,
    wall_s: float | None = None,
    delivering: bool = True,
    alarms: tuple[AlarmCode, ...] = (),
    bolus: tuple[BolusKind, int, int] | None = None,
    patient_settings: m.ReadPatientSettingsResponse | None = None,
    role: Role = Role.CLINICIAN,
    implant: m.ImplantFields | None = IMPLANT_110,
    stop_reason: StopReason = StopReason.NONE,
    bridge: tuple[int, int] | None = None,
) -> PumpSnapshot:
    """A snapshot from plain values (default: the domain's 20 mL, 500 mcg/mL, 100 mcg/day,
    with a 110 cm implant record). The dates are the pump's maths on these values.
    ``bridge``: (remaining nL, old concentration). ``delivering`` False without a stop
    reason or a halting alarm is a STOPPED prescription's state."""
    spec = prescription or SIMPLE_100
    conc = (
        spec.concentration_ug_per_ml
        if concentration_ug_per_ml is None
        else (concentration_ug_per_ml)
    )
    spec = spec.with_concentration(conc)
    device = make_device(model)
    rate_conc = conc if bridge is None else bridge[1]
    schedule = compile_schedule(
        spec,
        concentration_ug_per_ml=rate_conc,
        minimum_mode_rate_nl_per_day=device.minimum_mode_rate_nl_per_day,
    )
    day = weekday_of(clock_s)
    minimum = device.minimum_mode_rate_nl_per_day
    volume = schedule.daily_volume_nl(day)
    halting = frozenset(a for a in alarms if a in HALTING)
    stopped = stop_reason is not StopReason.NONE or spec.mode is Mode.STOPPED
    moving = delivering and not halting and not stopped
    kind, remaining, ends = bolus if bolus is not None else (BolusKind.NONE, 0, None)
    status = m.StatusResponse(
        clock_s=clock_s,
        mode=Mode.STOPPED if stopped else spec.mode,
        stop_reason=stop_reason,
        delivering=moving,
        halted_by=halting,
        bolus_kind=kind,
        bolus_dose_ng=0,
        bolus_volume_nl=remaining,
        bolus_duration_s=0 if ends is None else max(ends - clock_s, 1),
        bolus_started_at_s=None if ends is None else clock_s,
        bolus_remaining_nl=remaining,
        bolus_ends_at_s=ends,
        basal_rate_nl_per_day=schedule.rate_at(clock_s),
        current_rate_nl_per_day=schedule.rate_at(clock_s) if moving else 0,
        daily_dose_ng=int(daily_dose_ng(spec, day, minimum_mode_rate_nl_per_day=minimum)),
        daily_volume_nl=int(volume),
        concentration_ug_per_ml=conc,
        bridge_remaining_nl=0 if bridge is None else bridge[0],
        bridge_concentration_ug_per_ml=0 if bridge is None else bridge[1],
        bridge_ends_at_s=None,
        basal_remainder=0,
        reservoir_nl=reservoir_nl,
        capacity_nl=device.capacity_nl,
        alarm_volume_nl=alarm_volume_nl,
        alarms_active=frozenset(alarms),
        alarms_silenced=frozenset(),
        low_reservoir_alarm_at_s=None,
        empty_at_s=None,
        battery_permille=900,
        battery_uc=device.battery_capacity_uc * 9 // 10,
        eri_at_s=None,
        prescription_checksum=m.prescription_checksum(spec),
        recent_doses=(),
    )
    patient = patient_settings or m.ReadPatientSettingsResponse(
        enabled=False, dose_ng=0, duration_s=0, lockout_s=0, max_per_24h=0
    )
    dates = dates_from_status(status, prescription=spec, patient=patient, info=device)
    status = dataclasses.replace(
        status,
        low_reservoir_alarm_at_s=dates.low_reservoir_at_s,
        empty_at_s=dates.empty_at_s,
        eri_at_s=dates.eri_at_s,
        bridge_ends_at_s=dates.bridge_ends_at_s,
    )
    records = tuple(
        m.AlarmRecord(
            code=code,
            alarm_class=ALARM_CLASS[code],
            raised_at_s=clock_s,
            silenced=False,
            condition_present=True,
        )
        for code in alarms
    )
    return PumpSnapshot(
        device=device,
        status=status,
        prescription=None if role is Role.PATIENT else spec,
        alarms=records,
        patient_settings=patient_settings,
        read_at_wall_s=float(clock_s) if wall_s is None else wall_s,
        role=role,
        implant=None
        if role is Role.PATIENT
        else m.ReadImplantResponse(
            recorded=implant is not None,
            implant=implant or EMPTY_IMPLANT,
            concentration_ug_per_ml=conc,
            drug_lot="",
            last_refill_at_s=None,
        ),
    )


def test_read_interrogates_the_pump_worked_example() -> None:
    # domain.md: 20 mL at 500 mcg/mL, 100 mcg/day (0.2 mL/day).
    with inproc_pump(PRESETS["default"]) as pump, pump.client() as client:
        snap = PumpSnapshot.read(client, wall_s=T0 - 30.0)
    assert snap.prescription == SIMPLE_100
    assert snap.dose_ug_per_day == 100
    assert snap.daily_volume_nl == 200_000  # 0.2 mL/day
    assert snap.concentration_ug_per_ml == 500
    assert snap.reservoir_ml == 20
    assert snap.capacity_ml == 20
    assert snap.alarm_volume_ml == 2
    assert snap.pump_clock_s == T0
    assert snap.clock_offset_s == 30.0  # the pump is 30 s ahead of the programmer
    assert snap.critical_alarms == () and snap.noncritical_alarms == ()
    assert snap.patient_settings is not None and not snap.patient_settings.enabled
    assert snap.role is Role.CLINICIAN
    assert not snap.halted and not snap.bolus_running
    assert snap.implant_record is not None and snap.implant_record.catheter_length_mm == 1100
    assert not snap.simulated and not snap.bridging and not snap.stopped


def test_a_patient_session_reads_no_prescription() -> None:
    with inproc_pump(PRESETS["default"]) as pump, pump.client(Role.PATIENT) as client:
        snap = PumpSnapshot.read(client, wall_s=float(T0))
    assert snap.prescription is None
    assert snap.role is Role.PATIENT
    assert snap.patient_settings is not None
    # Without the prescription the dose comes from the status's 24-h volume.
    assert snap.dose_ug_per_day == 100
    with pytest.raises(PumpDataError, match="clinician"):
        snap.require_prescription()


def test_flex_dose_is_weighted_by_step_durations() -> None:
    snap = make_snapshot(model=40, prescription=DEMO_FLEX, concentration_ug_per_ml=2000)
    # (350 x 7 h + 425 x 15 h + 350 x 2 h) / 24 h
    assert snap.dose_ug_per_day == Fraction(350 * 7 + 425 * 15 + 350 * 2, 24)
    assert snap.dose_ug_per_day == Fraction(396875, 1000)


def test_weekly_flex_dose_is_the_pump_days() -> None:
    days = [[m.FlexStep(start_min=0, dose_ng_per_day=50_000 * (d + 1))] for d in range(7)]
    spec = m.PrescriptionSpec.flex_weekly(days, concentration_ug_per_ml=500)
    monday = make_snapshot(prescription=spec, clock_s=T0)  # T0 is a Monday (UTC)
    tuesday = make_snapshot(prescription=spec, clock_s=T0 + SECONDS_PER_DAY)
    assert (monday.weekday, tuesday.weekday) == (0, 1)
    assert monday.dose_ug_per_day == 50 and tuesday.dose_ug_per_day == 100


def test_alarms_split_by_class_and_halting() -> None:
    snap = make_snapshot(
        alarms=(AlarmCode.LOW_RESERVOIR, AlarmCode.EMPTY_RESERVOIR), delivering=False
    )
    assert [a.code for a in snap.critical_alarms] == [AlarmCode.EMPTY_RESERVOIR]
    assert [a.code for a in snap.noncritical_alarms] == [AlarmCode.LOW_RESERVOIR]
    assert snap.halted
    assert snap.alarm_codes == {AlarmCode.LOW_RESERVOIR, AlarmCode.EMPTY_RESERVOIR}


def test_a_prescription_that_does_not_match_the_status_is_refused() -> None:
    snap = make_snapshot()
    with pytest.raises(PumpDataError, match="checksum"):
        PumpSnapshot(
            device=snap.device,
            status=snap.status,
            prescription=m.PrescriptionSpec.simple(150_000, concentration_ug_per_ml=500),
            alarms=(),
            patient_settings=None,
            read_at_wall_s=0.0,
        )


def test_during_a_bridge_rates_are_at_the_old_drug_and_the_dose_is_unchanged() -> None:
    # 500 -> 2000 mcg/mL with 100 mcg/day: the bridge runs 0.2 mL/day of the old drug.
    snap = make_snapshot(concentration_ug_per_ml=2000, bridge=(330_000, 500))
    assert snap.bridging
    assert snap.rate_concentration_ug_per_ml == 500
    assert snap.dose_ug_per_day == 100
    assert snap.daily_volume_nl == 200_000
    # 0.33 mL at 0.2 mL/day: 1.65 days (domain.md), from the pump's own forecast.
    assert snap.status.bridge_ends_at_s == T0 + 142_560


def test_stopped_by_stop_pump_or_by_a_stopped_prescription() -> None:
    by_stop = make_snapshot(stop_reason=StopReason.MRI)
    assert by_stop.stopped and by_stop.stopped_by_stop_pump
    assert not by_stop.status.delivering
    programmed = make_snapshot(prescription=m.PrescriptionSpec.stopped(concentration_ug_per_ml=500))
    assert programmed.stopped and not programmed.stopped_by_stop_pump
