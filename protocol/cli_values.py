"""``pumpctl``'s values and words: the numbers typed on its command line read with their
units (a bad one is a :class:`UsageError`, exit 2), and what the pump answers put into
aligned lines with units (:mod:`protocol.units`, :mod:`protocol.describe`) or plain JSON
values. The demo and the commands of :mod:`protocol.cli_records` and
:mod:`protocol.cli_therapy` share them."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from protocol import describe, emergency, units
from protocol import messages as m
from protocol.emergency import fmt_time
from protocol.enums import ALARM_CLASS, EVENT_PARAM_LABELS, BolusKind, Mode, StopReason
from protocol.errors import LocalError
from protocol.schedule import NG_PER_UG, rate_for_dose

__all__ = [
    "Printer",
    "UsageError",
    "clock_arg",
    "describe_prescription",
    "dose_ng_arg",
    "enum_arg",
    "enum_word",
    "fmt_dose_ng_per_day",
    "fmt_dose_rate",
    "fmt_param",
    "fmt_time",
    "implant_lines",
    "ml_arg",
    "number_arg",
    "status_lines",
    "to_jsonable",
]


class UsageError(LocalError, ValueError):
    """A value on the command line is not acceptable (exit 2)."""


# -- parsing values with their units ---------------------------------------------------------


def number_arg(text: str, what: str, unit: str) -> Fraction:
    """A plain decimal written out in full (:func:`protocol.units.parse_decimal`)."""
    try:
        return units.parse_decimal(text, unit, what=what)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def ml_arg(text: str, what: str) -> int:
    """A volume typed in mL as whole nL."""
    return units.ml_to_nl(number_arg(text, what, "mL"))


def enum_arg(enum_type: type[enum.IntEnum], text: str, what: str) -> Any:
    """A member of ``enum_type`` typed as its :func:`enum_word` (any case, ``_`` for ``-``)."""
    name = text.strip().upper().replace("-", "_")
    try:
        return enum_type[name]
    except KeyError:
        choices = ", ".join(enum_word(e) for e in enum_type)
        raise UsageError(f"{what}: {text!r} is not one of: {choices}") from None


def dose_ng_arg(text: str, what: str, unit: str = "mcg/day") -> int:
    """A dose typed in mcg (or mcg/day) as whole ng."""
    return units.round_half_even(number_arg(text, what, unit) * NG_PER_UG)


def clock_arg(text: str) -> int:
    """A date and time given on the command line (:func:`protocol.units.parse_clock`)."""
    try:
        return units.parse_clock(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# -- formatting ------------------------------------------------------------------------------


def fmt_dose_rate(rate_nl_per_day: int, concentration: int) -> str:
    dose = units.rate_to_dose_ug_per_day(rate_nl_per_day, concentration)
    return f"{units.format_dose_ug_per_day(dose)} ({units.format_rate_nl_per_day(rate_nl_per_day)})"


def fmt_dose_ng_per_day(dose_ng_per_day: int, concentration: int) -> str:
    """A dose (ng/day on the wire) in mcg/day, with the rate it needs at a concentration."""
    rate = rate_for_dose(dose_ng_per_day, concentration)
    dose = Fraction(dose_ng_per_day, NG_PER_UG)
    return f"{units.format_dose_ug_per_day(dose)} ({units.format_rate_nl_per_day(rate)})"


def enum_word(value: enum.Enum) -> str:
    """An enum member as ``pumpctl`` names it: ``low-reservoir``."""
    return value.name.lower().replace("_", "-")


def to_jsonable(value: Any) -> Any:
    """Messages and records as plain JSON values: enums by name, sets sorted."""
    if isinstance(value, enum.Enum):
        return value.name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (frozenset, set)):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Fraction):
        return float(value)
    return value


def describe_prescription(spec: m.PrescriptionSpec, concentration: int) -> list[str]:
    """A prescription in words: doses in mcg/day with the rates they need at
    ``concentration`` (the concentration in force: the old drug during a bridge)."""
    if spec.mode is Mode.SIMPLE:
        assert spec.dose_ng_per_day is not None
        return [f"simple continuous: {fmt_dose_ng_per_day(spec.dose_ng_per_day, concentration)}"]
    if spec.mode is Mode.FLEX:
        lines = ["flex" + (" (one profile per weekday)" if spec.weekly else " (every day)") + ":"]
        days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
        for i, profile in enumerate(spec.profiles):
            if spec.weekly:
                lines.append(f"  {days[i]}:")
            for step in profile:
                hh, mm = divmod(step.start_min, 60)
                rate = fmt_dose_ng_per_day(step.dose_ng_per_day, concentration)
                lines.append(f"    from {hh:02d}:{mm:02d}  {rate}")
        return lines
    return [enum_word(spec.mode)]


def status_lines(s: m.StatusResponse) -> list[str]:
    """The interrogation summary as aligned lines with units (also used by the demo)."""
    conc = s.concentration_ug_per_ml
    active = sorted(s.alarms_active)
    alarm_text = (
        ", ".join(
            f"{enum_word(a)} ({enum_word(ALARM_CLASS[a])}"
            + (", silenced" if a in s.alarms_silenced else "")
            + ")"
            for a in active
        )
        or "none"
    )
    rate_conc = s.bridge_concentration_ug_per_ml or conc
    halted = ", ".join(enum_word(a) for a in sorted(s.halted_by))
    if s.mode is Mode.STOPPED:
        why = (
            f" (STOP_PUMP: {enum_word(s.stop_reason)})"
            if s.stop_reason is not StopReason.NONE
            else " (STOPPED prescription)"
        )
        delivery = f"  ** NOT DELIVERING: therapy stopped{why} **"
    elif not s.delivering:
        delivery = f"  ** NOT DELIVERING: {halted} **"
    else:
        delivery = ""
    daily = units.format_dose_ug_per_day(Fraction(s.daily_dose_ng, NG_PER_UG))
    lines = [
        f"pump clock:           {fmt_time(s.clock_s)}",
        f"mode:                 {enum_word(s.mode)}{delivery}",
        f"current rate:         {fmt_dose_rate(s.current_rate_nl_per_day, rate_conc)}",
        f"24-hour dose:         {daily} ({units.format_rate_nl_per_day(s.daily_volume_nl)} today)",
        f"concentration:        {units.format_concentration_ug_per_ml(conc)} baclofen",
        f"reservoir:            {units.format_volume_nl(s.reservoir_nl)} of "
        f"{units.format_volume_nl(s.capacity_nl)} "
        f"(alarm at {units.format_volume_nl(s.alarm_volume_nl)})",
        f"low-reservoir alarm:  {fmt_time(s.low_reservoir_alarm_at_s)}",
        f"empty:                {fmt_time(s.empty_at_s)}",
        f"battery:              {units.format_percent(Fraction(s.battery_permille, 1000))}"
        f" (ERI {fmt_time(s.eri_at_s)})",
        f"alarms:               {alarm_text}",
    ]
    if s.bridge_concentration_ug_per_ml:
        lines.insert(
            5,
            f"bridge:               rates at "
            f"{units.format_concentration_ug_per_ml(s.bridge_concentration_ug_per_ml)} "
            f"(the old drug still in the catheter) for "
            f"{units.format_volume_nl(s.bridge_remaining_nl)} more, "
            f"ends {fmt_time(s.bridge_ends_at_s)}",
        )
    if s.bolus_kind is not BolusKind.NONE:
        dose = (
            f"{units.format_dose_ug(Fraction(s.bolus_dose_ng, NG_PER_UG))} in "
            if s.bolus_dose_ng
            else ""
        )
        lines.insert(
            3,
            f"bolus running:        {enum_word(s.bolus_kind)}, {dose}"
            f"{units.format_volume_nl(s.bolus_volume_nl)}, "
            f"{units.format_volume_nl(s.bolus_remaining_nl)} left, "
            f"ends {fmt_time(s.bolus_ends_at_s)}",
        )
    return lines


def implant_lines(r: m.ReadImplantResponse) -> list[str]:
    """The implant record and the drug in the pump, in words."""
    return emergency.format_rows(emergency.implant_rows(r))


def fmt_param(name: str, value: int) -> str:
    """An event-log parameter in words, with its unit (:mod:`protocol.describe`)."""
    label = EVENT_PARAM_LABELS.get(name, name)
    if name == "delta_s":
        text = describe.describe_param(name, abs(value), describe.CLINICAL)
        return f"{label}={text}" + (" back" if value < 0 else "")
    return f"{label}={describe.describe_param(name, value, describe.CLINICAL)}"


Printer = Callable[[Any, list[str]], None]
"""How a command prints: its data (``--json``) and its lines (human output)."""
