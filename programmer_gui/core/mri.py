"""The programmer's MRI workflow (domain.md, "MRI and the emergency visit"): what to decide
and record before a scan, and the post-scan check. Pure: built from what the pump reported.

Before the scan (:func:`pre_mri_plan`): can the patient go without drug for the scan (and
a delayed recovery of 2 to 24 h)? Record the interrogation; do not program "stopped" (it
delays detecting an extended stall); a valve pump of the original model must be emptied
first (its field discharge is an overdose); a flow-activated valve may close and need a
reset.

After the scan (:func:`post_mri_check`): interrogate, confirm delivery has resumed, show
the stall (or the valve closure) and its recovery in the log, the volume and dose missed,
the new low-reservoir alarm date, and prompt to interrogate again while the recovery is
not yet logged (it may be logged only at a second interrogation).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from protocol import messages as m
from protocol import units
from protocol.client import PumpClient
from protocol.emergency import fmt_duration, fmt_time
from protocol.enums import EventCode, Mode, Role, ValveModel
from protocol.timebase import SECONDS_PER_DAY

__all__ = [
    "MriReading",
    "PostMriCheck",
    "PreMriPlan",
    "post_mri_check",
    "pre_mri_plan",
]

LOOK_BACK_S = 7 * SECONDS_PER_DAY
"""How far back the post-scan check looks for the scan's stall or valve closure."""

PRE_MRI_STEPS = (
    "Decide with the patient beforehand whether they can go without drug for the scan, and "
    "for a delayed recovery (reported 2 to 24 h): if not, plan oral baclofen or stay "
    "nearby.",
    "Record this interrogation before the scan (reservoir, dose, alarms, the pump clock).",
    "Do NOT program the pump stopped for the scan: it delays detecting an extended stall.",
    "After the scan, interrogate again and confirm that delivery has resumed (the "
    "post-MRI check below).",
)
"""The rule before every MRI, in the order a clinician works through it."""

VALVE_WARNINGS = {
    ValveModel.MOTOR: "",
    ValveModel.VALVE_DISCHARGE: (
        "ORIGINAL VALVE PUMP: EMPTY THE RESERVOIR before the scan (draw out everything; "
        "record it as a refill of 0 mL). A field can open both valves and discharge the "
        "whole reservoir and catheter into the patient at once: an overdose the pump cannot "
        "detect."
    ),
    ValveModel.VALVE_FLOW_ACTIVATED: (
        "FLOW-ACTIVATED VALVE PUMP: the field may close the valve after about 10 uL; it then "
        "delivers nothing until it is reset here after the scan (withdrawal risk)."
    ),
}


@dataclass(frozen=True, kw_only=True)
class MriReading:
    """What the MRI pages read beyond a snapshot: delivery since when, the valve, the log."""

    status: m.StatusResponse
    delivery: m.ReadDeliveryResponse
    valve: m.ReadValveResponse
    log: tuple[m.LogEntry, ...] | None
    """The event log; None in a patient session (the log is a clinician's read)."""

    @classmethod
    def read(cls, client: PumpClient) -> MriReading:
        """Read them (either role: a patient session reads no log)."""
        return cls(
            status=client.status(),
            delivery=client.read_delivery(),
            valve=client.read_valve(),
            log=tuple(client.event_log()) if client.role is Role.CLINICIAN else None,
        )


@dataclass(frozen=True, kw_only=True)
class PreMriPlan:
    """The pre-MRI page's facts and its warnings."""

    valve_model: ValveModel
    warning: str
    """The valve model's warning ("" for a motor pump)."""
    stopped_warning: str
    """Non-empty when the pump is programmed stopped (it should not be for a scan)."""
    must_empty: bool
    """The original valve pump still holds drug: empty it before the scan."""
    summary: str
    """What the session record keeps of the interrogation before the scan."""

    def record_detail(self, *, can_go_without: bool, note: str) -> str:
        """The session record's line: the decision, the note, and the interrogation."""
        decision = (
            "the patient can go without drug for the scan"
            if can_go_without
            else "the patient can NOT go without drug: bridging plan needed"
        )
        return f"{decision}; {self.summary}" + (f"; note: {note.strip()}" if note.strip() else "")


def pre_mri_plan(status: m.StatusResponse, valve: m.ReadValveResponse) -> PreMriPlan:
    """The pre-MRI facts from the status and the valve reading."""
    dose = units.format_dose_ug_per_day(Fraction(status.daily_dose_ng, 1000))
    alarms = ", ".join(a.name for a in sorted(status.alarms_active)) or "none"
    summary = (
        f"before the scan at {fmt_time(status.clock_s)}: reservoir "
        f"{units.format_volume_nl(status.reservoir_nl)}, {dose} ({status.mode.name}), "
        f"{'delivering' if status.delivering else 'NOT delivering'}, alarms {alarms}"
    )
    stopped = (
        "The pump is programmed STOPPED: do not leave it stopped for the scan (it delays "
        "detecting an extended stall); resume it unless stopping is the clinical decision."
        if status.mode is Mode.STOPPED
        else ""
    )
    model = valve.valve_model
    return PreMriPlan(
        valve_model=model,
        warning=VALVE_WARNINGS[model],
        stopped_warning=stopped,
        must_empty=model is ValveModel.VALVE_DISCHARGE and status.reservoir_nl > 0,
        summary=summary,
    )


@dataclass(frozen=True, kw_only=True)
class PostMriCheck:
    """The post-scan check: resumed or not, the interruption and its recovery, the missed
    drug, the new alarm date, and whether to interrogate again."""

    delivering: bool
    since_s: int
    """Pump clock delivery last started (delivering) or stopped (not)."""
    interruption: m.LogEntry | None
    """The scan's MOTOR_STALL or VALVE_CLOSED entry (None: none in the last 7 days)."""
    recovery: m.LogEntry | None
    """Its STALL_RECOVERY or VALVE_RESET (None: not logged yet)."""
    missed_s: int
    """Seconds without delivery since the interruption (to its recovery, or to now)."""
    missed_nl: int
    missed_ug: Fraction
    alarm_date_s: int | None
    """The new low-reservoir alarm date the pump forecasts (None: beyond its horizon)."""
    valve_closed: bool
    log_read: bool
    """False in a patient session: the stall and its recovery are not known here."""
    interrogate_again: bool
    """The recovery is not logged yet: interrogate again (it may be logged only then)."""
    now_s: int

    @property
    def verdict(self) -> str:
        """One sentence: is delivery confirmed."""
        if self.valve_closed:
            return (
                "NOT DELIVERING: the flow-activated valve is closed. Reset it now and "
                "interrogate again; withdrawal signs can start within hours."
            )
        if not self.delivering:
            return (
                f"NOT DELIVERING since {fmt_time(self.since_s)} "
                f"({fmt_duration(max(self.now_s - self.since_s, 0))}): the stall has not "
                "recovered. Plan for withdrawal (oral baclofen as advised) and interrogate "
                "again; recovery has been reported up to 24 h late."
            )
        if not self.log_read:
            return f"Delivering since {fmt_time(self.since_s)}."
        if self.interruption is None:
            return "Delivering; no motor stall or valve closure in the last 7 days."
        return f"Delivery resumed at {fmt_time(self.since_s)}: confirmed."

    def lines(self) -> list[str]:
        """The check's findings, in order."""
        out = [self.verdict]
        if self.interruption is not None:
            what = (
                "valve closed"
                if self.interruption.code is EventCode.VALVE_CLOSED
                else "motor stall (MRI field)"
            )
            out.append(f"Log: {what} at {fmt_time(self.interruption.clock_s)}.")
            if self.recovery is not None:
                how = (
                    "valve reset"
                    if self.recovery.code is EventCode.VALVE_RESET
                    else "stall recovery"
                )
                out.append(
                    f"Log: {how} at {fmt_time(self.recovery.clock_s)} after "
                    f"{fmt_duration(self.recovery.a)}."
                )
            else:
                out.append("Log: no recovery logged yet.")
            out.append(
                f"Missed: {fmt_duration(self.missed_s)} without delivery, "
                f"{units.format_volume_nl(self.missed_nl)} "
                f"({units.format_dose_ug(self.missed_ug)})."
            )
        if not self.log_read:
            out.append("The log (the stall and its recovery) is read in a clinician session.")
        out.append(f"New low-reservoir alarm date: {fmt_time(self.alarm_date_s)}.")
        if self.interrogate_again:
            out.append(
                "INTERROGATE AGAIN: the stall's recovery is not in the log yet (it may be "
                "logged only at a second interrogation)."
            )
        return out

    def record_detail(self) -> str:
        """The session record's line."""
        return " ".join(self.lines())


_STARTS = (EventCode.MOTOR_STALL, EventCode.VALVE_CLOSED)
_ENDS = {
    EventCode.MOTOR_STALL: EventCode.STALL_RECOVERY,
    EventCode.VALVE_CLOSED: EventCode.VALVE_RESET,
}


def post_mri_check(reading: MriReading, *, daily_volume_nl: Fraction) -> PostMriCheck:
    """The check from one reading; ``daily_volume_nl`` is the prescription's 24-h volume at
    the rates in force (the missed volume is the time without delivery at it)."""
    s = reading.status
    now = s.clock_s
    recent = [e for e in reading.log or () if e.clock_s >= now - LOOK_BACK_S]
    starts = [i for i, e in enumerate(recent) if e.code in _STARTS]
    interruption = recovery = None
    if starts:
        interruption = recent[starts[-1]]
        end_code = _ENDS[interruption.code]
        recovery = next((e for e in recent[starts[-1] :] if e.code is end_code), None)
    missed_s = 0
    if interruption is not None:
        if recovery is not None:
            # The entry carries the stall's (or closure's) own length: a recovery logged
            # only at a later interrogation is logged after the motor turned again.
            missed_s = recovery.a
        elif reading.delivery.delivering:  # resumed (this interrogation) before its log
            missed_s = reading.delivery.since_s - interruption.clock_s
        else:
            missed_s = now - interruption.clock_s
    missed_nl = int(daily_volume_nl * max(missed_s, 0) / SECONDS_PER_DAY)
    return PostMriCheck(
        delivering=reading.delivery.delivering,
        since_s=reading.delivery.since_s,
        interruption=interruption,
        recovery=recovery,
        missed_s=max(missed_s, 0),
        missed_nl=missed_nl,
        missed_ug=Fraction(missed_nl * s.concentration_ug_per_ml, 1_000_000),
        alarm_date_s=s.low_reservoir_alarm_at_s,
        valve_closed=reading.valve.closed,
        log_read=reading.log is not None,
        interrogate_again=(
            interruption is not None
            and interruption.code is EventCode.MOTOR_STALL
            and recovery is None
        ),
        now_s=now,
    )
