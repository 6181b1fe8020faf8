"""The emergency summary: what a clinician who does not manage the pump needs to act on,
from one interrogation and in plain clinical words (domain.md, "MRI and the emergency
visit"). ``pumpctl emergency`` prints it; the programmer's emergency page shows the same
rows (and prints them on one page).

:meth:`EmergencyReading.read` does the reads (either role: the patient role reads device,
status, delivery and valve; a clinician also the implant record and the event log);
:func:`summary_rows` turns them into ``(label, text)`` rows, every time on the pump clock.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from protocol import messages as m
from protocol import units
from protocol.client import PumpClient
from protocol.enums import AlarmCode, EventCode, Mode, Role, StopReason, ValveModel
from protocol.schedule import NG_PER_UG

__all__ = [
    "OVERDOSE_SIGNS",
    "WITHDRAWAL_SIGNS",
    "EmergencyReading",
    "fmt_duration",
    "fmt_time",
    "format_rows",
    "implant_rows",
    "summary_rows",
]

TITLE = "EMERGENCY SUMMARY (one interrogation; every time is the pump clock)"
LABEL_WIDTH = 22
"""Characters of a label column in plain text (the label and its colon, padded)."""
RECENT_S = 30 * 86_400
"""How far back the log's motor stalls and valve closures are listed (30 days)."""

WITHDRAWAL_SIGNS = (
    "baclofen withdrawal (delivery stopped or reduced): returning spasticity and rigidity, "
    "itching, fever, low blood pressure, altered mental state; severe cases can be fatal "
    "within 24-72 h: restore delivery or give enteral baclofen as the treating team advises"
)
OVERDOSE_SIGNS = (
    "baclofen overdose (too much delivered, e.g. a programming error or a valve pump "
    "discharged in an MRI): drowsiness, low muscle tone, slowed breathing, coma: support "
    "breathing, stop the pump"
)
HALT_WORDS = {
    AlarmCode.EMPTY_RESERVOIR: "the reservoir is empty",
    AlarmCode.EOS: "the battery is at end of service",
    AlarmCode.MOTOR_STALL: "the motor is stalled (after an MRI: it may resume late; "
    "interrogate again)",
    AlarmCode.MEMORY_CRITICAL: "a critical memory error",
}
VALVE_WORDS = {
    ValveModel.MOTOR: "motor-driven",
    ValveModel.VALVE_DISCHARGE: "original valve pump (an MRI field can discharge the "
    "reservoir at once: empty it before a scan)",
    ValveModel.VALVE_FLOW_ACTIVATED: "flow-activated valve pump (an MRI can close the valve: "
    "no delivery until a clinician resets it)",
}


def fmt_time(clock_s: int | None) -> str:
    """A pump-clock time as ``YYYY-MM-DD HH:MM:SS UTC`` ("none" for None;
    :func:`protocol.units.format_clock_utc`). ``pumpctl`` writes every time this way."""
    return "none" if clock_s is None else units.format_clock_utc(clock_s)


def fmt_duration(seconds: int) -> str:
    """``2 d 3 h 5 min``, to the second: :func:`protocol.units.format_duration` (exact)."""
    return units.format_duration(seconds, exact=True)


def _name(value: enum.Enum) -> str:
    return value.name.lower().replace("_", "-")


def _ago(now_s: int, then_s: int) -> str:
    return f"{fmt_time(then_s)} ({fmt_duration(max(now_s - then_s, 0))} ago)"


def _date(now_s: int, at_s: int | None) -> str:
    if at_s is not None and at_s <= now_s:
        return "reached"
    return fmt_time(at_s)


def implant_rows(r: m.ReadImplantResponse) -> list[tuple[str, str]]:
    """The implant record and the drug in the pump, as ``(label, text)`` rows."""
    drug = [
        (
            "drug",
            f"baclofen {units.format_concentration_ug_per_ml(r.concentration_ug_per_ml)}"
            + (f", lot {r.drug_lot}" if r.drug_lot else ""),
        ),
        ("last refill", fmt_time(r.last_refill_at_s)),
    ]
    if not r.recorded:
        return [("implant record", "none written (pumpctl implant set ...)"), *drug]
    i = r.implant
    length = units.Quantity.LENGTH.number(Fraction(i.catheter_length_mm, 10))
    plus = (
        f" +/- {units.Quantity.LENGTH.number(Fraction(i.catheter_length_uncertainty_mm, 10))} cm"
        if i.catheter_length_uncertainty_mm
        else ""
    )
    per_cm = units.format_trimmed(Fraction(i.catheter_volume_nl_per_cm, 1_000_000), 6)
    return [
        ("patient", f"{i.patient_id or '(not recorded)'} ({_name(i.origin)} spasticity)"),
        ("physician", i.physician or "(not recorded)"),
        (
            "implanted",
            "(not recorded)" if i.implanted_at_s is None else fmt_time(i.implanted_at_s),
        ),
        (
            "catheter",
            f"{i.catheter_model or '(model not recorded)'}, {length} cm{plus}, {per_cm} mL/cm",
        ),
        *drug,
    ]


def format_rows(rows: list[tuple[str, str]]) -> list[str]:
    """Rows as plain-text lines: the label and its colon padded to :data:`LABEL_WIDTH`
    (an empty label continues the row above)."""
    return [f"{(label + ':') if label else '':<{LABEL_WIDTH}}{text}" for label, text in rows]


@dataclass(frozen=True, kw_only=True)
class EmergencyReading:
    """What one emergency interrogation read."""

    device: m.DeviceInfoResponse
    status: m.StatusResponse
    delivery: m.ReadDeliveryResponse
    valve: m.ReadValveResponse
    implant: m.ReadImplantResponse | None = None
    """None in a patient-role session (it may not read the implant record)."""
    log: tuple[m.LogEntry, ...] | None = None
    """The event log; None in a patient-role session."""

    @classmethod
    def read(cls, client: PumpClient) -> EmergencyReading:
        """Interrogate through ``client`` (an open session of either role)."""
        device = client.device_info()
        status = client.status()
        delivery = client.read_delivery()
        valve = client.read_valve()
        implant: m.ReadImplantResponse | None = None
        log: tuple[m.LogEntry, ...] | None = None
        if client.role is Role.CLINICIAN:
            implant = client.implant()
            log = tuple(client.event_log())
        return cls(
            device=device, status=status, delivery=delivery, valve=valve, implant=implant, log=log
        )


def delivering_now(r: EmergencyReading) -> str:
    """Delivering now or not, why not, and since when (from the pump's own record)."""
    s, delivery = r.status, r.delivery
    if delivery.delivering:
        return f"YES, since {_ago(s.clock_s, delivery.since_s)}"
    if s.mode is Mode.STOPPED:
        why = _name(s.stop_reason) if s.stop_reason is not StopReason.NONE else "programmed"
        return f"NO: stopped by a clinician ({why}) since {_ago(s.clock_s, delivery.since_s)}"
    reasons = [HALT_WORDS.get(a, _name(a)) for a in sorted(s.halted_by)]
    if r.valve.closed:
        reasons.append(
            "the flow-activated valve is closed (after an MRI?): a clinician must reset it"
        )
    return (
        f"NO: {'; '.join(reasons) or 'not delivering'}; since {_ago(s.clock_s, delivery.since_s)}"
    )


def summary_rows(r: EmergencyReading) -> list[tuple[str, str]]:
    """The summary as ``(label, text)`` rows (an empty label continues the row above)."""
    s, delivery, info = r.status, r.delivery, r.device
    conc = s.concentration_ug_per_ml
    dose = units.format_dose_ug_per_day(Fraction(s.daily_dose_ng, NG_PER_UG))
    alarms = ", ".join(_name(a) for a in sorted(s.alarms_active)) or "none"
    rows = [
        ("pump", f"vpump {info.model} mL, serial {info.serial}"),
        ("drug", f"baclofen {units.format_concentration_ug_per_ml(conc)}"),
        ("dose", f"{dose} ({_name(s.mode)})"),
        ("delivering now", delivering_now(r)),
        (
            "reservoir",
            f"{units.format_volume_nl(s.reservoir_nl)}; low-reservoir alarm "
            f"{_date(s.clock_s, s.low_reservoir_alarm_at_s)}; "
            f"empty {_date(s.clock_s, s.empty_at_s)}",
        ),
        (
            "last refill",
            "none recorded"
            if delivery.last_refill_at_s is None
            else _ago(s.clock_s, delivery.last_refill_at_s),
        ),
        ("active alarms", alarms),
    ]
    if r.valve.valve_model is not ValveModel.MOTOR:
        rows.append(("pump kind", VALVE_WORDS[r.valve.valve_model]))
    if r.implant is not None:
        implant = implant_rows(r.implant)
        rows += implant[:4] if r.implant.recorded else [implant[0]]
    if r.log is not None:
        rows += _log_rows(r, r.log)
    rows += [("look for", WITHDRAWAL_SIGNS), ("", OVERDOSE_SIGNS)]
    return rows


def _log_rows(r: EmergencyReading, log: tuple[m.LogEntry, ...]) -> list[tuple[str, str]]:
    s, delivery = r.status, r.delivery
    rows: list[tuple[str, str]] = []
    halts = [
        e
        for e in log
        if e.code in (EventCode.DELIVERY_HALTED, EventCode.STOPPED, EventCode.VALVE_CLOSED)
    ]
    if delivery.delivering and halts and halts[-1].clock_s < delivery.since_s:
        gap = fmt_duration(delivery.since_s - halts[-1].clock_s)
        resumed = (
            "at this interrogation (an MRI's telemetry mode?)"
            if s.clock_s - delivery.since_s < 600
            else _ago(s.clock_s, delivery.since_s)
        )
        rows.append(
            (
                "last interruption",
                f"{gap} without delivery from {fmt_time(halts[-1].clock_s)}, resumed {resumed}",
            )
        )
    words: dict[EventCode, Callable[[m.LogEntry], str]] = {
        EventCode.MOTOR_STALL: lambda e: "motor stall (an MRI? delivery stopped)",
        EventCode.STALL_RECOVERY: lambda e: f"stall recovery after {fmt_duration(e.a)}",
        EventCode.VALVE_CLOSED: lambda e: (
            "flow-activated valve closed (an MRI? delivery stopped until reset)"
        ),
        EventCode.VALVE_RESET: lambda e: f"valve reset after {fmt_duration(e.a)} closed",
    }
    for e in log:
        if e.code in words and e.clock_s >= s.clock_s - RECENT_S:
            rows.append(("in the last 30 days", f"{fmt_time(e.clock_s)} {words[e.code](e)}"))
    return rows
