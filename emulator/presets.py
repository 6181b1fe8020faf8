"""Starting states for a virtual pump: what is implanted and programmed at power-on.

Each preset is a realistic patient from domain.md, so a freshly started
emulator already behaves like a pump in a clinic (the numbers here are
teaching values, not clinical advice).
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_model.prescription import DayProfile, Flex, FlexStep, Prescription, Simple
from firmware_model.profile import profile_for
from firmware_model.pump import Pump
from protocol.units import dose_to_rate_nl_per_day, ml_to_nl


@dataclass(frozen=True, kw_only=True)
class PumpSetup:
    """What a new virtual pump starts with."""

    model: int
    """Reservoir size in mL: 20 or 40."""
    serial: str
    reservoir_nl: int
    concentration_ug_per_ml: int
    prescription: Prescription
    battery_permille: int = 1000
    description: str = ""

    def build(self, *, t: int) -> Pump:
        """A pump powered on at model second ``t`` (its clock reads ``t``, Unix seconds)."""
        return Pump.new(
            profile=profile_for(self.model),
            serial=self.serial,
            t=t,
            reservoir_nl=self.reservoir_nl,
            concentration_ug_per_ml=self.concentration_ug_per_ml,
            prescription=self.prescription,
            battery_permille=self.battery_permille,
        )

    def with_identity(self, *, model: int | None = None, serial: str | None = None) -> PumpSetup:
        """The same patient on another model or serial (a 20 mL model is filled to at most
        its capacity)."""
        new_model = self.model if model is None else model
        capacity = profile_for(new_model).reservoir_capacity_nl
        return PumpSetup(
            model=new_model,
            serial=self.serial if serial is None else serial,
            reservoir_nl=min(self.reservoir_nl, capacity),
            concentration_ug_per_ml=self.concentration_ug_per_ml,
            prescription=self.prescription,
            battery_permille=self.battery_permille,
            description=self.description,
        )


def _simple(dose_ug_per_day: int, concentration: int) -> Simple:
    return Simple(rate_nl_per_day=dose_to_rate_nl_per_day(dose_ug_per_day, concentration))


PRESETS: dict[str, PumpSetup] = {
    "default": PumpSetup(
        model=20,
        serial="VP20-000001",
        reservoir_nl=ml_to_nl(20),
        concentration_ug_per_ml=500,
        prescription=_simple(100, 500),
        description="20 mL pump just filled: 500 mcg/mL, simple 100 mcg/day (0.2 mL/day); "
        "the low-reservoir alarm (2 mL) comes on day 90",
    ),
    "demo": PumpSetup(
        model=40,
        serial="VP40-DEMO01",
        reservoir_nl=ml_to_nl(30),
        concentration_ug_per_ml=2000,
        prescription=Flex(
            days=(
                DayProfile(
                    steps=(
                        FlexStep(start_min=0, rate_nl_per_day=dose_to_rate_nl_per_day(350, 2000)),
                        FlexStep(
                            start_min=7 * 60,
                            rate_nl_per_day=dose_to_rate_nl_per_day(425, 2000),
                        ),
                        FlexStep(
                            start_min=22 * 60,
                            rate_nl_per_day=dose_to_rate_nl_per_day(350, 2000),
                        ),
                    )
                ),
            )
        ),
        battery_permille=700,
        description="40 mL pump, 30 mL left at 2000 mcg/mL; flex: 425 mcg/day from 07:00, "
        "a night step of 350 mcg/day from 22:00 (about 397 mcg/day); battery 70 %",
    ),
}
"""Named starting states (``pump-emulator serve --preset NAME``)."""
