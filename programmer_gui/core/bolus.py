"""Boluses, without Qt: therapeutic and priming plans, and a running bolus's progress.

Each plan carries what the clinician must see before confirming: the volume,
the drug it holds, the duration, the reservoir left afterwards and the
low-reservoir alarm date moved by the extra volume. Refusals (the pump would
refuse, or the reservoir cannot deliver it) block the plan; warnings go to the
review screen.

- Therapeutic: a dose in mcg over a chosen duration, slower than the pump's
  maximum rate (:func:`protocol.schedule.shortest_bolus_s`) and at most 24 h. The
  pump turns the dose into a volume at the concentration in force (the old drug
  during a bridge).
- Priming: fills an empty catheter (after implant or a catheter revision) with
  a volume at the maximum rate, the only bolus that runs there (drug and
  non-drug fluid mix at that rate, so it warns): the catheter's volume from
  the implant record, plus the tubing when the pump is new and its tubing is
  empty too.

There is no bridge bolus: the bridge after a concentration change is part of
the refill (see :mod:`programmer_gui.core.refill`), never a push at the
maximum rate.

The alarm-date effect comes from the pump's own forecast
(:func:`programmer_gui.core.dates.forecast`) on the STATUS as it would read
the second the bolus starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Final

from programmer_gui.core import InputError
from programmer_gui.core.action import ProgramAction, one_step
from programmer_gui.core.dates import forecast, format_pump_date, status_with_bolus
from programmer_gui.core.review import NOT_SET, Review, ReviewWarning, review_rows
from protocol import messages as m
from protocol import units
from protocol.client import PumpClient
from protocol.enums import BolusKind, Mode, StopReason
from protocol.schedule import priming_duration_s, shortest_bolus_s, volume_for_dose
from protocol.timebase import SECONDS_PER_DAY

if TYPE_CHECKING:
    from programmer_gui.core.snapshot import PumpSnapshot

MAX_BOLUS_DURATION_S: Final = SECONDS_PER_DAY
"""A therapeutic bolus runs at most 24 h (the pump's limit: DEVICE_INFO max_bolus_duration_s)."""
LARGE_BOLUS_FRACTION: Final = Fraction(1, 2)
"""A therapeutic bolus over this share of the 24-hour basal dose warns."""

KIND_NAMES: Final = {
    BolusKind.THERAPEUTIC: "therapeutic bolus",
    BolusKind.PRIMING: "priming bolus",
    BolusKind.PATIENT: "patient-activated dose",
    BolusKind.BRIDGE: "bridge (concentration change)",
    BolusKind.NONE: "no bolus",
}


def priming_volume_nl(
    device: m.DeviceInfoResponse, implant: m.ImplantFields, *, include_tubing: bool
) -> int:
    """What fills an empty catheter of the implant record (its length, and volume per cm of
    its model), and the pump's tubing too when ``include_tubing``. A catheter whose length is
    uncertain is primed to its upper bound (an unfilled tip would delay therapy; the mixing
    warning covers the rest)."""
    length_mm = implant.catheter_length_mm + implant.catheter_length_uncertainty_mm
    catheter = -(-implant.catheter_volume_nl_per_cm * length_mm // 10)
    return catheter + (device.tubing_volume_nl if include_tubing else 0)


@dataclass(frozen=True, kw_only=True)
class BolusPlan:
    """A bolus as it would run, with its effects, refusals and warnings."""

    kind: BolusKind
    volume_nl: int
    duration_s: int
    """0 on the wire for priming (the pump runs it at its maximum rate); here always the
    real duration."""
    dose_ng: int = 0
    """A therapeutic bolus's dose, as the wire carries it (0 for priming: a volume)."""
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
        """Drug in the bolus, mcg (the dose of a therapeutic bolus; for priming, the drug in
        its volume at the concentration it runs at)."""
        if self.kind is BolusKind.THERAPEUTIC:
            return Fraction(self.dose_ng, 1000)
        return units.volume_to_dose_ug(self.volume_nl, self.concentration_ug_per_ml)

    @property
    def title(self) -> str:
        return KIND_NAMES[self.kind].capitalize()

    def summary_lines(self) -> list[str]:
        """What the review shows, each with its units."""
        lines = [
            f"Volume: {units.format_volume_nl(self.volume_nl)} "
            f"({units.format_dose_ug(self.dose_ug)} at "
            f"{units.format_concentration_ug_per_ml(self.concentration_ug_per_ml)})",
            f"Duration: {units.format_duration(self.duration_s)}",
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
            f"the reservoir can deliver only {units.format_volume_nl(deliverable)} before it "
            f"reaches its empty threshold ({units.format_volume_nl(device.empty_threshold_nl)}); "
            f"the bolus needs {units.format_volume_nl(volume_nl)}"
        )
    if status.mode is Mode.STOPPED:
        refusals.append(
            "therapy is stopped: resume it first"
            if status.stop_reason is not StopReason.NONE
            else "the programmed mode is Stopped: program a prescription first"
        )
    elif not status.delivering:
        refusals.append("the pump is not delivering (halted by a fault)")
    if status.bolus_kind is not BolusKind.NONE:
        refusals.append(
            f"a {KIND_NAMES[status.bolus_kind]} is running: wait for it to end or cancel it"
        )
    return refusals


def alarm_after_bolus_s(
    snapshot: PumpSnapshot, *, kind: BolusKind, dose_ng: int, volume_nl: int, duration_s: int
) -> int | None:
    """When the low-reservoir alarm comes if this bolus starts now (pump clock, s): the
    pump's forecast on the STATUS as it would read with the bolus started."""
    if volume_nl <= 0 or not snapshot.status.delivering:
        return snapshot.status.low_reservoir_alarm_at_s
    status = status_with_bolus(
        snapshot.status,
        kind=kind,
        dose_ng=dose_ng,
        volume_nl=volume_nl,
        duration_s=max(duration_s, 1),
    )
    return forecast(snapshot, status=status).low_reservoir_alarm_at_s


def _plan(
    *,
    kind: BolusKind,
    volume_nl: int,
    duration_s: int,
    dose_ng: int = 0,
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
        dose_ng=dose_ng,
        concentration_ug_per_ml=snapshot.rate_concentration_ug_per_ml,
        reservoir_before_nl=status.reservoir_nl,
        reservoir_after_nl=after,
        alarm_at_before_s=status.low_reservoir_alarm_at_s,
        alarm_at_after_s=alarm_after_bolus_s(
            snapshot, kind=kind, dose_ng=dose_ng, volume_nl=volume_nl, duration_s=duration_s
        ),
        refusals=tuple(refusals),
        warnings=tuple(warnings),
    )


def therapeutic(
    *,
    dose_ug: Fraction | int,
    duration_s: int,
    snapshot: PumpSnapshot,
) -> BolusPlan:
    """A dose of ``dose_ug`` mcg over ``duration_s``, as a volume at the concentration in
    force (the old drug during a bridge), as the pump computes it."""
    device = snapshot.device
    dose = Fraction(dose_ug)
    if dose <= 0:
        raise InputError("the bolus dose must be more than 0 mcg", reason="bolus")
    conc = snapshot.rate_concentration_ug_per_ml
    dose_ng = units.round_half_even(dose * 1000)
    volume = volume_for_dose(dose_ng, conc)
    refusals: list[str] = []
    warnings: list[tuple[str, str]] = []
    fastest = shortest_bolus_s(volume, device.max_rate_nl_per_day) if volume > 0 else 1
    if duration_s < fastest:
        refusals.append(
            f"{units.format_volume_nl(volume)} needs at least {units.format_duration(fastest)}: "
            "only priming runs at the pump's maximum rate "
            f"({units.format_rate_nl_per_day(device.max_rate_nl_per_day)})"
        )
    if duration_s > MAX_BOLUS_DURATION_S:
        refusals.append(f"a bolus runs at most {units.format_duration(MAX_BOLUS_DURATION_S)}")
    basal_dose = snapshot.dose_ug_per_day
    if basal_dose > 0 and dose > LARGE_BOLUS_FRACTION * basal_dose:
        warnings.append(
            (
                "bolus-large",
                f"The bolus ({units.format_dose_ug(dose)}) is more than "
                f"{units.format_percent(LARGE_BOLUS_FRACTION)} of the 24-hour basal dose "
                f"({units.format_dose_ug_per_day(basal_dose)}). Check the dose: an overdose "
                "causes drowsiness and slowed breathing.",
            )
        )
    return _plan(
        kind=BolusKind.THERAPEUTIC,
        volume_nl=volume,
        duration_s=duration_s,
        dose_ng=dose_ng,
        snapshot=snapshot,
        refusals=refusals,
        warnings=warnings,
    )


def priming(
    *,
    include_tubing: bool,
    snapshot: PumpSnapshot,
) -> BolusPlan:
    """The priming bolus filling the implant record's empty catheter (and the tubing) at the
    maximum rate. InputError (reason "no-implant-record") without an implant record."""
    device, status = snapshot.device, snapshot.status
    implant = snapshot.implant_record
    if implant is None:
        raise InputError(
            "the pump holds no implant record: record the catheter (Implant record page) "
            "before priming; its length is never assumed",
            reason="no-implant-record",
        )
    volume = priming_volume_nl(device, implant, include_tubing=include_tubing)
    drug_ug = units.volume_to_dose_ug(volume, status.concentration_ug_per_ml)
    warnings = [
        (
            "priming-full-catheter",
            "Prime only an EMPTY catheter (after implant or a catheter revision). Priming a "
            f"full catheter pushes {units.format_dose_ug(drug_ug)} "
            "into the spinal fluid at once: an overdose.",
        ),
        (
            "priming-mixing",
            "Priming runs at the pump's maximum rate, the only bolus that does: drug and the "
            "fluid already in the line mix at that rate, so the concentration reaching the tip "
            "during priming is uncertain.",
        ),
    ]
    return _plan(
        kind=BolusKind.PRIMING,
        volume_nl=volume,
        duration_s=priming_duration_s(volume, device.max_rate_nl_per_day),
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
        """``Therapeutic bolus: 0.086 mL left of 0.486 mL (82 %), ends in 5 min 12 s``."""
        left = units.format_volume_nl(self.remaining_nl)
        parts = [f"{KIND_NAMES[self.kind].capitalize()}: {left} left"]
        if self.volume_nl:
            parts[0] += f" of {units.format_volume_nl(self.volume_nl)}"
        fraction = self.fraction_done
        if fraction is not None:
            parts[0] += f" ({units.format_percent(fraction)} done)"
        remaining = self.remaining_s
        if remaining is not None:
            parts.append(f"ends in {units.format_duration(remaining)}")
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


# --- the review ---------------------------------------------------------------------------


def start_action(plan: BolusPlan) -> ProgramAction:
    """START_BOLUS: a therapeutic dose over its duration, or a priming volume at the maximum
    rate.

    Verified when the pump reports that bolus running, or, if it already ended,
    a reservoir that went down by at least its volume.
    """
    if plan.kind is BolusKind.THERAPEUTIC:
        description = (
            f"Start a {KIND_NAMES[plan.kind]} of {units.format_dose_ug(plan.dose_ug)} over "
            f"{units.format_duration(plan.duration_s)}"
        )
    else:
        description = f"Start a {KIND_NAMES[plan.kind]} of {units.format_volume_nl(plan.volume_nl)}"

    def run(client: PumpClient) -> str:
        if plan.kind is BolusKind.THERAPEUTIC:
            started = client.start_bolus(dose_ng=plan.dose_ng, duration_s=plan.duration_s)
        else:
            started = client.start_priming(volume_nl=plan.volume_nl)
        return (
            f"The pump is delivering the {KIND_NAMES[plan.kind]}: "
            f"{units.format_volume_nl(started.volume_nl)} over "
            f"{units.format_duration(started.duration_s)}."
        )

    def verify(snapshot: PumpSnapshot) -> bool:
        status = snapshot.status
        if status.bolus_kind is plan.kind:
            return True
        return status.reservoir_nl <= plan.reservoir_before_nl - plan.volume_nl

    return one_step(description, run, verify)


def build_review(plan: BolusPlan, snapshot: PumpSnapshot) -> Review:
    """The review of starting ``plan``: the bolus, its effect on the reservoir and the alarm
    date, and its warnings. Raises InputError (reason "bolus") while the plan is refused."""
    if not plan.ok:
        raise InputError("the bolus is refused: " + "; ".join(plan.refusals), reason="bolus")
    basal = snapshot.dose_ug_per_day
    rows = (
        ("Bolus", "none", plan.title),
        (
            "Volume",
            NOT_SET,
            f"{units.format_volume_nl(plan.volume_nl)} "
            f"({units.format_dose_ug(plan.dose_ug)} at "
            f"{units.format_concentration_ug_per_ml(plan.concentration_ug_per_ml)})",
        ),
        ("Duration", NOT_SET, units.format_duration(plan.duration_s)),
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
        rows=review_rows(rows),
        current_daily_dose_ug=basal,
        pending_daily_dose_ug=basal,
        change_percent=Fraction(0),
        warnings=tuple(ReviewWarning(code=code, text=text) for code, text in plan.warnings),
        action=start_action(plan),
        notes=(
            "The bolus replaces the basal rate while it runs; the basal therapy resumes after it.",
        ),
    )
