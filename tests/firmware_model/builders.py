"""Pumps for tests, with readable defaults."""

from __future__ import annotations

from firmware_model.profile import PROFILES, PumpProfile
from firmware_model.pump import Pump, RefillResult
from protocol.enums import AlarmCode, EventCode
from protocol.messages import ImplantFields, PrescriptionSpec

from . import rx
from .strategies import CLOCK_2024_01_01_S

T0_CLOCK_S = CLOCK_2024_01_01_S
"""RTC of model second 0 in these tests: Monday 2024-01-01 00:00 UTC."""


def new_pump(
    *,
    profile: PumpProfile | None = None,
    reservoir_nl: int | None = None,
    prescription: PrescriptionSpec | None = None,
    concentration_ug_per_ml: int = 500,
    battery_permille: int = 1000,
    t: int = 0,
    implant: ImplantFields | None = None,
) -> Pump:
    """A pump running ``prescription`` (default: the dose that runs 0.2 mL/day)."""
    profile = PROFILES[20] if profile is None else profile
    return Pump.new(
        profile=profile,
        serial="VP-TEST-0001",
        t=t,
        reservoir_nl=profile.capacity_nl if reservoir_nl is None else reservoir_nl,
        concentration_ug_per_ml=concentration_ug_per_ml,
        prescription=rx.simple(200_000, concentration_ug_per_ml)
        if prescription is None
        else prescription,
        battery_permille=battery_permille,
        clock_offset_s=T0_CLOCK_S - t,
        implant=implant,
    )


def refill(
    pump: Pump,
    t: int,
    *,
    removed_nl: int,
    added_nl: int,
    concentration_ug_per_ml: int | None = None,
    prescription: PrescriptionSpec | None = None,
    bridge: bool = False,
    allow_nonstandard_concentration: bool = False,
) -> RefillResult:
    """Refill; by default the same drug with the pump's prescription (see rx.refill_order)."""
    return pump.refill(
        t,
        rx.refill_order(
            pump,
            removed_nl=removed_nl,
            added_nl=added_nl,
            concentration_ug_per_ml=concentration_ug_per_ml,
            prescription=prescription,
            bridge=bridge,
            allow_nonstandard_concentration=allow_nonstandard_concentration,
        ),
    )


def raised(pump: Pump, code: AlarmCode) -> list[int]:
    """RTC seconds at which ``code`` was raised, from the event log."""
    return [e.clock_s for e in pump.event_log if e.code is EventCode.ALARM_RAISED and e.a == code]


def events(pump: Pump, code: EventCode) -> list[tuple[int, int, int]]:
    """(clock_s, a, b) of every logged ``code``."""
    return [(e.clock_s, e.a, e.b) for e in pump.event_log if e.code is code]
