"""The programmer's dates equal the pump's, by construction: a property over random
prescriptions, refills (with and without the bridge), boluses, patient doses and times.

The pump answers STATUS with its cached, event-driven forecasts; the programmer runs
:func:`protocol.forecast.dates_from_status` on that one STATUS (with READ_PRESCRIPTION,
READ_PATIENT_SETTINGS and DEVICE_INFO). They must agree to the second.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_model import nvm
from firmware_model.delivery import BridgeState
from firmware_model.errors import CorruptImageError, OutOfRangeError, RequestError
from firmware_model.prescription import PatientDoseSettings
from firmware_model.profile import PROFILES
from firmware_model.pump import Pump, RefillOrder
from firmware_model.telemetry import PumpTelemetry
from protocol import messages as m
from protocol.enums import EventCode, Origin, Role
from protocol.forecast import dates_from_status
from protocol.session import DeviceSecurity

CLOCK0 = 1_704_067_200  # Monday 2024-01-01 00:00 UTC
HOUR = 3_600
DAY = 86_400
CONCENTRATIONS = (500, 1000, 2000)


def _implant(length_mm: int, uncertainty_mm: int) -> m.ImplantFields:
    return m.ImplantFields(
        catheter_model="ITB-1",
        catheter_volume_nl_per_cm=2_600,
        catheter_length_mm=length_mm,
        catheter_length_uncertainty_mm=uncertainty_mm,
        implanted_at_s=None,
        patient_id="",
        origin=Origin.UNKNOWN,
        physician="",
    )


@st.composite
def prescriptions(draw: st.DrawFn, concentration: int) -> m.PrescriptionSpec:
    # Doses from 100 to 900 mcg/day keep every rate within 0.048..24 mL/day at these drugs.
    doses = st.integers(100_000, 900_000)
    kind = draw(st.sampled_from(("simple", "flex", "weekly", "minimum")))
    if kind == "simple":
        return m.PrescriptionSpec.simple(draw(doses), concentration_ug_per_ml=concentration)
    if kind == "minimum":
        return m.PrescriptionSpec.minimum_rate(concentration_ug_per_ml=concentration)

    def day() -> tuple[m.FlexStep, ...]:
        starts = draw(st.lists(st.integers(1, 95), max_size=4, unique=True))
        return tuple(
            m.FlexStep(start_min=start, dose_ng_per_day=draw(doses))
            for start in [0, *sorted(s * 15 for s in starts)]
        )

    if kind == "flex":
        return m.PrescriptionSpec.flex(day(), concentration_ug_per_ml=concentration)
    return m.PrescriptionSpec.flex_weekly(
        [day() for _ in range(7)], concentration_ug_per_ml=concentration
    )


def _dates_agree(pump: Pump, t: int) -> None:
    head = PumpTelemetry(
        pump,
        DeviceSecurity(
            keys={Role.CLINICIAN: b"c" * 32, Role.PATIENT: b"p" * 32},
            random_bytes=random.Random(1).randbytes,
        ),
    )
    link = head.open_link()
    pump.advance_to(t)
    status = link._status(m.StatusRequest(), t)
    info = link._device_info(m.DeviceInfoRequest(), t)
    patient = link._read_patient_settings(m.ReadPatientSettingsRequest(), t)
    assert isinstance(status, m.StatusResponse)
    assert isinstance(info, m.DeviceInfoResponse)
    assert isinstance(patient, m.ReadPatientSettingsResponse)
    dates = dates_from_status(status, prescription=pump.prescription, patient=patient, info=info)
    assert (dates.low_reservoir_at_s, dates.empty_at_s, dates.eri_at_s, dates.bridge_ends_at_s) == (
        status.low_reservoir_alarm_at_s,
        status.empty_at_s,
        status.eri_at_s,
        status.bridge_ends_at_s,
    )


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.data())
def test_the_programmer_dates_equal_the_pump_dates(data: st.DataObject) -> None:
    old = data.draw(st.sampled_from(CONCENTRATIONS))
    profile = PROFILES[data.draw(st.sampled_from((20, 40)))]
    pump = Pump.new(
        profile=profile,
        serial="VP-PROP",
        t=0,
        reservoir_nl=data.draw(st.integers(3_000_000, profile.capacity_nl)),
        concentration_ug_per_ml=old,
        prescription=data.draw(prescriptions(old)),
        battery_permille=data.draw(st.integers(20, 1000)),
        clock_offset_s=CLOCK0 + data.draw(st.integers(0, 7 * DAY)),
        implant=_implant(data.draw(st.integers(300, 1_500)), data.draw(st.integers(0, 100))),
    )
    t = data.draw(st.integers(0, 3 * DAY))
    if data.draw(st.booleans()):
        pump.set_patient_settings(
            t,
            PatientDoseSettings(
                enabled=True,
                dose_ng=data.draw(st.integers(10_000, 50_000)),
                duration_s=data.draw(st.integers(300, 1_800)),
                lockout_s=data.draw(st.integers(2 * HOUR, 8 * HOUR)),
                max_per_24h=data.draw(st.integers(1, 6)),
            ),
        )
        if data.draw(st.booleans()):
            with contextlib.suppress(RequestError):
                pump.request_patient_dose(t)  # refused when the reservoir is too low
    t += data.draw(st.integers(0, DAY))
    new = data.draw(st.sampled_from(CONCENTRATIONS))
    bridge = new != old and data.draw(st.booleans())
    pump.refill(
        t,
        RefillOrder(
            removed_nl=pump.estimated_reservoir_nl,
            added_nl=data.draw(st.integers(5_000_000, profile.capacity_nl)),
            concentration_ug_per_ml=new,
            prescription=data.draw(prescriptions(new)),
            bridge=bridge,
        ),
    )
    _dates_agree(pump, t)
    if data.draw(st.booleans()):
        with contextlib.suppress(RequestError):
            pump.start_bolus(
                t,
                pump.therapeutic_bolus(
                    dose_ng=data.draw(st.integers(10_000, 80_000)), duration_s=HOUR
                ),
            )
    for _ in range(3):
        t += data.draw(st.integers(1, 2 * DAY))
        _dates_agree(pump, t)


# --- what the property and the state machine found -------------------------------------


def _pump(**kw: object) -> Pump:
    args: dict[str, object] = {
        "profile": PROFILES[20],
        "serial": "VP-FIX",
        "t": 0,
        "reservoir_nl": 18_000_000,
        "concentration_ug_per_ml": 500,
        "prescription": m.PrescriptionSpec.simple(100_000, concentration_ug_per_ml=500),
        "clock_offset_s": CLOCK0,
        "implant": _implant(1_100, 0),
    }
    args.update(kw)
    return Pump.new(**args)  # type: ignore[arg-type]


def test_a_stored_prescription_out_of_the_limits_is_a_corrupt_image() -> None:
    pump = _pump()
    image = replace(
        pump.to_image(),
        prescription=m.PrescriptionSpec.simple(10**9, concentration_ug_per_ml=500),
    )
    with pytest.raises(CorruptImageError, match="rate_nl_per_day"):
        Pump.from_bytes(nvm.encode(image))


def test_a_stored_bridge_must_change_the_drug_and_have_an_implant_record() -> None:
    pump = _pump()
    bridge = BridgeState(
        volume_nl=486_000, remaining_nl=1, old_concentration_ug_per_ml=500, started_t=0
    )
    with pytest.raises(CorruptImageError, match="bridge"):
        Pump.from_bytes(nvm.encode(replace(pump.to_image(), bridge=bridge)))
    moved = replace(bridge, old_concentration_ug_per_ml=2000)
    with pytest.raises(CorruptImageError, match="implant"):
        Pump.from_bytes(nvm.encode(replace(pump.to_image(), bridge=moved, implant=None)))
    assert Pump.from_bytes(nvm.encode(replace(pump.to_image(), bridge=moved))).bridge == moved


def test_programming_stopped_stops_a_running_bolus_too() -> None:
    pump = _pump()
    pump.start_bolus(0, pump.therapeutic_bolus(dose_ng=50_000, duration_s=HOUR))
    pump.program(600, m.PrescriptionSpec.stopped(concentration_ug_per_ml=500))
    moved = pump.total_commanded_nl
    pump.advance_to(DAY)
    assert pump.total_commanded_nl == moved  # STOPPED: nothing moves
    assert pump.bolus is None and not pump.delivering
    assert [e.code for e in pump.event_log][-2:] == [
        EventCode.BOLUS_CANCELLED,
        EventCode.PROGRAMMED,
    ]


def test_a_refill_to_another_drug_without_a_bridge_rescales_a_running_bolus() -> None:
    # 50 mcg over 1 h at 500 mcg/mL is 0.1 mL; at 30 min, 25 mcg are still owed: as 2000
    # mcg/mL drug that is 12.5 uL over the 30 min left, not the 50 uL of old-drug volume.
    pump = _pump()
    pump.start_bolus(0, pump.therapeutic_bolus(dose_ng=50_000, duration_s=HOUR))
    new = m.PrescriptionSpec.simple(100_000, concentration_ug_per_ml=2000)
    pump.refill(
        1_800,
        RefillOrder(
            removed_nl=pump.estimated_reservoir_nl,
            added_nl=18_000_000,
            concentration_ug_per_ml=2000,
            prescription=new,
            bridge=False,
        ),
    )
    bolus = pump.bolus
    assert bolus is not None
    assert (bolus.dose_ng, bolus.volume_nl, bolus.duration_s) == (25_000, 12_500, 1_800)


def test_a_battery_out_of_range_at_implant_is_a_typed_refusal() -> None:
    with pytest.raises(OutOfRangeError, match="battery_permille"):
        _pump(battery_permille=1001)
