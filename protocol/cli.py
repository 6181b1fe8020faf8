"""``pumpctl``: talk to a pump (real or virtual) from the command line.

Human output shows units on every number; ``--json`` prints one stable JSON
object per command (enum values by name, volumes in nL, doses in ng and ng/day
(1 mcg = 1000 ng), rates in nL/day,
times in Unix seconds, the same field names as the wire messages). Errors are
one line on stderr with a distinct exit status:

    0  success
    1  unexpected internal error (a defect: please report it)
    2  bad arguments or key file
    3  link error (cannot open the port, no answer, link lost)
    4  authentication, role or session error (wrong key, lockout, bad MAC, expired,
       a command the role may not use)
    5  refused by the pump (out of range, invalid state, ...) or not confirmed
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any, NoReturn

from protocol import describe, emergency, units
from protocol import messages as m
from protocol.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, ProgrammingError, PumpClient
from protocol.enums import (
    ALARM_CLASS,
    EVENT_PARAM_LABELS,
    EVENT_PARAMS,
    AlarmCode,
    BolusKind,
    ErrorCode,
    Mode,
    Origin,
    Role,
    StopReason,
    ValveModel,
)
from protocol.errors import (
    AuthenticationError,
    BadMacError,
    InvalidMessage,
    LinkClosed,
    LinkTimeout,
    LocalError,
    NakError,
    ProtocolError,
    StateError,
)
from protocol.keys import DEMO_KEY_FILE, KeyFileError, key_for, load_keys
from protocol.schedule import NG_PER_UG, daily_dose_ng, rate_for_dose

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_LINK = 3
EXIT_AUTH = 4
EXIT_REFUSED = 5

DEFAULT_PORT = "/tmp/ttyPUMP0"

_SESSION_CODES = frozenset(
    {
        ErrorCode.NO_SESSION,
        ErrorCode.AUTH_FAILED,
        ErrorCode.LOCKED_OUT,
        ErrorCode.BAD_MAC,
        ErrorCode.REPLAY,
        ErrorCode.FORBIDDEN,
        ErrorCode.SESSION_EXPIRED,
        ErrorCode.SESSION_DISPLACED,
        ErrorCode.BAD_HANDSHAKE,
    }
)


class OneLineErrors(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit 2): the usage
    summary is what ``--help`` is for."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


class UsageError(LocalError, ValueError):
    """A value on the command line is not acceptable (exit 2)."""


# -- parsing values with their units ---------------------------------------------------------

_DECIMAL = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?", re.ASCII)

MAX_TIMEOUT_S = 3600
"""Longest --timeout accepted, s."""
MAX_RETRIES = 100
"""Most --retries accepted."""


def _number(text: str, what: str, unit: str) -> Fraction:
    """A plain decimal written out in full (:func:`protocol.units.parse_decimal`)."""
    try:
        return units.parse_decimal(text, unit, what=what)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _ml_to_nl(text: str, what: str) -> int:
    return units.ml_to_nl(_number(text, what, "mL"))


def _clock_of_day(text: str) -> int:
    match = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", text.strip(), re.ASCII)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise UsageError(f"step start {text!r} is not a time of day HH:MM (00:00 to 23:59)")
    return int(match[1]) * 60 + int(match[2])


def _enum_arg(enum_type: type[enum.IntEnum], text: str, what: str) -> Any:
    name = text.strip().upper().replace("-", "_")
    try:
        return enum_type[name]
    except KeyError:
        choices = ", ".join(e.name.lower().replace("_", "-") for e in enum_type)
        raise UsageError(f"{what}: {text!r} is not one of: {choices}") from None


# -- formatting ------------------------------------------------------------------------------


def fmt_time(clock_s: int | None) -> str:
    """A pump-clock time in UTC (``none`` for None)."""
    return "none" if clock_s is None else units.format_clock_utc(clock_s)


def fmt_duration(seconds: int) -> str:
    """A duration: ``1 d 2 h 3 min 4 s`` (:func:`protocol.units.format_duration`)."""
    return units.format_duration(seconds)


def fmt_dose_rate(rate_nl_per_day: int, concentration: int) -> str:
    dose = units.rate_to_dose_ug_per_day(rate_nl_per_day, concentration)
    return f"{units.format_dose_ug_per_day(dose)} ({units.format_rate_nl_per_day(rate_nl_per_day)})"


def fmt_dose_ng_per_day(dose_ng_per_day: int, concentration: int) -> str:
    """A dose (ng/day on the wire) in mcg/day, with the rate it needs at a concentration."""
    rate = rate_for_dose(dose_ng_per_day, concentration)
    dose = Fraction(dose_ng_per_day, NG_PER_UG)
    return f"{units.format_dose_ug_per_day(dose)} ({units.format_rate_nl_per_day(rate)})"


def _dose_ng(text: str, what: str, unit: str = "mcg/day") -> int:
    """A dose typed in mcg (or mcg/day) as whole ng."""
    return units.round_half_even(_number(text, what, unit) * NG_PER_UG)


def _name(value: enum.Enum) -> str:
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
    return [_name(spec.mode)]


# -- the commands ----------------------------------------------------------------------------

Printer = Callable[[Any, list[str]], None]


def cmd_limits(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    lim = client.limits()
    vol = units.format_volume_nl
    standard = ", ".join(f"{c} mcg/mL" for c in lim.standard_concentrations_ug_per_ml)
    out(
        lim,
        [
            f"alarm volume:         {vol(lim.min_alarm_volume_nl)} to "
            f"{vol(lim.max_alarm_volume_nl)}",
            f"bolus volume:         {vol(lim.min_bolus_volume_nl)} to "
            f"{vol(lim.max_bolus_volume_nl)}",
            f"bolus duration:       at most {fmt_duration(lim.max_bolus_duration_s)}",
            f"patient dose:         at most {vol(lim.max_patient_dose_volume_nl)}, "
            f"{lim.max_patient_doses_per_24h} in 24 h",
            f"patient lockout:      {fmt_duration(lim.min_patient_lockout_s)} to "
            f"{fmt_duration(lim.max_patient_lockout_s)}",
            f"concentrations:       {standard}; others {lim.min_concentration_ug_per_ml} to "
            f"{lim.max_concentration_ug_per_ml} mcg/mL when confirmed",
            f"flex:                 at most {lim.max_flex_steps} steps a day, starting on "
            f"multiples of {lim.flex_step_granularity_min} min",
        ],
    )


def cmd_info(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    info = client.device_info()
    out(
        info,
        [
            f"model:                {info.model} mL pump",
            f"serial:               {info.serial}",
            f"firmware:             {info.firmware_version}",
            f"reservoir capacity:   {units.format_volume_nl(info.capacity_nl)}",
            f"protocol version:     {info.protocol_version}",
            f"programmable rate:    {units.format_rate_nl_per_day(info.min_rate_nl_per_day)} "
            f"to {units.format_rate_nl_per_day(info.max_rate_nl_per_day)}",
            f"minimum-rate mode:    "
            f"{units.format_rate_nl_per_day(info.minimum_mode_rate_nl_per_day)}",
            f"empty threshold:      {units.format_volume_nl(info.empty_threshold_nl)}",
            f"internal tubing:      {units.format_volume_nl(info.tubing_volume_nl)}",
        ],
    )


def status_lines(s: m.StatusResponse) -> list[str]:
    """The interrogation summary as aligned lines with units (also used by the demo)."""
    conc = s.concentration_ug_per_ml
    active = sorted(s.alarms_active)
    alarm_text = (
        ", ".join(
            f"{_name(a)} ({_name(ALARM_CLASS[a])}"
            + (", silenced" if a in s.alarms_silenced else "")
            + ")"
            for a in active
        )
        or "none"
    )
    rate_conc = s.bridge_concentration_ug_per_ml or conc
    halted = ", ".join(_name(a) for a in sorted(s.halted_by))
    if s.mode is Mode.STOPPED:
        why = (
            f" (STOP_PUMP: {_name(s.stop_reason)})"
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
        f"mode:                 {_name(s.mode)}{delivery}",
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
            f"bolus running:        {_name(s.bolus_kind)}, {dose}"
            f"{units.format_volume_nl(s.bolus_volume_nl)}, "
            f"{units.format_volume_nl(s.bolus_remaining_nl)} left, "
            f"ends {fmt_time(s.bolus_ends_at_s)}",
        )
    return lines


def cmd_interrogate(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    info = client.device_info()
    status = client.status()
    lines = [
        f"pump:                 {info.model} mL, serial {info.serial}, "
        f"firmware {info.firmware_version}"
    ]
    lines += status_lines(status)
    data: dict[str, Any] = {"device": info, "status": status}
    if client.role is Role.CLINICIAN:
        prescription = client.read_prescription()
        lines.append("prescription:")
        lines += [
            "  " + line
            for line in describe_prescription(
                prescription.prescription,
                status.bridge_concentration_ug_per_ml or status.concentration_ug_per_ml,
            )
        ]
        data["prescription"] = prescription
    out(data, lines)


def cmd_status(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    status = client.status()
    out(status, status_lines(status))


def _concentration(client: PumpClient, args: argparse.Namespace) -> int:
    """The concentration a prescription names: --concentration, else the pump's drug (the
    pump refuses any other with CONCENTRATION_MISMATCH)."""
    if getattr(args, "concentration", None) is not None:
        return int(_number(args.concentration, "--concentration", "mcg/mL"))
    return client.status().concentration_ug_per_ml


def _steps(text: str) -> tuple[m.FlexStep, ...]:
    steps = []
    for item in text.split(","):
        start, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"flex step {item!r}: write HH:MM=DOSE, e.g. 07:00=450")
        steps.append(
            m.FlexStep(start_min=_clock_of_day(start), dose_ng_per_day=_dose_ng(value, "dose"))
        )
    return tuple(steps)


def _spec_from_args(args: argparse.Namespace, concentration: int) -> m.PrescriptionSpec:
    mode = args.mode
    if mode == "minimum-rate":
        return m.PrescriptionSpec.minimum_rate(concentration_ug_per_ml=concentration)
    if mode == "simple":
        if args.dose is None:
            raise UsageError("program simple needs --dose MCG/DAY")
        return m.PrescriptionSpec.simple(
            _dose_ng(args.dose, "--dose"), concentration_ug_per_ml=concentration
        )
    days = [getattr(args, d) for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
    if args.steps is not None and any(days):
        raise UsageError("give either --steps (every day) or per-weekday --mon ... --sun")
    if args.steps is not None:
        return m.PrescriptionSpec.flex(_steps(args.steps), concentration_ug_per_ml=concentration)
    if not all(days):
        raise UsageError("program flex needs --steps, or all seven of --mon ... --sun")
    return m.PrescriptionSpec.flex_weekly(
        (_steps(d) for d in days), concentration_ug_per_ml=concentration
    )


def _build_spec(client: PumpClient, args: argparse.Namespace) -> m.PrescriptionSpec:
    return _spec_from_args(args, _concentration(client, args))


def _day_doses(spec: m.PrescriptionSpec, info: m.DeviceInfoResponse) -> list[Fraction]:
    return [
        daily_dose_ng(spec, wd, minimum_mode_rate_nl_per_day=info.minimum_mode_rate_nl_per_day)
        / NG_PER_UG
        for wd in range(7)
    ]


def _dose_change_lines(
    before: m.PrescriptionSpec, after: m.PrescriptionSpec, info: m.DeviceInfoResponse
) -> list[str]:
    """The 24-hour dose before and after, per weekday when the profiles differ by day."""
    old, new = _day_doses(before, info), _day_doses(after, info)
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

    def change(a: Fraction, b: Fraction) -> str:
        return units.format_percent((b - a) / a) if a else "n/a"

    if len(set(old)) == 1 and len(set(new)) == 1:
        return [
            f"24-hour dose:         {units.format_dose_ug_per_day(old[0])} -> "
            f"{units.format_dose_ug_per_day(new[0])} (change {change(old[0], new[0])})"
        ]
    return ["24-hour dose by weekday:"] + [
        f"  {names[wd]}: {units.format_dose_ug_per_day(old[wd])} -> "
        f"{units.format_dose_ug_per_day(new[wd])} (change {change(old[wd], new[wd])})"
        for wd in range(7)
    ]


def cmd_program(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    if args.mode == "stop":
        reason = _enum_arg(StopReason, args.reason, "--reason")
        client.stop(reason)
        out(
            {"stopped": True, "reason": reason},
            [f"pump STOPPED (reason: {_name(reason)}). Withdrawal risk: resume promptly."],
        )
        return
    info = client.device_info()
    before = client.read_prescription().prescription
    spec = _build_spec(client, args)
    active = client.program(spec)
    after = client.status()
    conc = after.bridge_concentration_ug_per_ml or after.concentration_ug_per_ml
    lines = ["programmed and confirmed (checksum read back):"]
    lines += ["  " + line for line in describe_prescription(active.prescription, conc)]
    lines += _dose_change_lines(before, active.prescription, info)
    lines.append(f"low-reservoir alarm:  {fmt_time(after.low_reservoir_alarm_at_s)}")
    out({"prescription": active, "status": after}, lines)


def cmd_resume(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    response = client.resume()
    out(response, [f"resumed: {_name(response.mode)}"])


def _refill_prescription(
    current: m.PrescriptionSpec, args: argparse.Namespace, old_conc: int, new_conc: int
) -> m.PrescriptionSpec:
    """What runs on the new drug: --dose, else (--same-dose, or no change of drug) the
    ``current`` doses named for the new drug."""
    if args.dose is not None:
        if args.same_dose:
            raise UsageError("give --dose MCG/DAY or --same-dose, not both")
        return m.PrescriptionSpec.simple(
            _dose_ng(args.dose, "--dose"), concentration_ug_per_ml=new_conc
        )
    if new_conc != old_conc and not args.same_dose:
        raise UsageError(
            f"the concentration changes ({old_conc} -> {new_conc} mcg/mL): say what runs on "
            "the new drug, --dose MCG/DAY or --same-dose (keeps the mcg/day; the rate changes). "
            "A pump that kept its rate would deliver "
            + units.format_percent(Fraction(new_conc, old_conc))
            + " of the dose"
        )
    return current.with_concentration(new_conc)


def cmd_refill(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    info = client.device_info()
    status = client.status()
    old_conc = status.concentration_ug_per_ml
    new_conc = int(_number(args.concentration, "--concentration", "mcg/mL"))
    before = client.read_prescription().prescription
    spec = _refill_prescription(before, args, old_conc, new_conc)
    bridge = new_conc != old_conc and not args.no_bridge
    result = client.refill(
        removed_nl=_ml_to_nl(args.removed, "--removed"),
        added_nl=_ml_to_nl(args.added, "--added"),
        concentration_ug_per_ml=new_conc,
        prescription=spec,
        bridge=bridge,
        drug_lot=args.lot or "",
        allow_nonstandard=args.allow_nonstandard,
    )
    lines = [
        f"expected in reservoir: {units.format_volume_nl(result.expected_nl)}",
        f"discrepancy:          {units.format_volume_nl(result.discrepancy_nl)}"
        + (
            "  ** OVER THE LIMIT: check for a pocket fill or a catheter problem **"
            if result.discrepancy_flagged
            else ""
        ),
        f"reservoir now:        {units.format_volume_nl(result.reservoir_nl)} of "
        f"{units.format_concentration_ug_per_ml(new_conc)}",
        *_dose_change_lines(before, spec, info),
    ]
    if result.bridge_volume_nl:
        lines.append(
            f"bridge:               {units.format_volume_nl(result.bridge_volume_nl)} "
            f"dead volume at {units.format_concentration_ug_per_ml(old_conc)}, "
            f"ends {fmt_time(result.bridge_ends_at_s)}"
        )
    elif new_conc != old_conc:
        lines.append(
            "bridge:               none (declined): the catheter's old drug reaches the "
            "patient at the new rates"
        )
    lines.append(f"low-reservoir alarm:  {fmt_time(result.low_reservoir_alarm_at_s)}")
    out(result, lines)


def cmd_cancel_bridge(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    result = client.cancel_bridge()
    out(
        result,
        [
            f"bridge cancelled after {units.format_volume_nl(result.delivered_nl)}; "
            f"{units.format_volume_nl(result.remaining_nl)} of the old drug is still in the "
            "catheter and now runs at the new rates"
        ],
    )


def cmd_valve(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    """The pump kind and a flow-activated valve's state; ``reset`` reopens a closed valve."""
    if args.action == "reset":
        closed_s = client.reset_valve()
        out(
            {"closed_for_s": closed_s},
            [f"valve reset after {emergency.fmt_duration(closed_s)} closed: delivery resumes"],
        )
        return
    valve = client.read_valve()
    state = (
        f"CLOSED since {emergency.fmt_time(valve.closed_since_s)}: no delivery until "
        "`pumpctl valve reset`"
        if valve.closed
        else "open"
    )
    lines = [f"pump kind:            {emergency.VALVE_WORDS[valve.valve_model]}"]
    if valve.valve_model is ValveModel.VALVE_FLOW_ACTIVATED:
        lines.append(f"flow-activated valve: {state}")
    out(valve, lines)


def cmd_bolus(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    if args.kind == "cancel":
        delivered = client.cancel_bolus()
        out(
            {"delivered_nl": delivered},
            [f"bolus cancelled after {units.format_volume_nl(delivered)}"],
        )
        return
    if args.kind == "therapeutic":
        if args.dose is None or args.duration is None:
            raise UsageError("bolus therapeutic needs --dose MCG and --duration MIN")
        result = client.start_bolus(
            dose_ng=_dose_ng(args.dose, "--dose", "mcg"),
            duration_s=int(_number(args.duration, "--duration", "min") * 60),
        )
        what = f"{units.format_dose_ug(Fraction(result.dose_ng, NG_PER_UG))} in "
    else:
        if args.volume is None:
            raise UsageError("bolus priming needs --volume ML")
        result = client.start_priming(volume_nl=_ml_to_nl(args.volume, "--volume"))
        what = "priming (drug and catheter fluid mix at the maximum rate): "
    out(
        result,
        [
            f"{args.kind} bolus started: {what}{units.format_volume_nl(result.volume_nl)} over "
            f"{fmt_duration(result.duration_s)}, ends {fmt_time(result.ends_at_s)}",
        ],
    )


def implant_lines(r: m.ReadImplantResponse) -> list[str]:
    """The implant record and the drug in the pump, in words."""
    return emergency.format_rows(emergency.implant_rows(r))


WITHDRAWAL_SIGNS = emergency.WITHDRAWAL_SIGNS
OVERDOSE_SIGNS = emergency.OVERDOSE_SIGNS


def cmd_emergency(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    """One interrogation, in the words an emergency department needs (either role): the
    rows of :func:`protocol.emergency.summary_rows` (the programmer's emergency page shows
    the same)."""
    reading = emergency.EmergencyReading.read(client)
    data: dict[str, Any] = {
        "device": reading.device,
        "status": reading.status,
        "delivery": reading.delivery,
        "valve": reading.valve,
    }
    if reading.implant is not None:
        data["implant"] = reading.implant
    lines = [emergency.TITLE, *emergency.format_rows(emergency.summary_rows(reading))]
    out(data, lines)


def cmd_implant(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    if args.action == "set":
        fields = m.ImplantFields(
            catheter_model=args.catheter_model,
            catheter_volume_nl_per_cm=units.ml_to_nl(
                _number(args.volume_per_cm, "--volume-per-cm", "mL/cm")
            ),
            catheter_length_mm=units.round_half_even(_number(args.length, "--length", "cm") * 10),
            catheter_length_uncertainty_mm=units.round_half_even(
                _number(args.uncertainty, "--uncertainty", "cm") * 10
            ),
            implanted_at_s=None if args.implanted is None else _parse_iso(args.implanted),
            patient_id=args.patient_id,
            origin=_enum_arg(Origin, args.origin, "--origin"),
            physician=args.physician,
        )
        client.set_implant(fields)
    record = client.implant()
    out(record, implant_lines(record))


def cmd_alarms(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    response = client.alarms()
    lines = [
        f"{_name(a.code):<22} {_name(a.alarm_class):<13} raised {fmt_time(a.raised_at_s)}"
        + ("  silenced" if a.silenced else "")
        + ("" if a.condition_present else "  (condition gone: can be cleared)")
        for a in response.alarms
    ] or ["no alarms"]
    out(response, lines)


def cmd_silence(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    code = _enum_arg(AlarmCode, args.alarm, "alarm")
    client.silence_alarm(code)
    out({"silenced": code}, [f"{_name(code)} silenced (the alarm stays until cleared)"])


def cmd_clear(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    code = _enum_arg(AlarmCode, args.alarm, "alarm")
    client.clear_alarm(code)
    out({"cleared": code}, [f"{_name(code)} cleared"])


def cmd_set_alarm_volume(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    volume = client.set_alarm_volume(_ml_to_nl(args.volume, "alarm volume"))
    out({"volume_nl": volume}, [f"low-reservoir alarm volume: {units.format_volume_nl(volume)}"])


def fmt_param(name: str, value: int) -> str:
    """An event-log parameter in words, with its unit (:mod:`protocol.describe`)."""
    label = EVENT_PARAM_LABELS.get(name, name)
    if name == "delta_s":
        text = describe.describe_param(name, abs(value), describe.CLINICAL)
        return f"{label}={text}" + (" back" if value < 0 else "")
    return f"{label}={describe.describe_param(name, value, describe.CLINICAL)}"


def cmd_log(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    entries = list(client.event_log(args.first))
    if args.count is not None:
        entries = entries[-args.count :]
    lines = []
    for e in entries:
        names = EVENT_PARAMS[e.code]
        params = ", ".join(
            fmt_param(n, v) for n, v in zip(names, (e.a, e.b), strict=True) if n != "unused"
        )
        lines.append(f"#{e.index:<6} {fmt_time(e.clock_s)}  {_name(e.code):<22} {params}")
    out({"entries": entries}, lines or ["the event log is empty"])


def cmd_clock(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    if args.set is None:
        clock = client.read_clock()
    else:
        target = int(time.time()) if args.set == "now" else _parse_iso(args.set)
        clock = client.set_clock(target)
    out({"clock_s": clock}, [f"pump clock: {fmt_time(clock)}"])


def _parse_iso(text: str) -> int:
    """A date and time given on the command line (:func:`protocol.units.parse_clock`)."""
    try:
        return units.parse_clock(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _timeout(text: str) -> float:
    """``--timeout``: seconds, a plain ASCII decimal from 0.01 to 3600."""
    if _DECIMAL.fullmatch(text) is None or not 0.01 <= float(text) <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(
            f"{text[:30]!r} is not a number of seconds from 0.01 to {MAX_TIMEOUT_S}"
        )
    return float(text)


def _retries(text: str) -> int:
    """``--retries``: a whole number from 0 to 100, ASCII digits."""
    if re.fullmatch(r"[0-9]{1,3}", text, re.ASCII) is None or int(text) > MAX_RETRIES:
        raise argparse.ArgumentTypeError(
            f"{text[:30]!r} is not a whole number from 0 to {MAX_RETRIES}"
        )
    return int(text)


def cmd_patient_settings(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    current = client.patient_settings()
    if any(
        v is not None
        for v in (args.enable, args.dose, args.duration, args.lockout, args.max_per_day)
    ):
        result: m.PatientSettingsFields = client.set_patient_settings(
            enabled=current.enabled if args.enable is None else args.enable,
            dose_ng=current.dose_ng if args.dose is None else _dose_ng(args.dose, "--dose", "mcg"),
            duration_s=current.duration_s
            if args.duration is None
            else int(_number(args.duration, "--duration", "min") * 60),
            lockout_s=current.lockout_s
            if args.lockout is None
            else int(_number(args.lockout, "--lockout", "h") * 3600),
            max_per_24h=current.max_per_24h if args.max_per_day is None else args.max_per_day,
        )
    else:
        result = current
    out(
        result,
        [
            f"patient doses:        {'enabled' if result.enabled else 'disabled'}",
            f"dose:                 {units.format_dose_ug(Fraction(result.dose_ng, NG_PER_UG))} "
            f"over {fmt_duration(result.duration_s)}",
            f"lockout:              {fmt_duration(result.lockout_s)}",
            f"maximum per 24 h:     {result.max_per_24h}",
        ],
    )


def cmd_patient_dose(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    grant = client.patient_dose()
    out(
        grant,
        [
            f"dose granted: {units.format_dose_ug(Fraction(grant.dose_ng, NG_PER_UG))} "
            f"({units.format_volume_nl(grant.volume_nl)}), "
            f"ends {fmt_time(grant.ends_at_s)}",
            f"doses in the last 24 h: {grant.doses_in_24h}; "
            f"next allowed {fmt_time(grant.next_allowed_at_s)}",
        ],
    )


# -- the parser ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(
        prog="pumpctl",
        description="Read and program a vpump implantable pump over its telemetry link.",
        epilog=__doc__.split("\n\n", 2)[2] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port",
        default=DEFAULT_PORT,
        help=f"pty path, socket://HOST:PORT or pumpsim://NAME (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--key",
        default=str(DEMO_KEY_FILE),
        help="key file (default: the public demo key shipped with vpump, protocol/data/demo.key)",
    )
    parser.add_argument(
        "--role",
        choices=["clinician", "patient"],
        default="clinician",
        help="session role (default clinician)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds to wait for each answer (default {DEFAULT_TIMEOUT_S:g} s)",
    )
    parser.add_argument(
        "--retries",
        type=_retries,
        default=DEFAULT_RETRIES,
        help=f"retransmissions before giving up (default {DEFAULT_RETRIES})",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[..., None], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    add("info", cmd_info, "identify the pump (no session needed)")
    add(
        "emergency",
        cmd_emergency,
        "what an emergency department needs from one interrogation (clinician or patient role)",
    )
    add("limits", cmd_limits, "the limits the pump enforces (alarm volume, boluses, doses)")
    add("status", cmd_status, "the pump's state, alarms and forecasts")
    add("interrogate", cmd_interrogate, "device, status and prescription in one read")

    program = add(
        "program",
        cmd_program,
        "program a new prescription (staged, verified, committed), or stop the pump",
    )
    modes = program.add_subparsers(dest="mode", required=True, metavar="MODE")
    simple = modes.add_parser(
        "simple",
        help="one dose all day",
        description="one dose all day, --dose in mcg/day of the drug in the pump",
    )
    simple.add_argument("--dose", help="daily dose, mcg/day")
    simple.add_argument(
        "--concentration",
        help="the drug the dose is of, mcg/mL (default: the pump's; any other is refused)",
    )
    flex = modes.add_parser(
        "flex",
        help="a daily profile of up to 13 steps",
        description="flex dosing. Steps are HH:MM=DOSE (mcg/day) separated by commas; the "
        "first starts at 00:00 and each runs until the next. Example: "
        "--steps 00:00=400,07:00=450,22:00=350",
    )
    flex.add_argument("--steps", help="the profile for every day")
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        flex.add_argument(f"--{day}", help=f"the profile for {day} (give all seven)")
    flex.add_argument(
        "--concentration",
        help="the drug the doses are of, mcg/mL (default: the pump's; any other is refused)",
    )
    modes.add_parser(
        "minimum-rate",
        help="keep-open flow only",
        description="keep-open flow only (the model's minimum-rate flow)",
    )
    stop = modes.add_parser(
        "stop",
        help="stop delivery (withdrawal risk!)",
        description="stop delivery, recording why; `pumpctl resume` restarts the last mode",
    )
    stop.add_argument(
        "--reason",
        default="clinician-decision",
        help="clinician-decision, mri, catheter-revision, adverse-effect, other",
    )

    add("resume", cmd_resume, "resume delivery after a stop")

    refill = add(
        "refill",
        cmd_refill,
        "refill as one transaction: the reservoir emptied and refilled, the dose on the new "
        "drug and, when the concentration changes, the bridge",
    )
    refill.add_argument("--removed", required=True, help="volume emptied from the pump, mL")
    refill.add_argument("--added", required=True, help="volume injected, mL")
    refill.add_argument("--concentration", required=True, help="new drug concentration, mcg/mL")
    refill.add_argument("--dose", help="new daily dose on the new drug, mcg/day (simple)")
    refill.add_argument(
        "--same-dose",
        action="store_true",
        help="keep the current mcg/day on the new drug (the rate changes)",
    )
    refill.add_argument(
        "--no-bridge",
        action="store_true",
        help="decline the bridge after a concentration change (the catheter's old drug then "
        "runs at the new rates)",
    )
    refill.add_argument("--lot", help="lot number of the drug added")
    refill.add_argument(
        "--allow-nonstandard",
        action="store_true",
        help="accept a concentration outside the commercial list",
    )

    add(
        "cancel-bridge",
        cmd_cancel_bridge,
        "end a running bridge now (the rates change to the new concentration)",
    )

    valve = add("valve", cmd_valve, "the pump kind (motor or valve pump); reset a closed valve")
    valve.add_argument("action", nargs="?", choices=["show", "reset"], default="show")

    bolus = add("bolus", cmd_bolus, "start or cancel a bolus")
    bolus.add_argument("kind", choices=["therapeutic", "priming", "cancel"])
    bolus.add_argument("--dose", help="therapeutic dose, mcg")
    bolus.add_argument("--duration", help="therapeutic duration, minutes")
    bolus.add_argument("--volume", help="priming volume, mL (runs at the maximum rate)")

    implant = add("implant", cmd_implant, "read or write the implant record")
    implant.add_argument("action", nargs="?", choices=["show", "set"], default="show")
    implant.add_argument("--catheter-model", default="", help="catheter model name")
    implant.add_argument(
        "--volume-per-cm", default="0.0026", help="catheter dead volume, mL/cm (default 0.0026)"
    )
    implant.add_argument("--length", default="110", help="catheter length after trimming, cm")
    implant.add_argument("--uncertainty", default="0", help="+/- on the length, cm (default 0)")
    implant.add_argument("--implanted", help="implant date, ISO 8601 with zone")
    implant.add_argument("--patient-id", default="", help="patient identifier")
    implant.add_argument(
        "--origin", default="unknown", help="origin of the spasticity: spinal, cerebral, unknown"
    )
    implant.add_argument("--physician", default="", help="implanting or managing physician")

    add("alarms", cmd_alarms, "list the alarms")
    for name, handler, verb in (
        ("silence", cmd_silence, "silence (stop its tone)"),
        ("clear", cmd_clear, "clear (only once its condition is gone)"),
    ):
        p = add(name, handler, f"{verb} an alarm")
        p.add_argument("alarm", help=", ".join(_name(a) for a in AlarmCode))

    alarm_volume = add(
        "set-alarm-volume", cmd_set_alarm_volume, "set the low-reservoir alarm volume"
    )
    alarm_volume.add_argument("volume", help="mL")

    log = add("log", cmd_log, "read the event log")
    log.add_argument("--first", type=int, default=0, help="first entry index (default 0)")
    log.add_argument("--count", type=int, help="only the last COUNT entries")

    clock = add("clock", cmd_clock, "read or set the pump clock")
    clock.add_argument("--set", help="'now' (this computer's clock) or an ISO 8601 time with zone")

    settings = add(
        "patient-settings",
        cmd_patient_settings,
        "read or change the patient-activated dose settings",
    )
    enable = settings.add_mutually_exclusive_group()
    enable.add_argument("--enable", dest="enable", action="store_const", const=True)
    enable.add_argument("--disable", dest="enable", action="store_const", const=False)
    settings.add_argument("--dose", help="dose per activation, mcg")
    settings.add_argument("--duration", help="minutes to deliver one dose")
    settings.add_argument("--lockout", help="hours between doses")
    settings.add_argument("--max-per-day", type=int, help="doses allowed in any 24 h")

    add("patient-dose", cmd_patient_dose, "request a patient-activated dose")
    return parser


def _fail(code: int, message: str) -> NoReturn:
    print(f"pumpctl: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pumpctl`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    role = Role[args.role.upper()]

    def out(data: Any, lines: list[str]) -> None:
        if args.json:
            print(json.dumps(to_jsonable(data), sort_keys=True))
        else:
            print("\n".join(lines))

    try:
        key = None
        if args.command != "info":
            key = key_for(load_keys(args.key), role, source=args.key)
        with PumpClient(
            args.port, key=key, role=role, timeout_s=args.timeout, retries=args.retries
        ) as client:
            args.handler(client, args, out)
    except (UsageError, KeyFileError, InvalidMessage) as exc:
        _fail(EXIT_USAGE, str(exc))
    except (LinkTimeout, LinkClosed) as exc:
        _fail(EXIT_LINK, f"link error: {exc}")
    except NakError as exc:
        if exc.code is ErrorCode.FORBIDDEN:
            _fail(EXIT_AUTH, f"not permitted in the {role.name.lower()} role: {exc}")
        if exc.code in _SESSION_CODES:
            _fail(EXIT_AUTH, f"session refused: {exc}")
        _fail(EXIT_REFUSED, f"refused by the pump: {exc}")
    except (AuthenticationError, BadMacError) as exc:
        _fail(EXIT_AUTH, f"authentication failed: {exc}")
    except ProgrammingError as exc:
        _fail(EXIT_REFUSED, f"not confirmed: {exc}")
    except (ProtocolError, StateError) as exc:
        _fail(EXIT_LINK, f"protocol error: {exc}")
    except BrokenPipeError:
        # The reader went away (`pumpctl log | head`): not an error of ours. Point stdout at
        # /dev/null so the interpreter's final flush does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
