"""Messages and fields in words: the one describe layer every tool uses.

Each field declares its unit in its wire metadata (:func:`protocol.wire.wire_fields`),
each event parameter in :data:`~protocol.enums.EVENT_PARAM_UNITS`; nothing here reads a
unit off a name. Two styles:

* :data:`WIRE` (the capture decoder): every digit the wire holds (volumes to the
  nanolitre in mL, doses to the nanogram in mcg), enums by their wire names, pump-clock
  times as ISO 8601 UTC (the educator's inspector keeps the wire names but shows the
  :class:`~protocol.units.Quantity` precision and local times);
* :data:`CLINICAL` (``pumpctl``, the programmer's event log): the one precision rule of
  :class:`~protocol.units.Quantity`, enums in clinical words ("low reservoir").
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from protocol.enums import (
    EVENT_PARAM_ENUMS,
    EVENT_PARAM_UNITS,
    EVENT_PARAMS,
    AlarmClass,
    AlarmCode,
    EventCode,
)
from protocol.messages import LogEntry
from protocol.prescription import FlexStep, PrescriptionSpec
from protocol.units import (
    Quantity,
    Unit,
    format_clock_iso,
    format_concentration_ug_per_ml,
    format_duration,
    format_minute_of_day,
    format_trimmed,
    nl_to_ml,
)
from protocol.wire import Record, Wire, wire_fields

NG_PER_UG: Final = 1000

ALARM_TITLES: Final[dict[AlarmCode, str]] = {
    AlarmCode.LOW_RESERVOIR: "low reservoir",
    AlarmCode.ERI: "elective replacement (ERI)",
    AlarmCode.MEMORY_NON_CRITICAL: "memory error (non-critical)",
    AlarmCode.EMPTY_RESERVOIR: "empty reservoir",
    AlarmCode.EOS: "end of service (EOS)",
    AlarmCode.MOTOR_STALL: "motor stall",
    AlarmCode.MEMORY_CRITICAL: "memory error (critical)",
    AlarmCode.LOW_BATTERY_RESET: "low battery reset (keep-open minimum rate)",
}
"""Each alarm in a clinician's words."""

WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def clinical_name(member: enum.Enum) -> str:
    """An enum member in words: an alarm by its title, others lower case ("simple")."""
    if isinstance(member, AlarmCode):
        return ALARM_TITLES[member]
    return member.name.replace("_", " ").lower()


@dataclass(frozen=True, kw_only=True)
class Style:
    """How values are put into words."""

    clinical: bool
    """Enums in clinical words (else by their wire names)."""
    exact: bool = False
    """Every digit the wire holds (else the :class:`Quantity` precision)."""
    clock: Callable[[int], str] = format_clock_iso
    """A pump-clock time in words."""


WIRE: Final = Style(clinical=False, exact=True)
CLINICAL: Final = Style(clinical=True)


def _amount(value: Fraction, quantity: Quantity, exact_places: int, style: Style) -> str:
    if not style.exact:
        return quantity.text(value)
    return f"{format_trimmed(value, exact_places)} {quantity.unit}"


def _duration(seconds: int, style: Style) -> str:
    if not style.exact:
        return format_duration(seconds)
    text = f"{seconds} s"
    return text if abs(seconds) < 60 else f"{text} ({format_duration(seconds, exact=True)})"


def describe_number(value: int, unit: Unit | None, style: Style = WIRE) -> str:
    """An integer of ``unit`` in words with a unit people read."""
    match unit:
        case Unit.NL:
            return _amount(nl_to_ml(value), Quantity.VOLUME, 6, style)
        case Unit.NL_PER_DAY:
            return _amount(nl_to_ml(value), Quantity.RATE, 6, style)
        case Unit.NG:
            return _amount(Fraction(value, NG_PER_UG), Quantity.DOSE, 3, style)
        case Unit.NG_PER_DAY:
            return _amount(Fraction(value, NG_PER_UG), Quantity.DOSE_RATE, 3, style)
        case Unit.UG_PER_ML:
            return format_concentration_ug_per_ml(value)
        case Unit.PERMILLE:
            return Quantity.PERCENT.text(Fraction(value, 10))
        case Unit.MM:
            return Quantity.LENGTH.text(Fraction(value, 10))
        case Unit.NL_PER_CM:
            return f"{format_trimmed(nl_to_ml(value), 6)} mL/cm"
        case Unit.UC | Unit.UC_PER_S | Unit.UC_PER_NL:
            return f"{value} µC" + unit.wire.removeprefix("uC")
        case Unit.S:
            return _duration(value, style)
        case Unit.S_PER_FRAME:
            return f"{value} s per frame"
        case Unit.MIN:
            return f"{value} min"
        case Unit.MIN_OF_DAY:
            return format_minute_of_day(value)
        case Unit.CLOCK:
            return style.clock(value)
        case Unit.CHECKSUM:
            return f"0x{value:08X}"
        case Unit.ML:
            return f"{value} mL model"
        case Unit.NL_S_PER_DAY:
            return f"{value} nL·s/day"
    return str(value)


def describe_value(
    value: object, unit: Unit | None = None, style: Style = WIRE, wire: Wire | None = None
) -> str:
    """One field's value in words with its unit (``wire`` is unused: the unit says all)."""
    del wire
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.Enum):
        return clinical_name(value) if style.clinical else value.name
    if isinstance(value, frozenset):
        members = sorted((v for v in value if isinstance(v, enum.Enum)), key=lambda v: v.value)
        if style.clinical:
            names = [clinical_name(v) for v in members]
        else:
            names = sorted(v.name for v in members)
        return ", ".join(names) if names else "none"
    if isinstance(value, bytes):
        return f"{len(value)} bytes {value.hex()}" if value else "(empty)"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, int):
        return describe_number(value, unit, style)
    return repr(value)


# --- event-log parameters ------------------------------------------------------------------


def describe_param(name: str, value: int, style: Style = WIRE) -> str:
    """An event-log parameter (named by ``EVENT_PARAMS``) in words with its unit."""
    kind = EVENT_PARAM_ENUMS.get(name)
    if kind is not None:
        try:
            member = kind(value)
        except ValueError:
            return f"{value} (no {kind.__name__} has this value)"
        return clinical_name(member) if style.clinical else member.name
    return describe_number(value, EVENT_PARAM_UNITS.get(name), style)


def describe_log_entry(entry: LogEntry, style: Style = WIRE) -> str:
    """``#7 2026-09-21T14:13:20Z REFILLED: added_nl = 18 mL, ...`` (every parameter)."""
    parts = [f"#{entry.index}", style.clock(entry.clock_s), entry.code.name]
    params = [
        f"{param} = {describe_param(param, value, style)}"
        for param, value in zip(
            EVENT_PARAMS.get(entry.code, ("a", "b")), (entry.a, entry.b), strict=True
        )
        if param != "unused"
    ]
    return " ".join(parts) + (": " + ", ".join(params) if params else "")


def _alarm_raised(entry: LogEntry) -> str:
    critical = entry.a in {int(c) for c in AlarmCode if c.alarm_class is AlarmClass.CRITICAL}
    alarm = describe_param("alarm_code", entry.a, CLINICAL)
    return f"{alarm} ({'critical' if critical else 'non-critical'})"


def _clock_set(entry: LogEntry) -> str:
    change = describe_param("delta_s", abs(entry.a), CLINICAL)
    return f"changed by {change} {'forward' if entry.a >= 0 else 'back'}"


def _security(entry: LogEntry) -> str:
    return f"{describe_param('error_code', entry.a, CLINICAL)} (opcode 0x{entry.b & 0xFF:02X})"


EVENT_WORDS: Final[dict[EventCode, str | Callable[[LogEntry], str]]] = {
    EventCode.POWER_ON: "reservoir {a} at {b}",
    EventCode.PROGRAMMED: "{a}, {b} today",
    EventCode.REFILLED: "{a} added at {b}",
    EventCode.BOLUS_STARTED: "{a} bolus of {b}",
    EventCode.BOLUS_ENDED: "{a} bolus, {b} delivered",
    EventCode.BOLUS_CANCELLED: "{a} bolus, {b} delivered",
    EventCode.ALARM_RAISED: _alarm_raised,
    EventCode.ALARM_SILENCED: "{a}",
    EventCode.ALARM_CLEARED: "{a}",
    EventCode.MOTOR_STALL: "the motor cannot turn: delivery halted",
    EventCode.STALL_RECOVERY: "the motor turns again after {a}",
    EventCode.CLOCK_SET: _clock_set,
    EventCode.STOPPED: "reason: {a}",
    EventCode.RESUMED: "{a} therapy resumed",
    EventCode.ALARM_VOLUME_SET: "low-reservoir alarm at {a}",
    EventCode.PATIENT_DOSE_GRANTED: "{a}; {b} in the last 24 h",
    EventCode.PATIENT_DOSE_REFUSED: "refused: {a}",
    EventCode.PATIENT_SETTINGS_SET: "{a} per dose, at most {b} per 24 h",
    EventCode.DELIVERY_HALTED: "{a}",
    EventCode.BATTERY_SET: "battery {a}",
    EventCode.MEMORY_ERROR: "{a}",
    EventCode.SESSION_OPENED: "{a} session",
    EventCode.SESSION_CLOSED: "{a} session",
    EventCode.SECURITY: _security,
    EventCode.BRIDGE_STARTED: (
        "dead volume {a}; doses computed at the old {b} drug until it is delivered"
    ),
    EventCode.BRIDGE_ENDED: "after {a}; doses computed at {b} from now",
    EventCode.BRIDGE_CANCELLED: "after {a}; doses computed at {b} from now",
    EventCode.IMPLANT_RECORDED: "catheter {a}, origin {b}",
    EventCode.LOW_BATTERY_RESET: "battery {a}; keep-open minimum rate until reprogrammed",
    EventCode.VALVE_CLOSED: (
        "the flow-activated valve closed after {a}: no delivery until it is reset"
    ),
    EventCode.VALVE_RESET: "the valve reopened after {a} closed: delivery resumes",
}
"""Each event in a clinician's words: ``{a}`` and ``{b}`` are its parameters (named by
``EVENT_PARAMS``) with their units."""


def describe_event(entry: LogEntry) -> str:
    """The details of an event in a clinician's words, every number with its unit
    ("18 mL added at 500 mcg/mL")."""
    words = EVENT_WORDS.get(entry.code)
    if words is None:
        return f"a={entry.a}, b={entry.b}"
    if not isinstance(words, str):
        return words(entry)
    name_a, name_b = EVENT_PARAMS[entry.code]
    return words.format(
        a=describe_param(name_a, entry.a, CLINICAL), b=describe_param(name_b, entry.b, CLINICAL)
    )


# --- whole records ---------------------------------------------------------------------------


def _step(step: FlexStep, style: Style, between: str = " ") -> str:
    start = describe_number(step.start_min, Unit.MIN_OF_DAY, style)
    return f"{start}{between}{describe_number(step.dose_ng_per_day, Unit.NG_PER_DAY, style)}"


def prescription_lines(spec: PrescriptionSpec, indent: str, style: Style = WIRE) -> list[str]:
    """A prescription, one ``name = value`` line each, its flex steps by profile."""
    mode = clinical_name(spec.mode) if style.clinical else spec.mode.name
    lines = [
        f"{indent}mode = {mode}",
        f"{indent}concentration_ug_per_ml = "
        f"{describe_number(spec.concentration_ug_per_ml, Unit.UG_PER_ML, style)}",
    ]
    if spec.dose_ng_per_day is not None:
        dose = describe_number(spec.dose_ng_per_day, Unit.NG_PER_DAY, style)
        lines.append(f"{indent}dose_ng_per_day = {dose}")
    for day, profile in enumerate(spec.profiles):
        title = WEEKDAYS[day] if spec.weekly else "every day"
        lines.append(f"{indent}profile ({title}):")
        lines += [f"{indent}  from {_step(step, style, ': ')}" for step in profile]
    return lines


def _inline(record: Record, style: Style) -> str:
    if isinstance(record, LogEntry):
        return describe_log_entry(record, style)
    return ", ".join(
        f"{spec.name} = {describe_value(getattr(record, spec.name), spec.unit, style)}"
        for spec in wire_fields(type(record))
    )


def format_fields(record: Record, indent: str = "", style: Style = WIRE) -> list[str]:
    """``record``'s fields in wire order, one ``name = value`` line each, with units;
    a prescription and array items follow their field, indented."""
    lines: list[str] = []
    for spec in wire_fields(type(record)):
        value = getattr(record, spec.name)
        if isinstance(value, PrescriptionSpec):
            lines.append(f"{indent}{spec.name}:")
            lines += prescription_lines(value, indent + "  ", style)
        elif isinstance(value, Record):
            lines.append(f"{indent}{spec.name} = {_inline(value, style)}")
        elif isinstance(value, tuple):
            lines.append(f"{indent}{spec.name}: {len(value)}")
            lines += [
                f"{indent}  [{i}] "
                + (
                    _inline(item, style)
                    if isinstance(item, Record)
                    else describe_value(item, spec.unit, style)
                )
                for i, item in enumerate(value)
            ]
        else:
            lines.append(f"{indent}{spec.name} = {describe_value(value, spec.unit, style)}")
    return lines


def field_pairs(record: Record, style: Style = WIRE, indent: str = "") -> list[tuple[str, str]]:
    """``record``'s fields in wire order as (name, value) pairs; a prescription's and an
    array's items follow their field, indented (what a table of fields shows)."""
    out: list[tuple[str, str]] = []
    for spec in wire_fields(type(record)):
        value = getattr(record, spec.name)
        if isinstance(value, PrescriptionSpec):
            out.append((indent + spec.name, value.mode.name))
            out.extend(_prescription_pairs(value, indent + "  ", style))
        elif isinstance(value, tuple):
            out.append((indent + spec.name, f"{len(value)} item(s)"))
            for i, item in enumerate(value):
                if isinstance(item, Record):
                    inline = ", ".join(f"{n.strip()} = {v}" for n, v in field_pairs(item, style))
                    out.append((f"{indent}  [{i}]", inline))
                else:
                    out.append((f"{indent}  [{i}]", describe_value(item, spec.unit, style)))
        else:
            out.append((indent + spec.name, describe_value(value, spec.unit, style)))
    return out


def _prescription_pairs(spec: PrescriptionSpec, indent: str, style: Style) -> list[tuple[str, str]]:
    out = [
        (
            indent + "concentration_ug_per_ml",
            describe_number(spec.concentration_ug_per_ml, Unit.UG_PER_ML, style),
        )
    ]
    if spec.dose_ng_per_day is not None:
        dose = describe_number(spec.dose_ng_per_day, Unit.NG_PER_DAY, style)
        out.append((indent + "dose_ng_per_day", dose))
    for day, profile in enumerate(spec.profiles):
        title = WEEKDAYS[day][:3] if spec.weekly else "every day"
        out.append((f"{indent}profile {title}", ", ".join(_step(s, style) for s in profile)))
    return out
