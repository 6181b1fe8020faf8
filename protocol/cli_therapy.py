"""``pumpctl``'s commands that change what the pump delivers: ``program`` (or stop),
``resume``, ``refill``, ``cancel-bridge``, ``valve``, ``bolus``, ``patient-settings``,
``patient-dose``, with the prescription read off the command line. Each takes the open
client, the parsed arguments and a :data:`~protocol.cli_values.Printer`."""

from __future__ import annotations

import argparse
import re
from fractions import Fraction

from protocol import emergency, units
from protocol import messages as m
from protocol.cli_values import (
    Printer,
    UsageError,
    describe_prescription,
    dose_ng_arg,
    enum_arg,
    enum_word,
    fmt_time,
    ml_arg,
    number_arg,
)
from protocol.client import PumpClient
from protocol.enums import StopReason, ValveModel
from protocol.schedule import NG_PER_UG, daily_dose_ng


def _clock_of_day(text: str) -> int:
    match = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", text.strip(), re.ASCII)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise UsageError(f"step start {text!r} is not a time of day HH:MM (00:00 to 23:59)")
    return int(match[1]) * 60 + int(match[2])


def _concentration(client: PumpClient, args: argparse.Namespace) -> int:
    """The concentration a prescription names: --concentration, else the pump's drug (the
    pump refuses any other with CONCENTRATION_MISMATCH)."""
    if getattr(args, "concentration", None) is not None:
        return int(number_arg(args.concentration, "--concentration", "mcg/mL"))
    return client.status().concentration_ug_per_ml


def _steps(text: str) -> tuple[m.FlexStep, ...]:
    steps = []
    for item in text.split(","):
        start, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"flex step {item!r}: write HH:MM=DOSE, e.g. 07:00=450")
        steps.append(
            m.FlexStep(start_min=_clock_of_day(start), dose_ng_per_day=dose_ng_arg(value, "dose"))
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
            dose_ng_arg(args.dose, "--dose"), concentration_ug_per_ml=concentration
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
        reason = enum_arg(StopReason, args.reason, "--reason")
        client.stop(reason)
        out(
            {"stopped": True, "reason": reason},
            [f"pump STOPPED (reason: {enum_word(reason)}). Withdrawal risk: resume promptly."],
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
    out(response, [f"resumed: {enum_word(response.mode)}"])


def _refill_prescription(
    current: m.PrescriptionSpec, args: argparse.Namespace, old_conc: int, new_conc: int
) -> m.PrescriptionSpec:
    """What runs on the new drug: --dose, else (--same-dose, or no change of drug) the
    ``current`` doses named for the new drug."""
    if args.dose is not None:
        if args.same_dose:
            raise UsageError("give --dose MCG/DAY or --same-dose, not both")
        return m.PrescriptionSpec.simple(
            dose_ng_arg(args.dose, "--dose"), concentration_ug_per_ml=new_conc
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
    new_conc = int(number_arg(args.concentration, "--concentration", "mcg/mL"))
    before = client.read_prescription().prescription
    spec = _refill_prescription(before, args, old_conc, new_conc)
    bridge = new_conc != old_conc and not args.no_bridge
    result = client.refill(
        removed_nl=ml_arg(args.removed, "--removed"),
        added_nl=ml_arg(args.added, "--added"),
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
            dose_ng=dose_ng_arg(args.dose, "--dose", "mcg"),
            duration_s=int(number_arg(args.duration, "--duration", "min") * 60),
        )
        what = f"{units.format_dose_ug(Fraction(result.dose_ng, NG_PER_UG))} in "
    else:
        if args.volume is None:
            raise UsageError("bolus priming needs --volume ML")
        result = client.start_priming(volume_nl=ml_arg(args.volume, "--volume"))
        what = "priming (drug and catheter fluid mix at the maximum rate): "
    out(
        result,
        [
            f"{args.kind} bolus started: {what}{units.format_volume_nl(result.volume_nl)} over "
            f"{units.format_duration(result.duration_s)}, ends {fmt_time(result.ends_at_s)}",
        ],
    )


def cmd_patient_settings(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    current = client.patient_settings()
    if any(
        v is not None
        for v in (args.enable, args.dose, args.duration, args.lockout, args.max_per_day)
    ):
        result: m.PatientSettingsFields = client.set_patient_settings(
            enabled=current.enabled if args.enable is None else args.enable,
            dose_ng=current.dose_ng
            if args.dose is None
            else dose_ng_arg(args.dose, "--dose", "mcg"),
            duration_s=current.duration_s
            if args.duration is None
            else int(number_arg(args.duration, "--duration", "min") * 60),
            lockout_s=current.lockout_s
            if args.lockout is None
            else int(number_arg(args.lockout, "--lockout", "h") * 3600),
            max_per_24h=current.max_per_24h if args.max_per_day is None else args.max_per_day,
        )
    else:
        result = current
    out(
        result,
        [
            f"patient doses:        {'enabled' if result.enabled else 'disabled'}",
            f"dose:                 {units.format_dose_ug(Fraction(result.dose_ng, NG_PER_UG))} "
            f"over {units.format_duration(result.duration_s)}",
            f"lockout:              {units.format_duration(result.lockout_s)}",
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
