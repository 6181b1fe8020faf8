"""``pumpctl``: talk to a pump (real or virtual) from the command line.

Human output shows units on every number; ``--json`` prints one stable JSON
object per command (enum values by name, volumes in nL, rates in nL/day,
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
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, NoReturn

from protocol import messages as m
from protocol import units
from protocol.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, ProgrammingError, PumpClient
from protocol.enums import (
    ALARM_CLASS,
    EVENT_PARAMS,
    AlarmClass,
    AlarmCode,
    BolusKind,
    ErrorCode,
    Mode,
    Op,
    Role,
    StopReason,
)
from protocol.errors import (
    AuthenticationError,
    BadMacError,
    InvalidMessage,
    LinkClosed,
    LinkTimeout,
    NakError,
    ProtocolError,
    StateError,
)
from protocol.keys import DEMO_KEY_FILE, KeyFileError, key_for, load_keys

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


class UsageError(Exception):
    """A value on the command line is not acceptable (exit 2)."""


# -- parsing values with their units ---------------------------------------------------------

_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)  # ASCII digits only: never a full-width 5
_DECIMAL = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?", re.ASCII)

MAX_TIMEOUT_S = 3600
"""Longest --timeout accepted, s."""
MAX_RETRIES = 100
"""Most --retries accepted."""


def _number(text: str, what: str, unit: str) -> Fraction:
    """A plain decimal written out in full: no sign, no exponent, no lone or trailing point
    (``.5`` and ``5.`` are refused: decimal slips are a documented cause of overdoses)."""
    value = text.strip()
    if value.endswith(unit):
        value = value[: -len(unit)].strip()
    if not _NUMBER.fullmatch(value):
        raise UsageError(
            f"{what}: {text!r} is not a plain decimal number in {unit} (write e.g. 0.5, not .5)"
        )
    return Fraction(value)


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
    if clock_s is None:
        return "none"
    return datetime.fromtimestamp(clock_s, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes:
        parts.append(f"{minutes} min")
    if secs or not parts:
        parts.append(f"{secs} s")
    return " ".join(parts)


def fmt_dose_rate(rate_nl_per_day: int, concentration: int) -> str:
    dose = units.rate_to_dose_ug_per_day(rate_nl_per_day, concentration)
    return f"{units.format_dose_ug_per_day(dose)} ({units.format_rate_nl_per_day(rate_nl_per_day)})"


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
    if spec.mode is Mode.SIMPLE:
        assert spec.rate_nl_per_day is not None
        return [f"simple continuous: {fmt_dose_rate(spec.rate_nl_per_day, concentration)}"]
    if spec.mode is Mode.FLEX:
        lines = ["flex" + (" (one profile per weekday)" if spec.weekly else " (every day)") + ":"]
        days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
        for i, profile in enumerate(spec.profiles):
            if spec.weekly:
                lines.append(f"  {days[i]}:")
            for step in profile:
                hh, mm = divmod(step.start_min, 60)
                rate = fmt_dose_rate(step.rate_nl_per_day, concentration)
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
            f"bolus volume:         {vol(lim.min_bolus_volume_nl, 3)} to "
            f"{vol(lim.max_bolus_volume_nl)}",
            f"bolus duration:       at most {fmt_duration(lim.max_bolus_duration_s)}",
            f"patient dose:         at most {vol(lim.max_patient_dose_volume_nl, 3)}, "
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
    lines = [
        f"pump clock:           {fmt_time(s.clock_s)}",
        f"mode:                 {_name(s.mode)}"
        + ("" if s.delivering else "  ** NOT DELIVERING **"),
        f"current rate:         {fmt_dose_rate(s.current_rate_nl_per_day, conc)}",
        f"24-hour dose:         {fmt_dose_rate(s.daily_volume_nl, conc)}",
        f"concentration:        {units.format_concentration_ug_per_ml(conc)} baclofen",
        f"reservoir:            {units.format_volume_nl(s.reservoir_nl)} of "
        f"{units.format_volume_nl(s.capacity_nl)} "
        f"(alarm at {units.format_volume_nl(s.alarm_volume_nl)})",
        f"low-reservoir alarm:  {fmt_time(s.low_reservoir_alarm_at_s)}",
        f"empty:                {fmt_time(s.empty_at_s)}",
        f"battery:              {units.format_fixed(Fraction(s.battery_permille, 10), 1)} %"
        f" (ERI {fmt_time(s.eri_at_s)})",
        f"alarms:               {alarm_text}",
    ]
    if s.bolus_kind is not BolusKind.NONE:
        lines.insert(
            3,
            f"bolus running:        {_name(s.bolus_kind)}, "
            f"{units.format_volume_nl(s.bolus_remaining_nl, 3)} left, "
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
                prescription.prescription, status.concentration_ug_per_ml
            )
        ]
        data["prescription"] = prescription
    out(data, lines)


def cmd_status(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    status = client.status()
    out(status, status_lines(status))


def _concentration(client: PumpClient, args: argparse.Namespace) -> int:
    if args.concentration is not None:
        return int(_number(args.concentration, "--concentration", "mcg/mL"))
    return client.status().concentration_ug_per_ml


def _rate(text: str, concentration: int, *, as_rate: bool) -> int:
    if as_rate:
        return units.ml_per_day_to_nl_per_day(_number(text, "rate", "mL/day"))
    return units.dose_to_rate_nl_per_day(_number(text, "dose", "mcg/day"), concentration)


def _steps(text: str, concentration: int, as_rate: bool) -> tuple[m.FlexStep, ...]:
    steps = []
    for item in text.split(","):
        start, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"flex step {item!r}: write HH:MM=DOSE, e.g. 07:00=450")
        steps.append(
            m.FlexStep(
                start_min=_clock_of_day(start),
                rate_nl_per_day=_rate(value, concentration, as_rate=as_rate),
            )
        )
    return tuple(steps)


def _build_spec(client: PumpClient, args: argparse.Namespace) -> m.PrescriptionSpec:
    mode = args.mode
    if mode == "minimum-rate":
        return m.PrescriptionSpec.minimum_rate()
    concentration = _concentration(client, args)
    if mode == "simple":
        if (args.dose is None) == (args.rate is None):
            raise UsageError("program simple needs exactly one of --dose MCG/DAY or --rate ML/DAY")
        text = args.rate if args.rate is not None else args.dose
        return m.PrescriptionSpec.simple(_rate(text, concentration, as_rate=args.rate is not None))
    days = [getattr(args, d) for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
    if args.steps is not None and any(days):
        raise UsageError("give either --steps (every day) or per-weekday --mon ... --sun")
    if args.steps is not None:
        return m.PrescriptionSpec.flex(_steps(args.steps, concentration, args.per_rate))
    if not all(days):
        raise UsageError("program flex needs --steps, or all seven of --mon ... --sun")
    return m.PrescriptionSpec.flex_weekly(_steps(d, concentration, args.per_rate) for d in days)


def cmd_program(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    if args.mode == "stop":
        reason = _enum_arg(StopReason, args.reason, "--reason")
        client.stop(reason)
        out(
            {"stopped": True, "reason": reason},
            [f"pump STOPPED (reason: {_name(reason)}). Withdrawal risk: resume promptly."],
        )
        return
    before = client.status()
    spec = _build_spec(client, args)
    active = client.program(spec)
    after = client.status()
    conc = after.concentration_ug_per_ml
    change = (
        units.format_percent(
            Fraction(after.daily_volume_nl - before.daily_volume_nl, before.daily_volume_nl)
        )
        if before.daily_volume_nl
        else "n/a"
    )
    lines = ["programmed and confirmed (checksum read back):"]
    lines += ["  " + line for line in describe_prescription(active.prescription, conc)]
    lines += [
        f"24-hour dose:         {fmt_dose_rate(before.daily_volume_nl, conc)} -> "
        f"{fmt_dose_rate(after.daily_volume_nl, conc)} (change {change})",
        f"low-reservoir alarm:  {fmt_time(after.low_reservoir_alarm_at_s)}",
    ]
    out({"prescription": active, "status": after}, lines)


def cmd_resume(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    response = client.resume()
    out(response, [f"resumed: {_name(response.mode)}"])


def cmd_refill(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    result = client.refill(
        removed_nl=_ml_to_nl(args.removed, "--removed"),
        added_nl=_ml_to_nl(args.added, "--added"),
        concentration_ug_per_ml=int(_number(args.concentration, "--concentration", "mcg/mL")),
        allow_nonstandard=args.allow_nonstandard,
    )
    lines = [
        f"expected in reservoir: {units.format_volume_nl(result.expected_nl)}",
        f"discrepancy:          {units.format_fixed(units.nl_to_ml(result.discrepancy_nl), 2)} mL"
        + (
            "  ** OVER THE LIMIT: check for a pocket fill or a catheter problem **"
            if result.discrepancy_flagged
            else ""
        ),
        f"reservoir now:        {units.format_volume_nl(result.reservoir_nl)}",
        f"low-reservoir alarm:  {fmt_time(result.low_reservoir_alarm_at_s)}",
    ]
    out(result, lines)


def cmd_bolus(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    if args.kind == "cancel":
        delivered = client.cancel_bolus()
        out(
            {"delivered_nl": delivered},
            [f"bolus cancelled after {units.format_volume_nl(delivered, 3)}"],
        )
        return
    kind = _enum_arg(BolusKind, args.kind, "bolus kind")
    if kind is BolusKind.THERAPEUTIC:
        if args.dose is None or args.duration is None:
            raise UsageError("bolus therapeutic needs --dose MCG and --duration MIN")
        concentration = _concentration(client, args)
        volume = units.dose_to_volume_nl(_number(args.dose, "--dose", "mcg"), concentration)
        duration = int(_number(args.duration, "--duration", "min") * 60)
    else:
        if args.volume is None:
            raise UsageError(f"bolus {args.kind} needs --volume ML")
        volume, duration = _ml_to_nl(args.volume, "--volume"), 0
    result = client.start_bolus(kind, volume, duration)
    out(
        result,
        [
            f"{_name(kind)} bolus started: {units.format_volume_nl(result.volume_nl, 3)} over "
            f"{fmt_duration(result.duration_s)}, ends {fmt_time(result.ends_at_s)}",
        ],
    )


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


_PARAM_ENUMS: dict[str, type[enum.IntEnum]] = {
    "error_code": ErrorCode,
    "opcode": Op,
    "alarm_code": AlarmCode,
    "alarm_class": AlarmClass,
    "role": Role,
    "mode": Mode,
    "bolus_kind": BolusKind,
    "stop_reason": StopReason,
}


def fmt_param(name: str, value: int) -> str:
    """An event-log parameter in words, with its unit."""
    if name in _PARAM_ENUMS:
        try:
            return f"{name}={_name(_PARAM_ENUMS[name](value))}"
        except ValueError:
            return f"{name}={value} (unknown)"
    if name.endswith("_nl"):
        return f"{name[:-3]}={units.format_volume_nl(value, 3)}"
    if name.endswith("_ug_per_ml"):
        return f"concentration={units.format_concentration_ug_per_ml(value)}"
    if name.endswith("_permille"):
        return f"{name[:-9]}={units.format_fixed(Fraction(value, 10), 1)} %"
    if name.endswith("_s"):
        return f"{name[:-2]}={fmt_duration(abs(value))}" + (" back" if value < 0 else "")
    return f"{name}={value}"


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
    if not text.isascii():
        raise UsageError(f"--set {text!r}: use 'now' or ISO 8601, e.g. 2026-11-20T08:00Z")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--set {text!r}: use 'now' or ISO 8601, e.g. 2026-11-20T08:00Z") from None
    if moment.tzinfo is None:
        raise UsageError(f"--set {text!r}: give a time zone (e.g. a trailing Z for UTC)")
    try:
        return units.check_pump_clock(int(moment.timestamp()), f"--set {text}:")
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
        concentration = client.status().concentration_ug_per_ml
        result: m.PatientSettingsFields = client.set_patient_settings(
            enabled=current.enabled if args.enable is None else args.enable,
            volume_nl=current.volume_nl
            if args.dose is None
            else units.dose_to_volume_nl(_number(args.dose, "--dose", "mcg"), concentration),
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
            f"dose volume:          {units.format_volume_nl(result.volume_nl, 3)} "
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
            f"dose granted: {units.format_volume_nl(grant.volume_nl, 3)}, "
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
        help="key file (default: the public demo key examples/keys/demo.key)",
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
        description="one dose all day: --dose in mcg/day or --rate mL/day",
    )
    simple.add_argument("--dose", help="daily dose, mcg/day")
    simple.add_argument("--rate", help="flow rate, mL/day (instead of --dose)")
    simple.add_argument("--concentration", help="mcg/mL (default: the pump's)")
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
        "--per-rate", action="store_true", help="step values are mL/day rates, not mcg/day doses"
    )
    flex.add_argument("--concentration", help="mcg/mL (default: the pump's)")
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

    refill = add("refill", cmd_refill, "record a refill: volume removed, added, concentration")
    refill.add_argument("--removed", required=True, help="volume emptied from the pump, mL")
    refill.add_argument("--added", required=True, help="volume injected, mL")
    refill.add_argument("--concentration", required=True, help="new drug concentration, mcg/mL")
    refill.add_argument(
        "--allow-nonstandard",
        action="store_true",
        help="accept a concentration outside the commercial list",
    )

    bolus = add("bolus", cmd_bolus, "start or cancel a bolus")
    bolus.add_argument("kind", choices=["therapeutic", "bridge", "priming", "cancel"])
    bolus.add_argument("--dose", help="therapeutic dose, mcg")
    bolus.add_argument("--duration", help="therapeutic duration, minutes")
    bolus.add_argument("--volume", help="bridge or priming volume, mL (runs at the bolus rate)")
    bolus.add_argument("--concentration", help="mcg/mL (default: the pump's)")

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
