"""The programmer's dates equal the pump's, by construction: a property over random
prescriptions, refills (with and without the bridge), boluses, patient doses and times.

The pump answers STATUS with its cached, event-driven forecasts; the programmer runs
:func:`protocol.forecast.dates_from_status` on that one STATUS (with READ_PRESCRIPTION,
READ_PATIENT_SETTINGS and DEVICE_INFO). They must agree to the second.
"""

from __future__ import annotations

import contextlib
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_model.errors import RequestError
from firmware_model.prescription import PatientDoseSettings
from firmware_model.profile import PROFILES
from firmware_model.pump import Pump, RefillOrder
from firmware_model.telemetry import PumpTelemetry
from protocol import messages as m
from protocol.enums import Origin, Role
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
        reservoir_nl=data.draw(st.integers(3_000_000, profile.reservoir_capacity_nl)),
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
            added_nl=data.draw(st.integers(5_000_000, profile.reservoir_capacity_nl)),
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
