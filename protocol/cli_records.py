"""``pumpctl``'s commands that read the pump's records, and its alarms and clock: ``info``,
``limits``, ``status``, ``interrogate``, ``emergency``, ``implant``, ``alarms``,
``silence``, ``clear``, ``set-alarm-volume``, ``log``, ``clock``. Each takes the open
client, the parsed arguments and a :data:`~protocol.cli_values.Printer`."""

from __future__ import annotations

import argparse
import time
from typing import Any

from protocol import emergency, units
from protocol import messages as m
from protocol.cli_values import (
    Printer,
    clock_arg,
    describe_prescription,
    enum_arg,
    enum_word,
    fmt_param,
    fmt_time,
    implant_lines,
    ml_arg,
    number_arg,
    status_lines,
)
from protocol.client import PumpClient
from protocol.enums import EVENT_PARAMS, AlarmCode, Origin, Role


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
            f"bolus duration:       at most {units.format_duration(lim.max_bolus_duration_s)}",
            f"patient dose:         at most {vol(lim.max_patient_dose_volume_nl)}, "
            f"{lim.max_patient_doses_per_24h} in 24 h",
            f"patient lockout:      {units.format_duration(lim.min_patient_lockout_s)} to "
            f"{units.format_duration(lim.max_patient_lockout_s)}",
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
                number_arg(args.volume_per_cm, "--volume-per-cm", "mL/cm")
            ),
            catheter_length_mm=units.round_half_even(
                number_arg(args.length, "--length", "cm") * 10
            ),
            catheter_length_uncertainty_mm=units.round_half_even(
                number_arg(args.uncertainty, "--uncertainty", "cm") * 10
            ),
            implanted_at_s=None if args.implanted is None else clock_arg(args.implanted),
            patient_id=args.patient_id,
            origin=enum_arg(Origin, args.origin, "--origin"),
            physician=args.physician,
        )
        client.set_implant(fields)
    record = client.implant()
    out(record, implant_lines(record))


def cmd_alarms(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    response = client.alarms()
    lines = [
        f"{enum_word(a.code):<22} {enum_word(a.alarm_class):<13} raised {fmt_time(a.raised_at_s)}"
        + ("  silenced" if a.silenced else "")
        + ("" if a.condition_present else "  (condition gone: can be cleared)")
        for a in response.alarms
    ] or ["no alarms"]
    out(response, lines)


def cmd_silence(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    code = enum_arg(AlarmCode, args.alarm, "alarm")
    client.silence_alarm(code)
    out({"silenced": code}, [f"{enum_word(code)} silenced (the alarm stays until cleared)"])


def cmd_clear(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    code = enum_arg(AlarmCode, args.alarm, "alarm")
    client.clear_alarm(code)
    out({"cleared": code}, [f"{enum_word(code)} cleared"])


def cmd_set_alarm_volume(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    volume = client.set_alarm_volume(ml_arg(args.volume, "alarm volume"))
    out({"volume_nl": volume}, [f"low-reservoir alarm volume: {units.format_volume_nl(volume)}"])


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
        lines.append(f"#{e.index:<6} {fmt_time(e.clock_s)}  {enum_word(e.code):<22} {params}")
    out({"entries": entries}, lines or ["the event log is empty"])


def cmd_clock(client: PumpClient, args: argparse.Namespace, out: Printer) -> None:
    if args.set is None:
        clock = client.read_clock()
    else:
        target = int(time.time()) if args.set == "now" else clock_arg(args.set)
        clock = client.set_clock(target)
    out({"clock_s": clock}, [f"pump clock: {fmt_time(clock)}"])
