"""Alarms, without Qt: what each one means and what to do, the tone patterns, the alarm volume.

The list a clinician sees (:func:`alarm_rows`) gives each alarm its class in
words and a symbol (never colour alone), when it was raised, whether it is
sounding or silenced, whether its condition is still present (then the pump
refuses a clear, and says why), its meaning and what to do.

The alarm test plays the two tone patterns of domain.md: critical = two
alternating tones for about 3 s, repeating about every 10 minutes;
non-critical = a single tone of about 1 s, repeating about hourly.
:func:`segment_at` drives a visible indicator with the pattern's timing; the patterns
themselves (and their audio, ``synthesize_pcm16``) come from :mod:`protocol.tones`, which the
emulator's ``tones`` command renders too.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Final

from programmer_gui.core import InputError
from programmer_gui.core.action import one_step
from programmer_gui.core.dates import forecast, format_pump_date
from programmer_gui.core.entry import NumberEntry
from programmer_gui.core.review import Review, ReviewWarning, review_rows
from protocol import units
from protocol.client import PumpClient
from protocol.enums import AlarmClass, AlarmCode
from protocol.tones import TonePattern, ToneSegment, pattern_for

if TYPE_CHECKING:
    from programmer_gui.core.snapshot import PumpSnapshot


@dataclass(frozen=True, kw_only=True)
class AlarmGuide:
    """The words for one alarm."""

    title: str
    meaning: str
    what_to_do: str


GUIDE: Final[dict[AlarmCode, AlarmGuide]] = {
    AlarmCode.LOW_RESERVOIR: AlarmGuide(
        title="Low reservoir",
        meaning="The estimated volume has reached the low-reservoir alarm volume.",
        what_to_do="Refill the pump soon, before it reaches empty. The alarm clears itself "
        "after the refill.",
    ),
    AlarmCode.ERI: AlarmGuide(
        title="Elective replacement indicator (ERI)",
        meaning="The battery has about 90 days or less left before end of service.",
        what_to_do="Schedule a pump replacement. The pump keeps delivering until end of service.",
    ),
    AlarmCode.MEMORY_NON_CRITICAL: AlarmGuide(
        title="Memory error (non-critical)",
        meaning="The pump detected a memory fault that does not affect delivery.",
        what_to_do="Interrogate and check every setting, then clear the alarm (the clear "
        "resets the memory check). Contact the manufacturer if it returns.",
    ),
    AlarmCode.EMPTY_RESERVOIR: AlarmGuide(
        title="Empty reservoir",
        meaning="The reservoir has reached its empty threshold: delivery can no longer be "
        "assured and has halted.",
        what_to_do="Refill NOW. The patient is at risk of baclofen withdrawal (itching, fever, "
        "returning spasticity, low blood pressure); consider oral baclofen and monitor.",
    ),
    AlarmCode.EOS: AlarmGuide(
        title="End of service (EOS)",
        meaning="The battery is depleted: the pump has stopped delivering.",
        what_to_do="Replace the pump urgently. Treat and monitor for baclofen withdrawal "
        "meanwhile.",
    ),
    AlarmCode.MOTOR_STALL: AlarmGuide(
        title="Motor stall",
        meaning="The pump motor cannot turn: delivery has stopped. It clears itself (logged as "
        "a stall recovery) if the motor turns again.",
        what_to_do="Monitor for withdrawal. If it does not recover, arrange imaging and "
        "surgical review; do not give boluses.",
    ),
    AlarmCode.MEMORY_CRITICAL: AlarmGuide(
        title="Memory error (critical)",
        meaning="The pump detected a memory fault and has stopped delivering.",
        what_to_do="Clear the alarm to reset the memory, then interrogate and re-check every "
        "setting before delivery restarts. Monitor for withdrawal.",
    ),
    AlarmCode.LOW_BATTERY_RESET: AlarmGuide(
        title="Low battery reset",
        meaning="The pump reset on a low battery and lost its prescription: it now runs only "
        "the keep-open minimum rate (about 0.006 mL/day), far below the prescribed dose, until "
        "it is reprogrammed.",
        what_to_do="Reprogram the prescription NOW (programming clears the alarm), check the "
        "battery and ERI, and monitor for baclofen withdrawal: the patient has had almost no "
        "drug since the reset.",
    ),
}
"""Title, meaning and what to do for every alarm."""


_INTERNAL_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|\b[A-Z]{4,}\b")
"""An enum member's name in a pump's reason (``MOTOR_STALL``, ``THERAPEUTIC``)."""
_KEPT_ACRONYMS: Final = frozenset({"NOW", "MRI", "CRITICAL"})


def in_clinical_words(text: str) -> str:
    """``text`` (typically a pump's refusal reason) with internal names in clinical words:
    an alarm code becomes its title ("alarm MOTOR_STALL is not active" -> "alarm Motor
    stall is not active"), any other enum name its words in lower case."""

    def words(match: re.Match[str]) -> str:
        name = match.group(0)
        if name in AlarmCode.__members__:
            return GUIDE[AlarmCode[name]].title
        if name in _KEPT_ACRONYMS:
            return name
        return name.replace("_", " ").lower()

    return _INTERNAL_NAME.sub(words, text)


def class_text(alarm_class: AlarmClass) -> str:
    """The class with its symbol, so it reads without colour: ``⛔ CRITICAL``."""
    return "\u26d4 CRITICAL" if alarm_class is AlarmClass.CRITICAL else "\u26a0 Non-critical"


@dataclass(frozen=True, kw_only=True)
class AlarmRow:
    """One alarm as the list shows it."""

    code: AlarmCode
    alarm_class: AlarmClass
    title: str
    class_text: str
    raised: str
    state: str
    """``Sounding`` or ``Silenced``."""
    condition: str
    can_clear: bool
    """False while the condition persists (the pump would refuse the clear)."""
    silenced: bool
    meaning: str
    what_to_do: str


def alarm_rows(snapshot: PumpSnapshot) -> list[AlarmRow]:
    """The snapshot's alarms for the list: critical first, then oldest first."""
    ordered = sorted(
        snapshot.alarms, key=lambda a: (a.alarm_class is not AlarmClass.CRITICAL, a.raised_at_s)
    )
    rows = []
    for alarm in ordered:
        guide = GUIDE[alarm.code]
        rows.append(
            AlarmRow(
                code=alarm.code,
                alarm_class=alarm.alarm_class,
                title=guide.title,
                class_text=class_text(alarm.alarm_class),
                raised=format_pump_date(snapshot, alarm.raised_at_s),
                state="\U0001f507 Silenced" if alarm.silenced else "\U0001f50a Sounding",
                condition=(
                    "Condition still present: the pump will refuse a clear"
                    if alarm.condition_present
                    else "Condition gone: can be cleared"
                ),
                can_clear=not alarm.condition_present,
                silenced=alarm.silenced,
                meaning=guide.meaning,
                what_to_do=guide.what_to_do,
            )
        )
    return rows


# --- tones -----------------------------------------------------------------------------
# The patterns live in protocol.tones (the emulator renders the same ones as WAV files).

DEFAULT_TONE_MODEL: Final = 40
"""The model whose tones the alarm test plays before a pump is connected (the demo's)."""

TONES: Final[dict[AlarmClass, TonePattern]] = {
    alarm_class: pattern_for(DEFAULT_TONE_MODEL, alarm_class) for alarm_class in AlarmClass
}
"""The two patterns of the default model (domain.md: critical two-tone ~3 s every ~10 min;
non-critical one tone ~1 s about hourly)."""


def segment_at(pattern: TonePattern, elapsed_ms: int) -> ToneSegment | None:
    """The segment sounding ``elapsed_ms`` into one play of the pattern (None after it)."""
    return pattern.segment_at(elapsed_ms)


# --- alarm volume ------------------------------------------------------------------------

ALARM_VOLUME: Final = NumberEntry(
    label="Alarm volume", unit="mL", max_decimals=1, maximum=Fraction(40), example="2.0"
)
"""The low-reservoir alarm volume in mL (the pump checks its own range and says it)."""


@dataclass(frozen=True, kw_only=True)
class AlarmVolumePlan:
    """A new alarm volume and what it does to the alarm date."""

    volume_nl: int
    current_nl: int
    alarm_at_before_s: int | None
    alarm_at_after_s: int | None
    """About when the alarm comes with the new volume (pump clock, s)."""
    raises_now: bool
    """The reservoir is already at or below the new volume: the alarm sounds at once."""


def plan_alarm_volume(volume_nl: int, *, snapshot: PumpSnapshot) -> AlarmVolumePlan:
    """Check a new alarm volume against the model and forecast its alarm date."""
    device, status = snapshot.device, snapshot.status
    if volume_nl <= device.empty_threshold_nl:
        raise InputError(
            f"the alarm volume must be above the empty threshold "
            f"({units.format_volume_nl(device.empty_threshold_nl)}), so it sounds before empty",
            reason="alarm-volume",
        )
    if volume_nl >= device.capacity_nl:
        raise InputError(
            f"the alarm volume must be below the reservoir capacity "
            f"({units.format_volume_nl(device.capacity_nl)})",
            reason="alarm-volume",
        )
    pending = forecast(snapshot, status=dataclasses.replace(status, alarm_volume_nl=volume_nl))
    return AlarmVolumePlan(
        volume_nl=volume_nl,
        current_nl=status.alarm_volume_nl,
        alarm_at_before_s=status.low_reservoir_alarm_at_s,
        alarm_at_after_s=pending.low_reservoir_alarm_at_s,
        raises_now=status.reservoir_nl <= volume_nl,
    )


def build_alarm_volume_review(plan: AlarmVolumePlan, snapshot: PumpSnapshot) -> Review:
    """The review of a new low-reservoir alarm volume and the alarm date it gives."""
    dose = snapshot.dose_ug_per_day
    pairs = (
        (
            "Alarm volume",
            units.format_volume_nl(plan.current_nl),
            units.format_volume_nl(plan.volume_nl),
        ),
        (
            "Low-reservoir alarm",
            format_pump_date(snapshot, plan.alarm_at_before_s),
            format_pump_date(snapshot, plan.alarm_at_after_s),
        ),
    )
    warnings = []
    if plan.raises_now:
        warnings.append(
            ReviewWarning(
                code="alarm-volume-raises-now",
                text=f"The reservoir ({units.format_volume_nl(snapshot.status.reservoir_nl)}) is "
                "already at or below this volume: the low-reservoir alarm sounds at once.",
            )
        )
    volume = plan.volume_nl
    description = f"Set the alarm volume to {units.format_volume_nl(volume)}"

    def run(client: PumpClient) -> str:
        stored = client.set_alarm_volume(volume)
        return f"The low-reservoir alarm volume is now {units.format_volume_nl(stored)}."

    def verify(after: PumpSnapshot) -> bool:
        return after.status.alarm_volume_nl == volume

    return Review(
        title="Review: low-reservoir alarm volume",
        rows=review_rows(pairs),
        current_daily_dose_ug=dose,
        pending_daily_dose_ug=dose,
        change_percent=Fraction(0),
        warnings=tuple(warnings),
        action=one_step(description, run, verify),
    )
