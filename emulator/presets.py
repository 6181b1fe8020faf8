"""Starting states for a virtual pump: what is implanted and programmed at power-on.

Each preset is a realistic patient from domain.md, so a freshly started
emulator already behaves like a pump in a clinic (the numbers here are
teaching values, not clinical advice). A prescription is a dose (ng/day on the
wire, shown in mcg/day) of the drug filled; the implant record is the
clinician's record of the catheter (the emulator's true catheter follows it
unless told otherwise, see :class:`~emulator.emulated_pump.EmulatedPump`).
"""

from __future__ import annotations

import dataclasses

from firmware_model.profile import profile_for
from firmware_model.pump import Pump
from protocol.enums import Origin, ValveModel
from protocol.frozen import frozen
from protocol.messages import FlexStep, ImplantFields, PrescriptionSpec
from protocol.units import ml_to_nl

NG_PER_UG = 1000
"""Nanograms per microgram: wire doses are ng, shown doses mcg."""

CATHETER_VOLUME_NL_PER_CM = 2_600
"""Dead volume per cm of the presets' catheter model (0.0026 mL/cm, domain.md)."""

CATHETER_MODEL = "IT-8709SC"
"""The presets' catheter model name (a teaching value)."""


def implant_record(
    *,
    length_cm: int = 110,
    uncertainty_mm: int = 0,
    volume_nl_per_cm: int = CATHETER_VOLUME_NL_PER_CM,
    implanted_at_s: int | None = None,
    patient_id: str = "",
    origin: Origin = Origin.UNKNOWN,
    physician: str = "",
    model: str = CATHETER_MODEL,
) -> ImplantFields:
    """An implant record for a catheter trimmed to ``length_cm`` (110 cm by default)."""
    return ImplantFields(
        catheter_model=model,
        catheter_volume_nl_per_cm=volume_nl_per_cm,
        catheter_length_mm=length_cm * 10,
        catheter_length_uncertainty_mm=uncertainty_mm,
        implanted_at_s=implanted_at_s,
        patient_id=patient_id,
        origin=origin,
        physician=physician,
    )


@frozen
class PumpSetup:
    """What a new virtual pump starts with."""

    model: int
    """Reservoir size in mL: 20 or 40."""
    serial: str
    reservoir_nl: int
    concentration_ug_per_ml: int
    prescription: PrescriptionSpec
    """A dose of the drug filled: it must name ``concentration_ug_per_ml``."""
    implant: ImplantFields | None = None
    """The clinician's implant record stored in the pump (None: not written yet)."""
    battery_permille: int = 1000
    description: str = ""
    valve: ValveModel = ValveModel.MOTOR
    """Motor-driven (the default) or one of the two valve models (what an MRI does)."""
    filled_at_start: bool = False
    """The reservoir was filled when the pump powered on: recorded as its last refill."""

    def build(self, *, t: int) -> Pump:
        """A pump powered on at model second ``t`` (its clock reads ``t``, Unix seconds)."""
        return Pump.new(
            profile=profile_for(self.model, self.valve),
            serial=self.serial,
            t=t,
            reservoir_nl=self.reservoir_nl,
            concentration_ug_per_ml=self.concentration_ug_per_ml,
            prescription=self.prescription,
            battery_permille=self.battery_permille,
            implant=self.implant,
            filled_at_start=self.filled_at_start,
        )

    def with_identity(self, *, model: int | None = None, serial: str | None = None) -> PumpSetup:
        """The same patient on another model or serial (a 20 mL model is filled to at most
        its capacity)."""
        new_model = self.model if model is None else model
        capacity = profile_for(new_model).capacity_nl
        return dataclasses.replace(
            self,
            model=new_model,
            serial=self.serial if serial is None else serial,
            reservoir_nl=min(self.reservoir_nl, capacity),
        )

    def with_drug(
        self, concentration_ug_per_ml: int, prescription: PrescriptionSpec | None = None
    ) -> PumpSetup:
        """The same setup filled with another drug: ``prescription`` (default: the same
        doses) for it."""
        spec = prescription or self.prescription.with_concentration(concentration_ug_per_ml)
        return dataclasses.replace(
            self, concentration_ug_per_ml=concentration_ug_per_ml, prescription=spec
        )


def simple_ug(dose_ug_per_day: int, concentration_ug_per_ml: int) -> PrescriptionSpec:
    """A simple prescription of ``dose_ug_per_day`` mcg/day of the drug at a concentration."""
    return PrescriptionSpec.simple(
        dose_ug_per_day * NG_PER_UG, concentration_ug_per_ml=concentration_ug_per_ml
    )


def flex_ug(steps: tuple[tuple[int, int], ...], concentration_ug_per_ml: int) -> PrescriptionSpec:
    """A daily flex profile from ``(start_min, mcg/day)`` pairs."""
    return PrescriptionSpec.flex(
        (FlexStep(start_min=s, dose_ng_per_day=d * NG_PER_UG) for s, d in steps),
        concentration_ug_per_ml=concentration_ug_per_ml,
    )


PRESETS: dict[str, PumpSetup] = {
    "default": PumpSetup(
        model=20,
        serial="VP20-000001",
        reservoir_nl=ml_to_nl(20),
        concentration_ug_per_ml=500,
        prescription=simple_ug(100, 500),
        implant=implant_record(length_cm=110, patient_id="DEFAULT-01", origin=Origin.SPINAL),
        filled_at_start=True,
        description="20 mL pump just filled: 500 mcg/mL, simple 100 mcg/day (0.2 mL/day); "
        "the low-reservoir alarm (2 mL) comes on day 90; 110 cm catheter (dead volume "
        "0.486 mL with the 0.2 mL tubing)",
    ),
    "demo": PumpSetup(
        model=40,
        serial="VP40-DEMO01",
        reservoir_nl=ml_to_nl(30),
        concentration_ug_per_ml=2000,
        prescription=flex_ug(((0, 350), (7 * 60, 425), (22 * 60, 350)), 2000),
        implant=implant_record(
            length_cm=110, patient_id="DEMO-01", origin=Origin.CEREBRAL, physician="Dr Demo"
        ),
        battery_permille=700,
        description="40 mL pump, 30 mL left at 2000 mcg/mL; flex: 425 mcg/day from 07:00, "
        "a night step of 350 mcg/day from 22:00 (about 397 mcg/day); battery 70 %; "
        "110 cm catheter of 0.0026 mL/cm (dead volume 0.486 mL with the 0.2 mL tubing)",
    ),
}
"""Named starting states (``pump-emulator serve --preset NAME``)."""
