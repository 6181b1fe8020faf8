"""Forecasts: when will the commanded volume (or the battery drain) reach a threshold?

A :class:`Plan` is what the pump will do from now on if nobody intervenes:
the running bolus to its end, the basal schedule (flex steps included), and,
when patient doses are enabled, a patient who asks for a dose the moment the
request rule allows one ("patient doses assumed used at their maximum").
Reservoir limits and halts are ignored (a forecast assumes refills happen).

:func:`first_reach_t` integrates that plan exactly, event to event, and
skips whole repetitions of it so that years of forecast stay cheap:

- no patient doses: the basal schedule repeats every ``period_s``, so whole
  periods are skipped at once (their integral is known);
- patient doses: at each dose start the future depends only on the phase
  in the schedule and on the recent grants, so when that state repeats the
  cycle between the two visits is skipped as many times as fits.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_model.delivery import RunningBolus, first_reach, linear_floor_volume
from firmware_model.prescription import PatientDoseSettings, Schedule, next_patient_dose_t
from firmware_model.timebase import SECONDS_PER_DAY, ceil_div
from protocol.enums import BolusKind

_MAX_CYCLE_STATES = 4_096
"""Dose-start states remembered while looking for a repetition (bounds memory)."""


@dataclass(frozen=True, kw_only=True)
class Plan:
    """The pump's future if nothing intervenes, from model second ``t``."""

    t: int
    clock_offset_s: int
    schedule: Schedule
    basal_remainder: int
    bolus: RunningBolus | None
    patient: PatientDoseSettings | None
    """Settings of a patient taking every dose allowed; None when no doses will be taken."""
    grants_t: tuple[int, ...]
    """Model times of doses granted so far (the request rule looks back 24 h)."""
    delivering: bool
    """False when the pump is stopped or halted: no volume moves at all."""


def _largest_k_below(*, progress_at: _Progress, k_max: int, need: int) -> int:
    """Largest k in [0, k_max] with progress_at(k) < need (progress_at(0) < need)."""
    lo, hi = 0, k_max
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if progress_at(mid) < need:
            lo = mid
        else:
            hi = mid - 1
    return lo


class _Progress:
    """Progress after ``k`` repetitions of a cycle, as a callable (exact integers)."""

    def __init__(
        self,
        *,
        q: int,
        p: int,
        x0: int,
        rem: int,
        integ: int,
        bvol: int,
        d_x: int,
        d_integ: int,
        d_bvol: int,
    ) -> None:
        self.q, self.p = q, p
        self.x0, self.rem, self.integ, self.bvol = x0, rem, integ, bvol
        self.d_x, self.d_integ, self.d_bvol = d_x, d_integ, d_bvol

    def __call__(self, k: int) -> int:
        basal = (self.rem + self.integ + k * self.d_integ) // SECONDS_PER_DAY
        return self.q * (self.x0 + k * self.d_x) + self.p * (basal + self.bvol + k * self.d_bvol)


def first_reach_t(
    plan: Plan, *, q: int, p: int, need: int, horizon_s: int, skip_cycles: bool = True
) -> int | None:
    """First model second ``x`` at which ``q*(x - t) + p*volume(t..x) >= need``.

    ``volume`` is the volume the plan commands (nL); ``q = 0, p = 1`` asks
    when a volume is reached, the battery's quiescent and per-nL drains ask
    when a charge is used. None when it is not reached by ``t + horizon_s``.
    ``skip_cycles=False`` integrates every event without skipping repetitions
    (same answer, slower: a cross-check for tests).
    """
    t0 = plan.t
    if need <= 0:
        return t0
    limit = t0 + horizon_s
    if not plan.delivering:
        if q == 0:
            return None
        x = t0 + ceil_div(need, q)
        return x if x <= limit else None

    sched = plan.schedule
    off = plan.clock_offset_s
    rem0 = plan.basal_remainder
    patient = plan.patient
    bolus = plan.bolus
    grants = list(plan.grants_t)
    x = t0
    integ = 0  # basal rate integral since t0, nL*s/day
    bvol = 0  # bolus and patient-dose volume since t0, nL
    skipped = not skip_cycles
    seen: dict[tuple[int, tuple[int, ...]], tuple[int, int, int]] = {}

    def progress(x_: int, integ_: int, bvol_: int) -> int:
        return q * (x_ - t0) + p * ((rem0 + integ_) // SECONDS_PER_DAY + bvol_)

    while x < limit:
        if bolus is not None:
            end = min(bolus.end_t, limit)
            a = bolus.volume_nl * (x - bolus.start_t)
            dt = first_reach(
                q=q,
                p=p,
                a=a,
                b=bolus.volume_nl,
                c=bolus.duration_s,
                need=need - progress(x, integ, bvol),
                max_dt=end - x,
            )
            if dt is not None:
                return x + dt
            bvol += linear_floor_volume(a, bolus.volume_nl, bolus.duration_s, end - x)
            x = end
            if x == bolus.end_t:
                bolus = None
            continue

        next_dose = None if patient is None else next_patient_dose_t(patient, grants, x)
        if patient is not None and next_dose == x:
            if not skipped:
                phase = (x + off) % sched.period_s
                key = (phase, tuple(x - g for g in grants if g > x - SECONDS_PER_DAY))
                before = seen.get(key)
                if before is not None:
                    x1, integ1, bvol1 = before
                    cycle_s, d_integ, d_bvol = x - x1, integ - integ1, bvol - bvol1
                    cycle = _Progress(
                        q=q,
                        p=p,
                        x0=x - t0,
                        rem=rem0,
                        integ=integ,
                        bvol=bvol,
                        d_x=cycle_s,
                        d_integ=d_integ,
                        d_bvol=d_bvol,
                    )
                    k = _largest_k_below(progress_at=cycle, k_max=(limit - x) // cycle_s, need=need)
                    x += k * cycle_s
                    integ += k * d_integ
                    bvol += k * d_bvol
                    grants = [g + k * cycle_s for g in grants]
                    skipped = True
                    continue
                if len(seen) < _MAX_CYCLE_STATES:
                    seen[key] = (x, integ, bvol)
            grants = [g for g in grants if g > x - SECONDS_PER_DAY]
            grants.append(x)
            bolus = RunningBolus(
                kind=BolusKind.PATIENT,
                volume_nl=patient.volume_nl,
                duration_s=patient.duration_s,
                start_t=x,
            )
            continue

        rate, until = sched.segment_at(x + off)
        if not skipped and patient is None and until is not None:
            # Pure basal from here on: skip whole schedule periods.
            period = sched.period_s
            whole = _Progress(
                q=q,
                p=p,
                x0=x - t0,
                rem=rem0,
                integ=integ,
                bvol=bvol,
                d_x=period,
                d_integ=sched.period_integral,
                d_bvol=0,
            )
            k = _largest_k_below(progress_at=whole, k_max=(limit - x) // period, need=need)
            x += k * period
            integ += k * sched.period_integral
            skipped = True
            continue
        end = limit
        if until is not None:
            end = min(end, x + until)
        if next_dose is not None:
            end = min(end, next_dose)
        dt = first_reach(
            q=q,
            p=p,
            a=rem0 + integ,
            b=rate,
            c=SECONDS_PER_DAY,
            need=need - progress(x, integ, bvol),
            max_dt=end - x,
        )
        if dt is not None:
            return x + dt
        integ += rate * (end - x)
        x = end
    return None
