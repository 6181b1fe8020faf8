"""PumpSnapshot: the reads against the in-process pump, and the derived figures.

``make_snapshot`` builds a snapshot from plain values for the other core tests.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from emulator.presets import PRESETS
from programmer_gui.core import PumpDataError
from programmer_gui.core.forecast import SECONDS_PER_DAY, daily_volume_nl, weekday_of
from programmer_gui.core.snapshot import PumpSnapshot
from protocol import messages as m
from protocol.enums import ALARM_CLASS, AlarmCode, BolusKind, Role
from protocol.units import dose_to_rate_nl_per_day
from tests.support import T0, inproc_pump

DEMO_FLEX = m.PrescriptionSpec.flex(
    [
        m.FlexStep(start_min=0, rate_nl_per_day=dose_to_rate_nl_per_day(350, 2000)),
        m.FlexStep(start_min=7 * 60, rate_nl_per_day=dose_to_rate_nl_per_day(425, 2000)),
        m.FlexStep(start_min=22 * 60, rate_nl_per_day=dose_to_rate_nl_per_day(350, 2000)),
    ]
)
"""The demo preset's flex profile: about 397 mcg/day at 2000 mcg/mL."""


def make_device(model: int = 20) -> m.DeviceInfoResponse:
    """DEVICE_INFO of a model with the default profile's limits."""
    return m.DeviceInfoResponse(
        model=model,
        serial=f"VP{model}-TEST",
        firmware_version="1.0.0",
        capacity_nl=model * 1_000_000,
        protocol_version=1,
        min_rate_nl_per_day=48_000,
        max_rate_nl_per_day=24_000_000,
        minimum_mode_rate_nl_per_day=6_000,
        empty_threshold_nl=1_000_000,
        tubing_volume_nl=200_000,
        catheter_volume_nl_per_cm=2_600,
    )


def make_snapshot(
    *,
    model: int = 20,
    prescription: m.PrescriptionSpec | None = None,
    concentration_ug_per_ml: int = 500,
    reservoir_nl: int = 20_000_000,
    alarm_volume_nl: int = 2_000_000,
    clock_s: int = T0,
    wall_s: float | None = None,
    delivering: bool = True,
    alarms: tuple[AlarmCode, ...] = (),
    bolus: tuple[BolusKind, int, int] | None = None,
    patient_settings: m.ReadPatientSettingsResponse | None = None,
    role: Role = Role.CLINICIAN,
) -> PumpSnapshot:
    """A snapshot from plain values (default: the domain's 20 mL, 500 mcg/mL, 100 mcg/day)."""
    spec = prescription or m.PrescriptionSpec.simple(200_000)
    device = make_device(model)
    volume = daily_volume_nl(
        spec,
        weekday_of(clock_s),
        minimum_mode_rate_nl_per_day=device.minimum_mode_rate_nl_per_day,
    )
    kind, remaining, ends = bolus if bolus is not None else (BolusKind.NONE, 0, None)
    status = m.StatusResponse(
        clock_s=clock_s,
        mode=spec.mode,
        bolus_kind=kind,
        bolus_remaining_nl=remaining,
        bolus_ends_at_s=ends,
        current_rate_nl_per_day=0,
        daily_volume_nl=int(volume),
        concentration_ug_per_ml=concentration_ug_per_ml,
        reservoir_nl=reservoir_nl,
        capacity_nl=device.capacity_nl,
        alarm_volume_nl=alarm_volume_nl,
        alarms_active=frozenset(alarms),
        alarms_silenced=frozenset(),
        low_reservoir_alarm_at_s=None,
        empty_at_s=None,
        battery_permille=900,
        eri_at_s=None,
        prescription_checksum=m.prescription_checksum(spec),
        delivering=delivering,
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
    )


def test_read_interrogates_the_pump_worked_example() -> None:
    # domain.md: 20 mL at 500 mcg/mL, 100 mcg/day (0.2 mL/day).
    with inproc_pump(PRESETS["default"]) as pump, pump.client() as client:
        snap = PumpSnapshot.read(client, wall_s=T0 - 30.0)
    assert snap.prescription == m.PrescriptionSpec.simple(200_000)
    assert snap.dose_ug_per_day == 100
    assert snap.rate_ml_per_day == Fraction(1, 5)
    assert snap.concentration_ug_per_ml == 500
    assert snap.reservoir_ml == 20
    assert snap.capacity_ml == 20
    assert snap.alarm_volume_ml == 2
    assert snap.pump_clock_s == T0
    assert snap.clock_offset_s == 30.0  # the pump is 30 s ahead of the programmer
    assert snap.wall_s_at(T0 + 100) == T0 + 70.0
    assert snap.critical_alarms == () and snap.noncritical_alarms == ()
    assert snap.patient_settings is not None and not snap.patient_settings.enabled
    assert snap.role is Role.CLINICIAN
    assert not snap.halted and not snap.bolus_running


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
    days = [[m.FlexStep(start_min=0, rate_nl_per_day=100_000 * (d + 1))] for d in range(7)]
    spec = m.PrescriptionSpec.flex_weekly(days)
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
            prescription=m.PrescriptionSpec.simple(300_000),
            alarms=(),
            patient_settings=None,
            read_at_wall_s=0.0,
        )


def test_zero_concentration_is_the_pumps_fault() -> None:
    snap = make_snapshot(concentration_ug_per_ml=0)
    with pytest.raises(PumpDataError, match="0 mcg/mL"):
        _ = snap.dose_ug_per_day


def test_reservoir_fraction_for_a_gauge() -> None:
    assert make_snapshot(reservoir_nl=5_000_000).reservoir_fraction == Fraction(1, 4)
