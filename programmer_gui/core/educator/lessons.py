"""The lessons the educator's window teaches: the fluid path and the bridge, and the
scenarios (low reservoir, bridge, titration)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from programmer_gui.core.educator.backend import DAY_S, HOUR_S, _require_int
from programmer_gui.core.educator.facts import PumpFacts, TrueSample
from programmer_gui.core.response import TITRATION_STEPS, TITRATION_TITLE
from protocol.enums import AlarmCode
from protocol.mri_lesson import (
    MRI_WITH_CHECK_STEPS,
    MRI_WITH_CHECK_TITLE,
    MRI_WITHOUT_CHECK_STEPS,
    MRI_WITHOUT_CHECK_TITLE,
)
from protocol.units import (
    format_concentration_ug_per_ml,
    format_dose_ug_per_day,
    format_fixed,
    format_trimmed,
    nl_to_ml,
)

# --- the fluid path and the bridge lesson ----------------------------------------------


def transit_time_s(volume_nl: int, rate_nl_per_day: int) -> float | None:
    """Seconds for ``volume_nl`` to leave the catheter tip at ``rate_nl_per_day``; None when
    nothing flows."""
    _require_int("volume_nl", volume_nl)
    _require_int("rate_nl_per_day", rate_nl_per_day)
    if rate_nl_per_day == 0:
        return None
    return volume_nl * DAY_S / rate_nl_per_day


def _time_words(seconds: float | None) -> str:
    if seconds is None:
        return "never (nothing flows)"
    if seconds >= 2 * DAY_S:
        return f"{format_trimmed(Fraction(round(seconds)) / DAY_S, 1)} days"
    if seconds >= 2 * HOUR_S:
        return f"{format_trimmed(Fraction(round(seconds)) / HOUR_S, 1)} h"
    return f"{max(1, round(seconds / 60))} min"


def bridge_lesson(sample: TrueSample, facts: PumpFacts) -> list[str]:
    """The numbers behind the bridge, for the sample's pump (its TRUE catheter)."""
    dead = facts.dead_volume_nl
    lines = [
        f"Tubing + {facts.catheter_length_cm} cm catheter hold {_ml(dead)} of older drug: "
        "it reaches the spine before anything new from the reservoir.",
        f"At {_ml(sample.current_rate_nl_per_day)}/day that takes "
        f"{_time_words(transit_time_s(dead, sample.current_rate_nl_per_day))}. The bridge "
        "runs the new dose at the OLD concentration for that time, so the patient keeps "
        "the prescribed mcg/day; it is never pushed at the maximum rate.",
    ]
    old = sample.old_drug_in_path_nl
    if old:
        older = sorted(
            {
                s.concentration_ug_per_ml
                for s in sample.path
                if s.concentration_ug_per_ml != sample.reservoir_concentration_ug_per_ml
            }
        )
        old_ug = Fraction(
            sum(
                s.volume_nl * s.concentration_ug_per_ml
                for s in sample.path
                if s.concentration_ug_per_ml != sample.reservoir_concentration_ug_per_ml
            ),
            1_000_000,
        )
        lines.append(
            f"NOW: {_ml(old)} of older drug ("
            + ", ".join(format_concentration_ug_per_ml(c) for c in older)
            + f", {format_trimmed(old_ug, 0)} mcg) is still in the path; the reservoir holds "
            f"{format_concentration_ug_per_ml(sample.reservoir_concentration_ug_per_ml)}; it "
            "clears in "
            f"{_time_words(transit_time_s(old, sample.current_rate_nl_per_day))} at this rate."
        )
    rate = sample.tip_dose_rate_ug_per_day
    if rate is not None:
        lines.append(f"Reaching the patient now: {format_dose_ug_per_day(rate)}.")
    return lines


class BridgeCaseKind(enum.Enum):
    """The three ways a refill at a new concentration can meet the old drug in the catheter."""

    NO_BRIDGE = "no_bridge"
    BRIDGE = "bridge"
    MAX_RATE_PUSH = "max_rate_push"


BRIDGE_CASE_TITLES: Final[dict[BridgeCaseKind, str]] = {
    BridgeCaseKind.NO_BRIDGE: "No bridge",
    BridgeCaseKind.BRIDGE: "The bridge (what the pump does)",
    BridgeCaseKind.MAX_RATE_PUSH: "Maximum-rate push (never done)",
}


@dataclass(frozen=True, kw_only=True)
class BridgeCase:
    """One case of the bridge lesson: the patient side over the hours after the refill.

    ``hours`` are hours since the refill; ``dose_ug_per_day`` is what left the
    catheter tip in each step (as a rate), ``level_percent`` the patient model's
    spinal-fluid level as a percent of the established (reference) level.
    """

    kind: BridgeCaseKind
    hours: tuple[float, ...]
    dose_ug_per_day: tuple[float, ...]
    level_percent: tuple[float, ...]
    in_band_hours: float
    """Hours the level stayed between the withdrawal and overdose thresholds."""
    max_dose_ug_in_an_hour: float
    """The most drug reaching the patient in any one hour, mcg."""

    @property
    def title(self) -> str:
        return BRIDGE_CASE_TITLES[self.kind]

    @property
    def min_percent(self) -> float:
        return min(self.level_percent) if self.level_percent else 100.0

    @property
    def max_percent(self) -> float:
        return max(self.level_percent) if self.level_percent else 100.0


@dataclass(frozen=True, kw_only=True)
class BridgeComparison:
    """The bridge lesson's three cases side by side, for one refill."""

    old_concentration_ug_per_ml: int
    new_concentration_ug_per_ml: int
    dose_ug_per_day: Fraction
    dead_volume_nl: int
    max_rate_nl_per_day: int
    bridge_duration_s: int
    withdrawal_percent: float
    overdose_percent: float
    cases: tuple[BridgeCase, ...]

    def case(self, kind: BridgeCaseKind) -> BridgeCase:
        return next(c for c in self.cases if c.kind is kind)

    def summary(self, kind: BridgeCaseKind) -> str:
        """What the case does to the patient, in one or two sentences with numbers."""
        case = self.case(kind)
        old = format_concentration_ug_per_ml(self.old_concentration_ug_per_ml)
        new = format_concentration_ug_per_ml(self.new_concentration_ug_per_ml)
        dose = format_dose_ug_per_day(self.dose_ug_per_day)
        low, high = format_trimmed(case.min_percent, 0), format_trimmed(case.max_percent, 0)
        level = f"Level {low}-{high} % of the established one."
        if kind is BridgeCaseKind.NO_BRIDGE:
            rising = self.new_concentration_ug_per_ml > self.old_concentration_ug_per_ml
            what = "an UNDERDOSE" if rising else "an OVERDOSE"
            rate_ml = self.dose_ug_per_day / self.new_concentration_ug_per_ml
            seconds = (
                float(Fraction(self.dead_volume_nl, 1_000_000) / rate_ml * DAY_S)
                if rate_ml
                else None
            )
            return (
                f"The new rate ({format_trimmed(rate_ml, 3)} mL/day) runs at once, but the "
                f"catheter still holds {old}: {what} for {_time_words(seconds)} until the "
                f"{_ml(self.dead_volume_nl)} dead volume has gone through. {level}"
            )
        if kind is BridgeCaseKind.BRIDGE:
            return (
                f"The new dose is computed at the old {old} drug for "
                f"{_time_words(self.bridge_duration_s)}, then at {new} as the new drug "
                f"reaches the tip: {dose} throughout. {level}"
            )
        push_s = transit_time_s(self.dead_volume_nl, self.max_rate_nl_per_day)
        return (
            f"Pushing the {_ml(self.dead_volume_nl)} of {old} through at the maximum rate puts "
            f"{format_trimmed(case.max_dose_ug_in_an_hour, 0)} mcg into the spinal fluid in "
            f"{_time_words(push_s)}: {level} That is why the bridge is never a push."
        )


def _ml(nl: int) -> str:
    return f"{format_fixed(nl_to_ml(nl), 3)} mL"


# --- the two lessons ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A short teaching script: what to press, here and in the programmer, and what to see."""

    key: str
    title: str
    steps: tuple[str, ...]


LOW_RESERVOIR: Final = Scenario(
    key="low_reservoir",
    title="What a low-reservoir alarm sounds like",
    steps=(
        "Press \u201cJump to the low-reservoir alarm\u201d: pump time moves to the moment "
        "the reservoir reaches the alarm volume (months pass in a second).",
        "Under \u201cAlarm tone\u201d the pump's pattern appears: a single 1 s tone, "
        "repeating every hour (a critical alarm is two tones, 3 s, every 10 min).",
        "In the programmer the banner shows the non-critical alarm at the next poll; "
        "silence it on the Alarms page; only a refill clears it.",
    ),
)

BRIDGE: Final = Scenario(
    key="bridge",
    title="Why the bridge matters",
    steps=(
        "The three plots below compare, for a refill at a new concentration with the same "
        "mcg/day: no bridge, the bridge, and a maximum-rate push of the dead volume.",
        "In the programmer, Refill with another concentration and keep the dose: the "
        "review shows the 24-hour dose before and after (the same) and the bridge's "
        "duration and end. Commit it: the Status page counts the bridge down.",
        "Here, press +1 hour a few times: the drug at the catheter tip stays old until the "
        "dead volume has gone through, but the pump computes the doses at the old "
        "concentration meanwhile, so what reaches the patient stays the prescribed dose.",
        "Repeat declining the bridge: what reaches the patient is off by the ratio of the "
        "concentrations for days.",
    ),
)

BRIDGE_BOLUS: Final = BRIDGE
"""The old name of :data:`BRIDGE` (the lesson is no longer about a bolus)."""

TITRATING_A_DOSE: Final = Scenario(key="titration", title=TITRATION_TITLE, steps=TITRATION_STEPS)

MRI_WITHOUT_CHECK: Final = Scenario(
    key="mri_without_check", title=MRI_WITHOUT_CHECK_TITLE, steps=MRI_WITHOUT_CHECK_STEPS
)
MRI_WITH_CHECK: Final = Scenario(
    key="mri_with_check", title=MRI_WITH_CHECK_TITLE, steps=MRI_WITH_CHECK_STEPS
)

SCENARIOS: Final = (LOW_RESERVOIR, BRIDGE, MRI_WITHOUT_CHECK, MRI_WITH_CHECK, TITRATING_A_DOSE)


def low_reservoir_jump_s(sample: TrueSample) -> int | None:
    """Seconds to step so the low-reservoir alarm has just been raised (a minute past the
    pump's own forecast); None when it is already on or no alarm is expected."""
    if AlarmCode.LOW_RESERVOIR in sample.alarms_active or sample.low_reservoir_at_clock_s is None:
        return None
    return max(60, sample.low_reservoir_at_clock_s - sample.clock_s + 60)
