"""Prescriptions for tests, written as the volume rates the tests are about.

A prescription is a dose of the drug in the pump (``PrescriptionSpec``). Most
firmware-model tests are about volumes, so these builders take the rate a test
means and the pump's concentration, and return the prescription whose dose
runs exactly that rate: ``dose_ng_per_day = rate_nl_per_day * concentration /
1000``. Each builder checks the round trip through
:func:`protocol.schedule.rate_for_dose`, so a test can never silently run
another rate than the one it states.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from firmware_model.pump import Pump, RefillOrder
from protocol.enums import Origin
from protocol.messages import FlexStep, ImplantFields, PrescriptionSpec
from protocol.schedule import NG_PER_UG, rate_for_dose

CONC = 500
"""The concentration the test pumps hold unless a test says otherwise (mcg/mL)."""

Steps = Sequence[tuple[int, int]]
"""``(start_min, rate_nl_per_day)`` steps of one flex day."""


def dose_for_rate(rate_nl_per_day: int, concentration_ug_per_ml: int = CONC) -> int:
    """The daily dose (ng) that runs ``rate_nl_per_day`` at a concentration, exactly."""
    dose, rest = divmod(rate_nl_per_day * concentration_ug_per_ml, NG_PER_UG)
    assert rest == 0, f"{rate_nl_per_day} nL/day is no whole ng/day at {concentration_ug_per_ml}"
    assert rate_for_dose(dose, concentration_ug_per_ml) == rate_nl_per_day
    return dose


def simple(rate_nl_per_day: int, concentration_ug_per_ml: int = CONC) -> PrescriptionSpec:
    """SIMPLE: the dose that runs ``rate_nl_per_day`` at the concentration."""
    return PrescriptionSpec.simple(
        dose_for_rate(rate_nl_per_day, concentration_ug_per_ml),
        concentration_ug_per_ml=concentration_ug_per_ml,
    )


def steps(day: Steps, concentration_ug_per_ml: int = CONC) -> tuple[FlexStep, ...]:
    """Flex steps whose doses run the given ``(start_min, rate)`` steps."""
    return tuple(
        FlexStep(start_min=start, dose_ng_per_day=dose_for_rate(rate, concentration_ug_per_ml))
        for start, rate in day
    )


def flex(day: Steps, concentration_ug_per_ml: int = CONC) -> PrescriptionSpec:
    """FLEX, the same day every day, from ``(start_min, rate_nl_per_day)`` steps."""
    return PrescriptionSpec.flex(
        steps(day, concentration_ug_per_ml), concentration_ug_per_ml=concentration_ug_per_ml
    )


def flex_weekly(days: Iterable[Steps], concentration_ug_per_ml: int = CONC) -> PrescriptionSpec:
    """FLEX, seven days (Monday first), from ``(start_min, rate_nl_per_day)`` steps."""
    return PrescriptionSpec.flex_weekly(
        [steps(day, concentration_ug_per_ml) for day in days],
        concentration_ug_per_ml=concentration_ug_per_ml,
    )


def minimum_rate(concentration_ug_per_ml: int = CONC) -> PrescriptionSpec:
    return PrescriptionSpec.minimum_rate(concentration_ug_per_ml=concentration_ug_per_ml)


def stopped(concentration_ug_per_ml: int = CONC) -> PrescriptionSpec:
    return PrescriptionSpec.stopped(concentration_ug_per_ml=concentration_ug_per_ml)


def refill_order(
    pump: Pump,
    *,
    removed_nl: int,
    added_nl: int,
    concentration_ug_per_ml: int | None = None,
    prescription: PrescriptionSpec | None = None,
    bridge: bool = False,
    allow_nonstandard_concentration: bool = False,
) -> RefillOrder:
    """A refill order; by default the same drug, keeping the pump's prescription (its doses
    follow the new concentration when one is given)."""
    conc = (
        pump.concentration_ug_per_ml
        if concentration_ug_per_ml is None
        else (concentration_ug_per_ml)
    )
    return RefillOrder(
        removed_nl=removed_nl,
        added_nl=added_nl,
        concentration_ug_per_ml=conc,
        prescription=pump.prescription.with_concentration(conc)
        if prescription is None
        else prescription,
        bridge=bridge,
        allow_nonstandard_concentration=allow_nonstandard_concentration,
    )


IMPLANT = ImplantFields(
    catheter_model="IT-8709SC",
    catheter_volume_nl_per_cm=2_600,
    catheter_length_mm=1_100,
    catheter_length_uncertainty_mm=0,
    implanted_at_s=None,
    patient_id="TEST-01",
    origin=Origin.SPINAL,
    physician="",
)
