"""Boluses, without Qt: therapeutic, bridge and priming plans, and a running bolus's progress.

Each plan carries what the clinician must see before confirming: the volume,
the drug it holds, the duration, the reservoir left afterwards and the
low-reservoir alarm date moved by the extra volume. Refusals (the pump would
refuse, or the reservoir cannot deliver it) block the plan; warnings go to the
review screen.

- Therapeutic: a dose in mcg over a chosen duration, at least as long as the
  pump's maximum rate allows and at most 24 h.
- Bridge: after a concentration change, pushes the old drug in the pump's
  internal tubing and the catheter through at the maximum rate:
  volume = tubing + catheter length x volume per cm (both from DEVICE_INFO).
- Priming: fills an empty catheter (after implant or a catheter revision) at
  the maximum rate: the catheter's volume, plus the tubing when the pump is
  new and its tubing is empty too.

The alarm-date effect comes from the programmer's forecast
(:mod:`programmer_gui.core.forecast`) with the bolus first: it replaces the
basal rate while it runs, and the basal schedule (flex steps too) resumes
after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Final

from programmer_gui.core import InputError
from programmer_gui.core.forecast import PlannedBolus, forecast_pending, format_pump_date
from programmer_gui.core.review import NOT_SET, ProgramAction, Review, ReviewRow, ReviewWarning
from protocol import messages as m
from protocol import units
from protocol.client import PumpClient
from protocol.enums import BolusKind, EventCode

if TYPE_CHECKING:
    from programmer_gui.core.snapshot import PumpSnapshot

SECONDS_PER_DAY: Final = 86_400
MAX_BOLUS_DURATION_S: Final = SECONDS_PER_DAY
"""A therapeutic bolus runs at most 24 h (the pump's limit)."""
DEFAULT_CATHETER_LENGTH_CM: Final = 110
MAX_CATHETER_LENGTH_CM: Final = 200
LARGE_BOLUS_FRACTION: Final = Fraction(1, 2)
"""A therapeutic bolus over this share of the 24-hour basal dose warns."""

KIND_NAMES: Final = {
    BolusKind.THERAPEUTIC: "therapeutic bolus",
    BolusKind.BRIDGE: "bridge bolus",
    BolusKind.PRIMING: "priming bolus",
    BolusKind.PATIENT: "patient-activated dose",
    BolusKind.NONE: "no bolus",
}


class BolusEntryError(InputError):
    """A bolus value that cannot be used (the message says why)."""


def duration_at_max_rate_s(volume_nl: int, max_rate_nl_per_day: int) -> int:
    """Whole seconds ``volume_nl`` takes at the pump's maximum rate, rounded up (as the pump)."""
    return -(-volume_nl * SECONDS_PER_DAY // max_rate_nl_per_day)


def line_volume_nl(device: m.DeviceInfoResponse, catheter_length_cm: int | Fraction) -> int:
    """Tubing + length x volume per cm, in whole nL (half-even for a fractional length)."""
    catheter = units.round_half_even(
        Fraction(catheter_length_cm) * device.catheter_volume_nl_per_cm
    )
    return device.tubing_volume_nl + catheter


def bridge_volume_nl(device: m.DeviceInfoResponse, catheter_length_cm: int) -> int:
    """The old drug between reservoir and catheter tip: tubing + length x volume per cm."""
    _check_length(catheter_length_cm)
    return line_volume_nl(device, catheter_length_cm)


def priming_volume_nl(
    device: m.DeviceInfoResponse, catheter_length_cm: int, *, include_tubing: bool
) -> int:
    """What fills an empty catheter (and the pump's tubing too when ``include_tubing``)."""
    _check_length(catheter_length_cm)
    catheter = catheter_length_cm * device.catheter_volume_nl_per_cm
    return catheter + (device.tubing_volume_nl if include_tubing else 0)


def _check_length(catheter_length_cm: int) -> None:
    if not 1 <= catheter_length_cm <= MAX_CATHETER_LENGTH_CM:
        raise BolusEntryError(
            f"catheter length must be 1 to {MAX_CATHETER_LENGTH_CM} cm, got {catheter_length_cm} cm"
        )


def format_duration_s(seconds: int) -> str:
    """``2 h 05 min``, ``12 min 30 s`` or ``45 s``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s" if secs else f"{minutes} min"
    return f"{secs} s"


@dataclass(frozen=True, kw_only=True)
class BolusPlan:
    """A bolus as it would run, with its effects, refusals and warnings."""

    kind: BolusKind
    volume_nl: int
    duration_s: int
    """0 on the wire for bridge/priming (the pump runs them at its maximum rate);
    here always the real duration."""
    concentration_ug_per_ml: int
    reservoir_before_nl: int
    reservoir_after_nl: int
    alarm_at_before_s: int | None
    alarm_at_after_s: int | None
    """About when the low-reservoir alarm comes after this bolus (pump clock, s)."""
    refusals: tuple[str, ...]
    warnings: tuple[tuple[str, str], ...]
    """(code, text) pairs to acknowledge."""

    @property
    def ok(self) -> bool:
        return not self.refusals

    @property
    def dose_ug(self) -> Fraction:
        """Drug in the bolus at the reservoir's concentration, mcg."""
        return units.volume_to_dose_ug(self.volume_nl, self.concentration_ug_per_ml)

    @property
    def wire_duration_s(self) -> int:
        """What START_BOLUS carries: the duration for a therapeutic bolus, 0 (max rate) else."""
        return self.duration_s if self.kind is BolusKind.THERAPEUTIC else 0

    @property
    def title(self) -> str:
        return KIND_NAMES[self.kind].capitalize()

    def summary_lines(self) -> list[str]:
        """What the review shows, each with its units."""
        lines = [
            f"Volume: {units.format_volume_nl(self.volume_nl, 3)} "
            f"({units.format_dose_ug(self.dose_ug)} at "
            f"{units.format_concentration_ug_per_ml(self.concentration_ug_per_ml)})",
            f"Duration: {format_duration_s(self.duration_s)}",
            f"Reservoir: {units.format_volume_nl(self.reservoir_before_nl)} now, "
            f"{units.format_volume_nl(self.reservoir_after_nl)} after the bolus",
        ]
        return lines


def _common_checks(
    *, volume_nl: int, device: m.DeviceInfoResponse, status: m.StatusResponse
) -> list[str]:
    refusals = []
    if volume_nl <= 0:
        refusals.append("the bolus volume must be more than 0 mL")
    deliverable = max(status.reservoir_nl - device.empty_threshold_nl, 0)
    if volume_nl > deliverable:
        refusals.append(
            f"the reservoir can deliver only {units.format_volume_nl(deliverable, 3)} before it "
            f"reaches its empty threshold ({units.format_volume_nl(device.empty_threshold_nl)}); "
            f"the bolus needs {units.format_volume_nl(volume_nl, 3)}"
        )
    if not status.delivering:
        refusals.append("the pump is not delivering (stopped or halted): resume it first")
    if status.bolus_kind is not BolusKind.NONE:
        refusals.append(
            f"a {KIND_NAMES[status.bolus_kind]} is running: wait for it to end or cancel it"
        )
    return refusals


def alarm_after_bolus_s(snapshot: PumpSnapshot, volume_nl: int, duration_s: int) -> int | None:
    """When the low-reservoir alarm comes if this bolus starts now (pump clock, s): the
    programmer's forecast with the bolus first and the basal schedule after it."""
    bolus = PlannedBolus(volume_nl=volume_nl, duration_s=max(duration_s, 1))
    forecast = forecast_pending(snapshot, snapshot.require_prescription(), boluses_first=(bolus,))
    return forecast.low_reservoir_alarm_at_s


def _plan(
    *,
    kind: BolusKind,
    volume_nl: int,
    duration_s: int,
    snapshot: PumpSnapshot,
    refusals: list[str],
    warnings: list[tuple[str, str]],
) -> BolusPlan:
    status = snapshot.status
    refusals = _common_checks(volume_nl=volume_nl, device=snapshot.device, status=status) + refusals
    after = max(status.reservoir_nl - volume_nl, 0)
    if after <= status.alarm_volume_nl < status.reservoir_nl:
        warnings.append(
            (
                "bolus-low-reservoir",
                f"After this bolus the reservoir ({units.format_volume_nl(after)}) is at or below "
                f"the alarm volume ({units.format_volume_nl(status.alarm_volume_nl)}): the "
                "low-reservoir alarm will sound. Plan a refill.",
            )
        )
    return BolusPlan(
        kind=kind,
        volume_nl=volume_nl,
        duration_s=duration_s,
        concentration_ug_per_ml=status.concentration_ug_per_ml,
        reservoir_before_nl=status.reservoir_nl,
        reservoir_after_nl=after,
        alarm_at_before_s=status.low_reservoir_alarm_at_s,
        alarm_at_after_s=alarm_after_bolus_s(snapshot, volume_nl, duration_s),
        refusals=tuple(refusals),
        warnings=tuple(warnings),
    )


def therapeutic(
    *,
    dose_ug: Fraction | int,
    duration_s: int,
    snapshot: PumpSnapshot,
) -> BolusPlan:
    """A dose of ``dose_ug`` mcg over ``duration_s`` at the reservoir's concentration."""
    device, status = snapshot.device, snapshot.status
    dose = Fraction(dose_ug)
    if dose <= 0:
        raise BolusEntryError("the bolus dose must be more than 0 mcg")
    conc = status.concentration_ug_per_ml
    volume = units.dose_to_volume_nl(dose, conc)
    refusals: list[str] = []
    warnings: list[tuple[str, str]] = []
    fastest = duration_at_max_rate_s(volume, device.max_rate_nl_per_day) if volume > 0 else 0
    if duration_s < max(fastest, 1):
        refusals.append(
            f"{units.format_volume_nl(volume, 3)} needs at least {format_duration_s(fastest)} "
            "at the pump's maximum rate "
            f"({units.format_rate_nl_per_day(device.max_rate_nl_per_day)})"
        )
    if duration_s > MAX_BOLUS_DURATION_S:
        refusals.append(f"a bolus runs at most {format_duration_s(MAX_BOLUS_DURATION_S)}")
    basal_dose = units.rate_to_dose_ug_per_day(status.daily_volume_nl, conc)
    if basal_dose > 0 and dose > LARGE_BOLUS_FRACTION * basal_dose:
        warnings.append(
            (
                "bolus-large",
                f"The bolus ({units.format_dose_ug(dose)}) is more than "
                f"{units.format_percent(LARGE_BOLUS_FRACTION, 0)} of the 24-hour basal dose "
                f"({units.format_dose_ug_per_day(basal_dose)}). Check the dose: an overdose "
                "causes drowsiness and slowed breathing.",
            )
        )
    return _plan(
        kind=BolusKind.THERAPEUTIC,
        volume_nl=volume,
        duration_s=duration_s,
        snapshot=snapshot,
        refusals=refusals,
        warnings=warnings,
    )


def bridge(*, catheter_length_cm: int, snapshot: PumpSnapshot) -> BolusPlan:
    """The bridge bolus for a catheter of ``catheter_length_cm`` (at the maximum rate)."""
    device = snapshot.device
    volume = bridge_volume_nl(device, catheter_length_cm)
    return _plan(
        kind=BolusKind.BRIDGE,
        volume_nl=volume,
        duration_s=duration_at_max_rate_s(volume, device.max_rate_nl_per_day),
        snapshot=snapshot,
        refusals=[],
        warnings=[],
    )


def priming(
    *,
    catheter_length_cm: int,
    include_tubing: bool,
    snapshot: PumpSnapshot,
) -> BolusPlan:
    """The priming bolus filling an empty catheter (and tubing) at the maximum rate."""
    device, status = snapshot.device, snapshot.status
    volume = priming_volume_nl(device, catheter_length_cm, include_tubing=include_tubing)
    drug_ug = units.volume_to_dose_ug(volume, status.concentration_ug_per_ml)
    warnings = [
        (
            "priming-full-catheter",
            "Prime only an EMPTY catheter (after implant or a catheter revision). Priming a "
            f"full catheter pushes {units.format_dose_ug(drug_ug)} "
            "into the spinal fluid at once: an overdose.",
        )
    ]
    return _plan(
        kind=BolusKind.PRIMING,
        volume_nl=volume,
        duration_s=duration_at_max_rate_s(volume, device.max_rate_nl_per_day),
        snapshot=snapshot,
        refusals=[],
        warnings=warnings,
    )


@dataclass(frozen=True, kw_only=True)
class BolusProgress:
    """A running bolus as the pump reports it."""

    kind: BolusKind
    remaining_nl: int
    volume_nl: int | None
    """The bolus's full volume when known (started in this session, or from the log)."""
    ends_at_s: int | None
    clock_s: int

    @property
    def fraction_done(self) -> Fraction | None:
        """Share delivered so far (None when the full volume is unknown)."""
        if not self.volume_nl:
            return None
        done = self.volume_nl - self.remaining_nl
        return Fraction(min(max(done, 0), self.volume_nl), self.volume_nl)

    @property
    def remaining_s(self) -> int | None:
        return None if self.ends_at_s is None else max(self.ends_at_s - self.clock_s, 0)

    def text(self) -> str:
        """``Bridge bolus: 0.086 mL left of 0.486 mL (82 %), ends in 5 min 12 s``."""
        left = units.format_volume_nl(self.remaining_nl, 3)
        parts = [f"{KIND_NAMES[self.kind].capitalize()}: {left} left"]
        if self.volume_nl:
            parts[0] += f" of {units.format_volume_nl(self.volume_nl, 3)}"
        fraction = self.fraction_done
        if fraction is not None:
            parts[0] += f" ({units.format_percent(fraction, 0)} done)"
        remaining = self.remaining_s
        if remaining is not None:
            parts.append(f"ends in {format_duration_s(remaining)}")
        return ", ".join(parts)


def progress(status: m.StatusResponse, *, volume_nl: int | None = None) -> BolusProgress | None:
    """The running bolus (None when none runs); ``volume_nl`` is its full volume if known."""
    if status.bolus_kind is BolusKind.NONE:
        return None
    return BolusProgress(
        kind=status.bolus_kind,
        remaining_nl=status.bolus_remaining_nl,
        volume_nl=volume_nl,
        ends_at_s=status.bolus_ends_at_s,
        clock_s=status.clock_s,
    )


def volume_from_log(entries: tuple[m.LogEntry, ...] | list[m.LogEntry]) -> int | None:
    """The full volume of the bolus still running: the last BOLUS_STARTED not followed by
    its end or cancellation (None if the log does not show one)."""
    volume: int | None = None
    for entry in entries:
        if entry.code is EventCode.BOLUS_STARTED:
            volume = entry.b
        elif entry.code in (EventCode.BOLUS_ENDED, EventCode.BOLUS_CANCELLED):
            volume = None
    return volume


# --- the review ---------------------------------------------------------------------------


def start_action(plan: BolusPlan) -> ProgramAction:
    """START_BOLUS with the plan's kind and volume (bridge and priming at the maximum rate).

    Verified when the pump reports that bolus running, or, if it already ended,
    a reservoir that went down by at least its volume.
    """
    description = f"Start a {KIND_NAMES[plan.kind]} of {units.format_volume_nl(plan.volume_nl, 3)}"

    def run(client: PumpClient) -> str:
        started = client.start_bolus(plan.kind, plan.volume_nl, plan.wire_duration_s)
        return (
            f"The pump is delivering the {KIND_NAMES[plan.kind]}: "
            f"{units.format_volume_nl(started.volume_nl, 3)} over "
            f"{format_duration_s(started.duration_s)}."
        )

    def verify(snapshot: PumpSnapshot) -> bool:
        status = snapshot.status
        if status.bolus_kind is plan.kind:
            return True
        return status.reservoir_nl <= plan.reservoir_before_nl - plan.volume_nl

    return ProgramAction(description=description, run=run, verify=verify, steps=(description,))


def build_review(plan: BolusPlan, snapshot: PumpSnapshot) -> Review:
    """The review of starting ``plan``: the bolus, its effect on the reservoir and the alarm
    date, and its warnings. Raises BolusEntryError while the plan is refused."""
    if not plan.ok:
        raise BolusEntryError("the bolus is refused: " + "; ".join(plan.refusals))
    basal = snapshot.dose_ug_per_day
    rows = (
        ("Bolus", "none", plan.title),
        (
            "Volume",
            NOT_SET,
            f"{units.format_volume_nl(plan.volume_nl, 3)} "
            f"({units.format_dose_ug(plan.dose_ug)} at "
            f"{units.format_concentration_ug_per_ml(plan.concentration_ug_per_ml)})",
        ),
        ("Duration", NOT_SET, format_duration_s(plan.duration_s)),
        (
            "Reservoir",
            units.format_volume_nl(plan.reservoir_before_nl),
            units.format_volume_nl(plan.reservoir_after_nl) + " after the bolus",
        ),
        (
            "Low-reservoir alarm",
            format_pump_date(snapshot, plan.alarm_at_before_s),
            format_pump_date(snapshot, plan.alarm_at_after_s),
        ),
        ("24-hour basal dose", *(units.format_dose_ug_per_day(basal),) * 2),
    )
    return Review(
        title=f"Review: {KIND_NAMES[plan.kind]}",
        rows=tuple(
            ReviewRow(label=label, current=cur, pending=new, changed=cur != new)
            for label, cur, new in rows
        ),
        current_daily_dose_ug=basal,
        pending_daily_dose_ug=basal,
        change_percent=Fraction(0),
        warnings=tuple(ReviewWarning(code=code, text=text) for code, text in plan.warnings),
        action=start_action(plan),
        notes=(
            "The bolus replaces the basal rate while it runs; the basal therapy resumes after it.",
        ),
    )
