"""The programmer's dates are the pump's STATUS dates, to the second, by construction.

The programmer has no schedule maths of its own: every date comes from
``protocol.forecast.dates_from_status`` (through ``programmer_gui.core.dates``),
which the pump uses too. These tests read real STATUS messages (an in-process
pump over the wire, and the firmware model's own telemetry handler for the
property test) and check the core's forecast against them exactly, with patient
doses at their maximum and during a bridge; then a pending refill's forecast
against the STATUS the pump reports once the refill is committed.
"""

from __future__ import annotations

import random
from datetime import UTC

from hypothesis import given
from hypothesis import strategies as st

from emulator.presets import flex_ug, simple_ug
from firmware_model.prescription import PatientDoseSettings
from firmware_model.profile import profile_for
from firmware_model.pump import Pump, RefillOrder
from firmware_model.telemetry import PumpTelemetry, TelemetryLink
from programmer_gui.core.dates import (
    SECONDS_PER_DAY,
    forecast,
    format_in_days,
    format_pump_date,
)
from programmer_gui.core.dose import DoseChange
from programmer_gui.core.refill import RefillWorkflow
from programmer_gui.core.snapshot import PumpSnapshot
from protocol import messages as m
from protocol.enums import Role
from protocol.keys import DEMO_KEY_FILE, load_keys
from protocol.session import DeviceSecurity
from protocol.units import format_duration
from tests.programmer_gui.pump_support import connected
from tests.programmer_gui.test_core_snapshot import IMPLANT_110, make_snapshot
from tests.support import T0

DAY = SECONDS_PER_DAY


def dates_of(status: m.StatusResponse) -> tuple[int | None, ...]:
    return (
        status.low_reservoir_alarm_at_s,
        status.empty_at_s,
        status.eri_at_s,
        status.bridge_ends_at_s,
    )


def core_dates(snapshot: PumpSnapshot) -> tuple[int | None, ...]:
    f = forecast(snapshot)
    return (f.low_reservoir_alarm_at_s, f.empty_at_s, f.eri_at_s, f.bridge_ends_at_s)


def test_the_core_dates_are_the_status_dates_of_a_running_pump() -> None:
    with connected("demo") as pump:
        pump.advance_days(3.3)
        snapshot = pump.snapshot()
        assert core_dates(snapshot) == dates_of(snapshot.status)
        assert snapshot.status.eri_at_s is not None  # the demo battery is at 70 %


def test_with_patient_doses_at_their_maximum() -> None:
    with connected("default") as pump:
        pump.client.set_patient_settings(
            enabled=True, dose_ng=25_000, duration_s=600, lockout_s=3 * 3600, max_per_24h=4
        )
        pump.advance_days(0.25)
        with pump.pump.client(Role.PATIENT) as patient:
            patient.patient_dose()
        pump.advance_days(0.05)
        snapshot = pump.snapshot()
        assert snapshot.patient_settings is not None and snapshot.patient_settings.enabled
        assert core_dates(snapshot) == dates_of(snapshot.status)
        # The doses bring the alarm forward from day 90 (0.2 mL/day of 18 mL).
        low = snapshot.status.low_reservoir_alarm_at_s
        assert low is not None and low < T0 + 90 * DAY


def test_during_a_bridge_and_for_the_pending_refill() -> None:
    # default: 20 mL of 500 mcg/mL, 100 mcg/day; 110 cm catheter (0.486 mL with the tubing).
    with connected("default") as pump:
        pump.advance_days(10)
        before = pump.snapshot()
        workflow = RefillWorkflow(before)
        review = workflow.review(
            removed_text="18", added_text="10", concentration=2000, bridge_accepted=True
        )
        assert review.current_daily_dose_text == "100 mcg/day"
        assert review.pending_daily_dose_text == "100 mcg/day"
        pending = review.forecast
        assert pending is not None
        review.action.run(pump.client)
        after = pump.snapshot()
        assert after.bridging
        # The pending refill's forecast is the pump's STATUS after the commit, to the second.
        assert (
            pending.low_reservoir_alarm_at_s,
            pending.empty_at_s,
            pending.bridge_ends_at_s,
        ) == (
            after.status.low_reservoir_alarm_at_s,
            after.status.empty_at_s,
            after.status.bridge_ends_at_s,
        )
        # 0.486 mL of 500 mcg/mL at 100 mcg/day (0.2 mL/day): 2.43 days.
        assert after.status.bridge_ends_at_s == after.status.clock_s + 209_952
        pump.advance_days(1)
        during = pump.snapshot()
        assert during.bridging
        assert core_dates(during) == dates_of(during.status)


# --- the property: random prescriptions, refills, patient doses and times -----------------

KEYS = load_keys(DEMO_KEY_FILE)


def status_of(pump: Pump, t: int) -> m.StatusResponse:
    """The STATUS the firmware model's telemetry answers at model second ``t``."""
    head = PumpTelemetry(pump, DeviceSecurity(keys=KEYS, random_bytes=random.Random(1).randbytes))
    pump.advance_to(t)
    answer = TelemetryLink(head)._status(m.StatusRequest(), t)
    assert isinstance(answer, m.StatusResponse)
    return answer


def info_of(model: int) -> m.DeviceInfoResponse:
    from tests.programmer_gui.test_core_snapshot import make_device  # noqa: PLC0415

    return make_device(model)


doses = st.integers(min_value=100, max_value=900)
concentrations = st.sampled_from((500, 1000, 2000))


@st.composite
def prescriptions(draw: st.DrawFn, conc: int) -> m.PrescriptionSpec:
    if draw(st.booleans()):
        return simple_ug(draw(doses), conc)
    starts = sorted(set(draw(st.lists(st.integers(1, 95), max_size=4))))
    steps = [(0, draw(doses))] + [(s * 15, draw(doses)) for s in starts]
    return flex_ug(tuple(steps), conc)


@given(
    conc=concentrations,
    new_conc=concentrations,
    data=st.data(),
    patient=st.booleans(),
    bridge=st.booleans(),
    first_s=st.integers(0, 20 * DAY),
    later_s=st.integers(0, 5 * DAY),
)
def test_property_the_core_forecast_equals_the_pump_status(  # noqa: PLR0917
    conc: int,
    new_conc: int,
    data: st.DataObject,
    patient: bool,
    bridge: bool,
    first_s: int,
    later_s: int,
) -> None:
    spec = data.draw(prescriptions(conc))
    profile = profile_for(20)
    pump = Pump.new(
        profile=profile,
        serial="PROP-1",
        t=T0,
        reservoir_nl=18_000_000,
        concentration_ug_per_ml=conc,
        prescription=spec,
        implant=IMPLANT_110,
    )
    if patient:
        pump.set_patient_settings(
            T0,
            PatientDoseSettings(
                enabled=True, dose_ng=20_000, duration_s=900, lockout_s=4 * 3600, max_per_24h=3
            ),
        )
    t = T0 + first_s
    new_spec = data.draw(prescriptions(new_conc))
    pump.advance_to(t)
    pump.refill(
        t,
        RefillOrder(
            removed_nl=pump.estimated_reservoir_nl,
            added_nl=15_000_000,
            concentration_ug_per_ml=new_conc,
            prescription=new_spec,
            bridge=bridge and new_conc != conc,
        ),
    )
    if patient:
        pump.request_patient_dose(t + 60)
    status = status_of(pump, t + 60 + later_s)
    snapshot = PumpSnapshot(
        device=info_of(20),
        status=status,
        prescription=new_spec,
        alarms=(),
        patient_settings=m.ReadPatientSettingsResponse(
            enabled=patient,
            dose_ng=20_000 if patient else 0,
            duration_s=900 if patient else 0,
            lockout_s=4 * 3600 if patient else 0,
            max_per_24h=3 if patient else 0,
        ),
        read_at_wall_s=float(status.clock_s),
    )
    assert core_dates(snapshot) == dates_of(status)


# --- showing dates ---------------------------------------------------------------------------


def test_dates_are_shown_on_the_pump_clock_whatever_the_programmer_clock() -> None:
    # The programmer's clock is two days behind: the dates are still the pump's.
    snapshot = make_snapshot(wall_s=float(T0 - 2 * DAY))
    text = format_pump_date(snapshot, T0 + 90 * DAY, tz=UTC)
    assert text == "2026-12-20 14:13 (in 90 days)"
    assert format_pump_date(snapshot, T0, tz=UTC).endswith("(now)")
    assert format_pump_date(snapshot, None) == "not within 10 years"


def test_in_days_and_durations() -> None:
    assert format_in_days(T0 + 1.5 * DAY, now_s=T0) == "in 1 day"
    assert format_in_days(T0 - 2 * DAY, now_s=T0) == "2 days ago"
    assert format_duration(142_560) == "1 d 15 h 36 min"
    assert format_duration(88_560) == "1 d 36 min"
    assert format_duration(88_590) == "1 d 36 min"  # to the minute from an hour up
    assert format_duration(45) == "45 s"


@given(
    conc=concentrations,
    new_conc=concentrations,
    data=st.data(),
    bridge=st.booleans(),
    first_s=st.integers(0, 30 * DAY),
)
def test_property_a_pending_refill_forecast_is_the_status_after_the_commit(
    conc: int, new_conc: int, data: st.DataObject, bridge: bool, first_s: int
) -> None:
    """The review's dates of a refill (any prescription, the same dose at any new
    concentration, with or without the bridge) are the pump's STATUS dates once committed."""
    spec = data.draw(prescriptions(conc))
    pump = Pump.new(
        profile=profile_for(20),
        serial="PROP-2",
        t=T0,
        reservoir_nl=18_000_000,
        concentration_ug_per_ml=conc,
        prescription=spec,
        implant=IMPLANT_110,
    )
    t = T0 + first_s
    before = status_of(pump, t)
    snapshot = PumpSnapshot(
        device=info_of(20),
        status=before,
        prescription=spec,
        alarms=(),
        patient_settings=None,
        read_at_wall_s=float(before.clock_s),
        implant=m.ReadImplantResponse(
            recorded=True,
            implant=IMPLANT_110,
            concentration_ug_per_ml=conc,
            drug_lot="",
            last_refill_at_s=None,
        ),
    )
    removed_ml = before.reservoir_nl // 10_000 / 100  # what a syringe reads, 0.01 mL
    review = RefillWorkflow(snapshot).review(
        removed_text=f"{removed_ml:.2f}",
        added_text="15",
        concentration=new_conc,
        bridge_accepted=bridge,
    )
    pending = review.forecast
    assert pending is not None
    pump.refill(
        t,
        RefillOrder(
            removed_nl=round(removed_ml * 1_000_000),
            added_nl=15_000_000,
            concentration_ug_per_ml=new_conc,
            prescription=spec.with_concentration(new_conc),
            bridge=bridge and new_conc != conc,
        ),
    )
    after = status_of(pump, t)
    assert (
        pending.low_reservoir_alarm_at_s,
        pending.empty_at_s,
        pending.eri_at_s,
        pending.bridge_ends_at_s,
    ) == dates_of(after)


@given(conc=concentrations, data=st.data(), new_dose=doses, first_s=st.integers(0, 30 * DAY))
def test_property_a_pending_dose_forecast_is_the_status_after_programming(
    conc: int, data: st.DataObject, new_dose: int, first_s: int
) -> None:
    spec = data.draw(prescriptions(conc))
    pump = Pump.new(
        profile=profile_for(20),
        serial="PROP-3",
        t=T0,
        reservoir_nl=18_000_000,
        concentration_ug_per_ml=conc,
        prescription=spec,
        implant=IMPLANT_110,
    )
    t = T0 + first_s
    before = status_of(pump, t)
    snapshot = PumpSnapshot(
        device=info_of(20),
        status=before,
        prescription=spec,
        alarms=(),
        patient_settings=None,
        read_at_wall_s=float(before.clock_s),
    )
    preview = DoseChange(snapshot).preview(str(new_dose))
    pump.program(t, preview.prescription)
    after = status_of(pump, t)
    f = preview.forecast
    assert (f.low_reservoir_alarm_at_s, f.empty_at_s, f.eri_at_s, f.bridge_ends_at_s) == (
        dates_of(after)
    )
    assert preview.prescription.concentration_ug_per_ml == conc  # never another drug
