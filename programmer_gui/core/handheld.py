"""The patient's therapy manager, without Qt: the pump's state in plain words.

A patient's handheld talks to the pump in the patient role: STATUS, the alarms (and
silencing their sound), the patient-dose settings and the patient-activated dose; no
clinician command. This module turns one :class:`~programmer_gui.core.snapshot.PumpSnapshot`
read in that role into what the patient sees: whether the pump is giving the medicine,
when the next refill is due, each alarm with what to do ("call your clinic today", "go
to an emergency department"), the dose request with its lockout and the doses left in
24 h, and the answer of the post-MRI check. Every time is the pump's clock (in a
simulation the simulated time is the only "now").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, tzinfo
from fractions import Fraction
from typing import TYPE_CHECKING, Final

from programmer_gui.core.dates import format_in_days
from protocol import messages as m
from protocol import units
from protocol.enums import AlarmClass, AlarmCode, BolusKind, Mode
from protocol.timebase import SECONDS_PER_DAY
from protocol.units import format_duration

if TYPE_CHECKING:
    from programmer_gui.core.snapshot import PumpSnapshot


CALL_CLINIC: Final = "Call your clinic today."
EMERGENCY: Final = "Go to an emergency department now"
WITHDRAWAL_SIGNS: Final = (
    "Without baclofen, withdrawal can start within hours: itching, fever, returning "
    "stiffness or spasms, feeling faint."
)


class Urgency(enum.Enum):
    """How soon the patient must act (shown in words and a symbol, never colour alone)."""

    OK = "ok"
    CALL_CLINIC = "call_clinic"
    EMERGENCY = "emergency"

    @property
    def symbol(self) -> str:
        return {Urgency.OK: "\u2714", Urgency.CALL_CLINIC: "\u26a0", Urgency.EMERGENCY: "\u2716"}[
            self
        ]


@dataclass(frozen=True, kw_only=True)
class PatientAlarm:
    code: AlarmCode
    title: str
    what_to_do: str
    urgency: Urgency
    silenced: bool


_ALARM_WORDS: Final[dict[AlarmCode, tuple[str, str]]] = {
    AlarmCode.LOW_RESERVOIR: (
        "Your pump needs a refill soon.",
        f"{CALL_CLINIC} Book your refill before the date shown.",
    ),
    AlarmCode.ERI: (
        "The pump's battery is getting low: it needs replacing within about 3 months.",
        f"{CALL_CLINIC} The pump keeps working meanwhile.",
    ),
    AlarmCode.MEMORY_NON_CRITICAL: (
        "The pump found a small memory fault. It is still giving your medicine.",
        CALL_CLINIC,
    ),
    AlarmCode.EMPTY_RESERVOIR: (
        "Your pump is empty: it has stopped giving your medicine.",
        f"{EMERGENCY}. {WITHDRAWAL_SIGNS}",
    ),
    AlarmCode.EOS: (
        "The pump's battery has run out: it has stopped giving your medicine.",
        f"{EMERGENCY}. {WITHDRAWAL_SIGNS}",
    ),
    AlarmCode.MOTOR_STALL: (
        "Your pump's motor has stopped: no medicine is being given.",
        "If you just had an MRI scan, press \u201cCheck my pump after an MRI scan\u201d now. "
        f"If it does not restart: {EMERGENCY.lower()}. {WITHDRAWAL_SIGNS}",
    ),
    AlarmCode.MEMORY_CRITICAL: (
        "The pump found a memory fault and has stopped giving your medicine.",
        f"{EMERGENCY}. {WITHDRAWAL_SIGNS}",
    ),
    AlarmCode.LOW_BATTERY_RESET: (
        "Your pump restarted after a battery problem and now gives almost no medicine.",
        f"{EMERGENCY}: the pump must be reprogrammed. {WITHDRAWAL_SIGNS}",
    ),
}


def patient_alarms(snapshot: PumpSnapshot) -> list[PatientAlarm]:
    """The pump's alarms in the patient's words, the most urgent first."""
    ordered = sorted(
        snapshot.alarms, key=lambda a: (a.alarm_class is not AlarmClass.CRITICAL, a.raised_at_s)
    )
    return [
        PatientAlarm(
            code=alarm.code,
            title=_ALARM_WORDS[alarm.code][0],
            what_to_do=_ALARM_WORDS[alarm.code][1],
            urgency=(
                Urgency.EMERGENCY
                if alarm.alarm_class is AlarmClass.CRITICAL
                else Urgency.CALL_CLINIC
            ),
            silenced=alarm.silenced,
        )
        for alarm in ordered
    ]


def format_patient_date(at_s: int, *, now_s: int, tz: tzinfo | None = None) -> str:
    """``Tuesday 9 February 2027 (in 141 days)`` on the pump's clock."""
    moment = datetime.fromtimestamp(at_s, tz=tz)
    if tz is None:
        moment = moment.astimezone()
    return f"{moment:%A} {moment.day} {moment:%B %Y} ({format_in_days(at_s, now_s=now_s)})"


def format_patient_time(at_s: int, *, tz: tzinfo | None = None) -> str:
    """``17:13`` on the pump's clock, with the day when not today."""
    moment = datetime.fromtimestamp(at_s, tz=tz)
    if tz is None:
        moment = moment.astimezone()
    return f"{moment:%H:%M}"


@dataclass(frozen=True, kw_only=True)
class PatientStatus:
    """The headline, in large type, and the lines under it."""

    urgency: Urgency
    headline: str
    detail: str
    refill: str


def patient_status(snapshot: PumpSnapshot, *, tz: tzinfo | None = None) -> PatientStatus:
    status = snapshot.status
    now = status.clock_s
    dose = units.format_dose_ug_per_day(Fraction(status.daily_dose_ng, 1000))
    alarms = patient_alarms(snapshot)
    if status.mode is Mode.STOPPED:
        urgency, headline = Urgency.EMERGENCY, "Your pump is stopped"
        detail = (
            "Your clinic stopped the pump: it gives no medicine. If you did not expect "
            f"this, {EMERGENCY.lower()}. {WITHDRAWAL_SIGNS}"
        )
    elif not status.delivering:
        urgency, headline = Urgency.EMERGENCY, "Your pump is NOT giving your medicine"
        detail = (
            "No medicine is being given. The alarm below says what to do now."
            if alarms
            else f"No medicine is being given. {EMERGENCY}. {WITHDRAWAL_SIGNS}"
        )
    else:
        urgency = (
            Urgency.EMERGENCY
            if any(a.urgency is Urgency.EMERGENCY for a in alarms)
            else Urgency.CALL_CLINIC
            if alarms
            else Urgency.OK
        )
        headline = "Your pump is working"
        detail = f"It is giving your medicine: about {dose} of baclofen."
        if status.bolus_kind is BolusKind.PATIENT:
            detail += " Your extra dose is being given now."
        if alarms:
            detail += " See the alarms below."
    if not status.delivering or status.mode is Mode.STOPPED:
        refill = "Refill date: not known while the pump gives no medicine."
    elif AlarmCode.LOW_RESERVOIR in {a.code for a in alarms}:
        refill = "Refill needed soon: call your clinic today."
    elif status.low_reservoir_alarm_at_s is None:
        refill = "No refill due in the next 10 years at this dose."
    else:
        due = format_patient_date(status.low_reservoir_alarm_at_s, now_s=now, tz=tz)
        refill = f"Next refill due by {due}"
    return PatientStatus(urgency=urgency, headline=headline, detail=detail, refill=refill)


# --- the patient-activated dose ---------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DoseState:
    """What the dose request offers now."""

    enabled: bool
    dose_text: str
    """``25 mcg over 10 min``."""
    max_per_24h: int
    used_24h: int
    next_allowed_at_s: int | None
    """Pump clock of the next dose allowed; None when one is allowed now (or never)."""
    wait_s: int
    """Seconds until then (0: now)."""
    why_not: str | None
    """Why no dose can be asked for now (None: it can)."""
    waiting: bool = False
    """``why_not`` is the lockout or the 24-h limit: a dose comes at ``next_allowed_at_s``."""

    @property
    def remaining_24h(self) -> int:
        return max(0, self.max_per_24h - self.used_24h)


def dose_state(snapshot: PumpSnapshot) -> DoseState:
    """The dose request's state from the pump's status and settings (the pump's own rules:
    the lockout after the last dose, at most ``max_per_24h`` in the trailing 24 h)."""
    settings = snapshot.patient_settings
    status = snapshot.status
    now = status.clock_s
    if settings is None or not settings.enabled:
        return DoseState(
            enabled=False,
            dose_text="not set up",
            max_per_24h=0,
            used_24h=0,
            next_allowed_at_s=None,
            wait_s=0,
            why_not="Your clinic has not set up extra doses on this pump.",
        )
    grants = sorted(g.at_s for g in status.recent_doses if g.at_s > now - SECONDS_PER_DAY)
    candidates = []
    if grants:
        candidates.append(grants[-1] + settings.lockout_s)
    if len(grants) >= settings.max_per_24h:
        candidates.append(grants[len(grants) - settings.max_per_24h] + SECONDS_PER_DAY)
    next_at = max(candidates) if candidates else None
    if next_at is not None and next_at <= now:
        next_at = None
    wait = 0 if next_at is None else next_at - now
    why_not = None
    waiting = False
    if not status.delivering or status.mode is Mode.STOPPED:
        why_not = "The pump is not giving medicine now, so it cannot give an extra dose."
    elif status.bolus_kind is not BolusKind.NONE:
        why_not = "A dose is being given now; wait until it ends."
    elif len(grants) >= settings.max_per_24h:
        why_not = (
            f"You have had all {settings.max_per_24h} doses allowed in 24 hours. "
            f"Next dose possible in {format_duration(wait)}."
        )
        waiting = True
    elif next_at is not None:
        waiting = True
        why_not = f"Too soon after your last dose: next dose possible in {format_duration(wait)}."
    return DoseState(
        enabled=True,
        dose_text=(
            f"{units.format_dose_ug(Fraction(settings.dose_ng, 1000))} over "
            f"{format_duration(settings.duration_s)}"
        ),
        max_per_24h=settings.max_per_24h,
        used_24h=len(grants),
        next_allowed_at_s=next_at,
        wait_s=wait,
        why_not=why_not,
        waiting=waiting,
    )


def granted_text(
    grant: m.PatientDoseResponse, *, max_per_24h: int, tz: tzinfo | None = None
) -> str:
    """The pump's answer to a granted dose, in words."""
    left = max(0, max_per_24h - grant.doses_in_24h)
    return (
        f"\u2714 Dose given: {units.format_dose_ug(Fraction(grant.dose_ng, 1000))}, "
        f"finished by {format_patient_time(grant.ends_at_s, tz=tz)}. "
        f"Doses left in 24 hours: {left} of {max_per_24h}. "
        f"Next dose possible from {format_patient_time(grant.next_allowed_at_s, tz=tz)}."
    )


# --- after an MRI ------------------------------------------------------------------------


def mri_check_text(snapshot: PumpSnapshot) -> tuple[Urgency, str]:
    """The answer of the post-MRI check (an interrogation, which ends the telemetry mode an
    MRI can leave the pump in), read right after it."""
    status = snapshot.status
    if status.delivering:
        return Urgency.OK, (
            "\u2714 Your pump is working again: it is giving your medicine. "
            "Check again if you get a new alarm."
        )
    if status.mode is Mode.STOPPED:
        return Urgency.EMERGENCY, (
            f"Your pump is stopped by your clinic and gives no medicine. {CALL_CLINIC}"
        )
    return Urgency.EMERGENCY, (
        "\u2716 Your pump has NOT restarted after the scan: no medicine is being given. "
        "Call your clinic now; the motor can take hours to restart. "
        f"If you cannot reach them, or you feel unwell: {EMERGENCY.lower()}. {WITHDRAWAL_SIGNS}"
    )
