"""An MRI exposure as a world event: what the emulator decides about a scan.

The pump side (:mod:`firmware_model.mri`) only sees a motor that will not turn: it is
told when the pump enters the field (:meth:`~firmware_model.pump.Pump.mri_enter`) and,
when it leaves (:meth:`~firmware_model.pump.Pump.mri_leave`), how long the gears stay
bound, whether telemetry mode trapped it, and whether the recovery is logged only at the
second interrogation. This module holds what the world chooses (domain.md, "MRI and the
emergency visit"), checked before anything changes:

* the recovery delay after leaving the field: 0 (the default), a fixed delay, or drawn
  seeded and uniform in whole seconds within a range the user names; at most 24 h, the
  longest reported delay (the reported 2 to 24 h are extremes, not a distribution);
* the telemetry-mode trap: off (the default), on, or seeded (a fair coin from the pump's
  world generator);
* logging the stall recovery only at the second interrogation after the scan: off or on.

Every time here is pump time (seconds of the pump clock), never wall time: an exposure of
45 min ends 45 pump minutes after it began, at any clock speed. A scheduled end is a
world event the emulator applies on its exact second (:class:`ScheduledMriEnd`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from fractions import Fraction
from typing import Final, Literal

from emulator.errors import EmulatorUsageError
from emulator.fluid_path import FluidTracker, HourlyLedger, TipPiece
from emulator.patient import PatientModel
from firmware_model.pump import Pump
from protocol.enums import ValveModel
from protocol.frozen import frozen
from protocol.units import parse_duration

__all__ = [
    "MAX_EXPOSURE_S",
    "MAX_RECOVERY_DELAY_S",
    "MriExit",
    "MriValueError",
    "ScheduledMriEnd",
    "Trap",
    "parse_delay",
    "parse_mri_duration",
    "parse_trap",
    "parse_valve",
    "push_instant_delivery",
]

MAX_RECOVERY_DELAY_S = 24 * 3_600
"""Longest recovery delay accepted: the 24 h reported as the longest (domain.md)."""

MAX_EXPOSURE_S = 24 * 3_600
"""Longest exposure ``mri DURATION`` accepts (a scan lasts minutes to a few hours)."""

Trap = bool | Literal["seeded"]
"""The telemetry-mode trap: off, on, or a fair coin drawn from the pump's world generator."""

TRAP_PROBABILITY = 0.5
"""Chance the trap fires when it is ``seeded``."""


class MriValueError(EmulatorUsageError, ValueError):
    """An MRI control was given a bad value (or does not fit the pump's state); nothing was
    changed."""


_UNITS_S: Final = {"s": 1, "m": 60, "min": 60, "h": 3_600, "d": 86_400}
"""The units an MRI's lengths are written in (``m`` too, as the control's ``45m``)."""


def _duration_s(text: str, what: str) -> int:
    try:
        return int(parse_duration(text, allowed=_UNITS_S, decimals=False))
    except ValueError:
        raise MriValueError(
            f"{what} {text!r}: write a whole number and a unit, e.g. 45m, 45min, 4h, 90s"
        ) from None


def parse_mri_duration(text: str) -> int:
    """An exposure's length (``45m``, ``45min``, ``2h``), 1 s to 24 h, in seconds."""
    seconds = _duration_s(text, "exposure")
    if not 1 <= seconds <= MAX_EXPOSURE_S:
        raise MriValueError(f"exposure {text!r}: an exposure lasts 1 s to 24 h")
    return seconds


def parse_delay(text: str) -> int | tuple[int, int]:
    """A recovery delay: ``4h`` (fixed) or ``2h..24h`` (seeded uniform, bounds included),
    each 0 to 24 h, in seconds."""
    low_text, sep, high_text = text.partition("..")
    if not sep:
        return _check_delay(_duration_s(low_text, "recovery delay"), text)
    low = _check_delay(_duration_s(low_text, "recovery delay"), text)
    high = _check_delay(_duration_s(high_text, "recovery delay"), text)
    if low >= high:
        raise MriValueError(
            f"recovery delay {text!r}: a range goes from the shorter to the longer delay"
        )
    return low, high


def _check_delay(seconds: int, text: str) -> int:
    if not 0 <= seconds <= MAX_RECOVERY_DELAY_S:
        raise MriValueError(
            f"recovery delay {text!r}: 0 to 24 h (the longest delay reported is 24 h)"
        )
    return seconds


def parse_trap(text: str) -> Trap:
    """``on``, ``off`` or ``seeded``."""
    match text:
        case "on":
            return True
        case "off":
            return False
        case "seeded":
            return "seeded"
    raise MriValueError(f"telemetry trap {text!r}: on, off or seeded")


@frozen
class MriExit:
    """How the pump leaves the field, as the user asked (ranges and coins not yet drawn)."""

    recovery_delay_s: int | tuple[int, int] = 0
    """Fixed, or (shortest, longest) drawn uniform in whole seconds, both included."""
    telemetry_trap: Trap = False
    recovery_logged_at_second_interrogation: bool = False

    def __post_init__(self) -> None:
        delay = self.recovery_delay_s
        if isinstance(delay, tuple):
            if (
                len(delay) != 2
                or not all(type(v) is int for v in delay)
                or not 0 <= delay[0] < delay[1] <= MAX_RECOVERY_DELAY_S
            ):
                raise MriValueError(
                    f"recovery delay range {delay!r}: (shortest, longest) whole seconds, "
                    f"0 <= shortest < longest <= {MAX_RECOVERY_DELAY_S}"
                )
        elif type(delay) is not int or not 0 <= delay <= MAX_RECOVERY_DELAY_S:
            raise MriValueError(
                f"recovery delay {delay!r}: whole seconds, 0 to {MAX_RECOVERY_DELAY_S} (24 h)"
            )
        if self.telemetry_trap not in (True, False, "seeded") or (
            type(self.telemetry_trap) is not bool and self.telemetry_trap != "seeded"
        ):
            raise MriValueError(f"telemetry trap {self.telemetry_trap!r}: True, False or 'seeded'")
        if type(self.recovery_logged_at_second_interrogation) is not bool:
            raise MriValueError(
                "recovery_logged_at_second_interrogation must be True or False, got "
                f"{self.recovery_logged_at_second_interrogation!r}"
            )

    def draw(self, rng: random.Random) -> ScheduledMriEnd:
        """Decide the ranges and the coin now (seeded), for an end at a second set later."""
        delay = self.recovery_delay_s
        if isinstance(delay, tuple):
            delay = rng.randint(delay[0], delay[1])
        trap = self.telemetry_trap
        if trap == "seeded":
            trap = rng.random() < TRAP_PROBABILITY
        return ScheduledMriEnd(
            at_t=0,
            recovery_delay_s=delay,
            telemetry_trap=bool(trap),
            recovery_logged_at_second_interrogation=self.recovery_logged_at_second_interrogation,
        )


@frozen
class ScheduledMriEnd:
    """The pump leaves the field at model second ``at_t`` with these (drawn) values."""

    at_t: int
    recovery_delay_s: int
    telemetry_trap: bool
    recovery_logged_at_second_interrogation: bool

    def as_dict(self, clock_offset_s: int = 0) -> dict[str, object]:
        """For control replies and the true state (``clock_offset_s``: pump clock minus
        model time, so the end reads as a pump-clock second)."""
        return {
            "ends_at_clock_s": self.at_t + clock_offset_s,
            "recovery_delay_s": self.recovery_delay_s,
            "telemetry_trap": self.telemetry_trap,
            "recovery_logged_at_second_interrogation": (
                self.recovery_logged_at_second_interrogation
            ),
        }

    def to_extra(self) -> dict[str, int | bool]:
        """As scalars for a state file's ``extra`` (so a restart keeps the end)."""
        return {
            "mri_end_at_t": self.at_t,
            "mri_end_recovery_delay_s": self.recovery_delay_s,
            "mri_end_telemetry_trap": self.telemetry_trap,
            "mri_end_log_at_second": self.recovery_logged_at_second_interrogation,
        }

    @classmethod
    def from_extra(cls, extra: Mapping[str, object]) -> ScheduledMriEnd | None:
        """The end :meth:`to_extra` saved, or None (none saved, or not well formed)."""
        at_t = extra.get("mri_end_at_t")
        delay = extra.get("mri_end_recovery_delay_s")
        trap = extra.get("mri_end_telemetry_trap")
        second = extra.get("mri_end_log_at_second")
        if (
            type(at_t) is not int
            or at_t < 0
            or type(delay) is not int
            or not 0 <= delay <= MAX_RECOVERY_DELAY_S
            or type(trap) is not bool
            or type(second) is not bool
        ):
            return None
        return cls(
            at_t=at_t,
            recovery_delay_s=delay,
            telemetry_trap=trap,
            recovery_logged_at_second_interrogation=second,
        )


VALVE_WORDS: dict[str, ValveModel] = {
    "motor": ValveModel.MOTOR,
    "valve-discharge": ValveModel.VALVE_DISCHARGE,
    "valve-flow-activated": ValveModel.VALVE_FLOW_ACTIVATED,
}
"""How a pump's metering is named on the command line, in scenarios and in the fixture."""


def parse_valve(text: str) -> ValveModel:
    """``motor`` (the default, SynchroMed-like), ``valve-discharge`` (the original
    Prometra-like valve pump) or ``valve-flow-activated`` (the later one)."""
    try:
        return VALVE_WORDS[text]
    except KeyError:
        raise MriValueError(f"pump model {text!r}: one of {', '.join(VALVE_WORDS)}") from None


def push_instant_delivery(
    fluid: FluidTracker,
    patient: PatientModel,
    ledger: HourlyLedger,
    pump: Pump,
    *,
    dry_nl: int = 0,
) -> None:
    """Give the catheter and the patient what left the reservoir without time passing (a
    valve pump's discharge on entering an MRI field), as one instantaneous dose: the
    catheter's content reaches the patient first, then the reservoir's drug. ``dry_nl``:
    what the rotor moved out of a reservoir that was really empty (after a pocket fill),
    which never entered the catheter."""
    delivered_nl = pump.total_delivered_nl - dry_nl
    if delivered_nl == fluid.last_total_delivered_nl:
        return
    out = fluid.update(delivered_nl, pump.concentration_ug_per_ml)
    pieces = tuple(
        TipPiece(
            duration_s=Fraction(0),
            volume_nl=s.volume_nl,
            concentration_ug_per_ml=s.concentration_ug_per_ml,
        )
        for s in out.segments
    )
    patient.feed(pieces)
    ledger.add(pump.clock(pump.t), pieces)
