"""Forecasts: when will the commanded volume (or the battery drain) reach a threshold?

Shared by the pump and the programmer: the pump answers STATUS with it, and a
programmer that builds the same :class:`Plan` from that STATUS (see
:func:`plan_from_status`) gets the same seconds.

A :class:`Plan` is what the pump will do from now on if nobody intervenes:
the running bolus to its end, the basal schedule (flex steps included), and,
when patient doses are enabled, a patient who asks for a dose the moment the
request rule allows one ("patient doses assumed used at their maximum").
Reservoir limits and halts are ignored (a forecast assumes refills happen).

:func:`first_crossings` integrates that plan exactly, event to event, once
for several thresholds (:class:`Query`), and skips whole repetitions of it so
that years of forecast stay cheap:

- no patient doses: the basal schedule repeats every ``period_s``, so whole
  periods are skipped at once (their integral is known);
- patient doses: at a dose start the future depends only on the phase in
  the schedule and on the grants of the last 24 h, so when that state
  repeats the cycle between the two visits is skipped as many times as fits;
- doses that repeat in model time but drift against the schedule (a lockout
  out of step with the flex day or week, which may not come back in phase
  for centuries) are skipped by :func:`_drift_skip`, in closed form.

Each query then walks at most one cycle exactly. Every answer is the one
plain integration gives (``skip_cycles=False``). Each is a :class:`Crossing`:
the second and the constant-rate segment it lies in, so that a slightly
smaller need (the battery drained by telemetry since) is answered again in
O(1) with :meth:`Crossing.requery`.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import accumulate

from protocol.battery import BatteryModel
from protocol.enums import BolusKind
from protocol.frozen import frozen
from protocol.messages import (
    DeviceInfoResponse,
    PatientSettingsFields,
    PrescriptionSpec,
    StatusResponse,
)
from protocol.schedule import (
    PatientRule,
    RunningBolus,
    Schedule,
    compile_schedule,
    first_reach,
    linear_floor_volume,
    next_patient_dose_t,
    rescale_bolus,
    volume_for_dose,
)
from protocol.timebase import SECONDS_PER_DAY, ceil_div

_MAX_CYCLE_STATES = 4_096
"""Dose-start states remembered while looking for a repetition (bounds memory)."""


@frozen
class Plan:
    """The pump's future if nothing intervenes, from model second ``t``."""

    t: int
    clock_offset_s: int
    schedule: Schedule
    basal_remainder: int
    bolus: RunningBolus | None
    patient: PatientRule | None
    """Doses of a patient taking every dose allowed; None when no doses will be taken."""
    grants_t: tuple[int, ...]
    """Model times of doses granted so far (the request rule looks back 24 h)."""
    delivering: bool
    """False when the pump is stopped or halted: no volume moves at all."""
    bridge: BridgePlan | None = None
    """A bridge still running: ``schedule`` and ``patient`` are at its old concentration."""


@frozen
class BridgePlan:
    """The rest of a bridge: after ``remaining_nl`` more is commanded, the rates change.

    At that second the schedule becomes ``schedule_after`` and patient doses
    ``patient_after`` (both at the new concentration), and a dose bolus still
    running is rescaled to the new drug (:func:`protocol.schedule.rescale_bolus`).
    """

    remaining_nl: int
    schedule_after: Schedule
    patient_after: PatientRule | None
    old_concentration_ug_per_ml: int
    new_concentration_ug_per_ml: int


@frozen
class Query:
    """A threshold: the first second with ``q*(x - t) + p*volume(t..x) >= need``.

    ``q = 0, p = 1`` asks when a volume is reached; the battery's quiescent
    and per-nL drains ask when a charge is used.
    """

    q: int
    p: int
    need: int

    def __post_init__(self) -> None:
        if self.q < 0 or self.p < 0:
            raise ValueError(f"drains must not be negative: q={self.q}, p={self.p}")


@frozen(slots=True)
class Crossing:
    """Where a query's threshold is first reached, and the segment it lies in.

    From ``seg_x`` to ``x`` the plan runs one source at a constant rate, of
    linear floor form ``(a, b, c)`` (see :mod:`firmware_model.delivery`);
    ``seg_progress`` is the progress already made at ``seg_x`` (below
    ``need``). :meth:`requery` answers a smaller need that falls inside it.
    """

    x: int
    need: int
    q: int
    p: int
    seg_x: int
    seg_progress: int
    a: int
    b: int
    c: int

    def requery(self, need: int) -> int | None:
        """First second for ``need`` if it is reached within this segment, else None.

        Exact: the same answer :func:`first_crossings` gives for ``need`` on
        the same plan, whenever ``seg_progress < need <= self.need``.
        """
        progress = self.seg_progress
        if not progress < need <= self.need:
            return None
        dt = reach_dt(self.q, self.p, self.a, self.b, self.c, need - progress, self.x - self.seg_x)
        return None if dt is None else self.seg_x + dt


def reach_dt(  # noqa: PLR0917 - positional: called per poll, where keywords cost
    q: int, p: int, a: int, b: int, c: int, need: int, max_dt: int
) -> int | None:
    """Smallest ``dt`` in ``[0, max_dt]`` with ``q*dt + p*volume(dt) >= need``, or None.

    ``volume(dt) = (a + b*dt)//c - a//c`` (see :func:`linear_floor_volume`);
    ``q, p, b >= 0`` so the left side never decreases. Same answer as
    :func:`firmware_model.delivery.first_reach`, in O(1) steps: the floor
    moves the left side by less than ``p`` from its straight line, so the
    answer is bracketed by two exact ceilings and at most a short bisection
    (for the profiles' drains, one or two steps) remains. The ceiling divisions
    are written out (``ceil(n / d) == -(-n // d)``): the forecast cache's re-checks
    call this per poll.
    """
    if need <= 0:
        return 0
    k0 = a // c
    if q * max_dt + p * ((a + b * max_dt) // c - k0) < need:
        return None
    if q == 0:
        # p * ((a + b*dt)//c - k0) >= need  <=>  a + b*dt >= (k0 + ceil(need/p)) * c
        return max(0, -((a - (k0 - (-need // p)) * c) // b))
    r = a - k0 * c
    den = q * c + p * b
    # With g(dt) = q*dt + p*(r + b*dt)/c: g(dt) - p < left side <= g(dt).
    lo = -((p * r - c * need) // den)  # ceil((c*need - p*r) / den): below it, g < need
    lo = max(lo, 0)
    hi = -((p * r - c * (need + p)) // den)  # ceil((c*(need + p) - p*r) / den): g >= need + p
    hi = min(hi, max_dt)
    while lo < hi:
        mid = (lo + hi) // 2
        if q * mid + p * ((r + b * mid) // c) >= need:
            hi = mid
        else:
            lo = mid + 1
    return lo


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
    (crossing,) = first_crossings(
        plan, (Query(q=q, p=p, need=need),), horizon_s=horizon_s, skip_cycles=skip_cycles
    )
    return None if crossing is None else crossing.x


def first_crossings(
    plan: Plan, queries: Sequence[Query], *, horizon_s: int, skip_cycles: bool = True
) -> list[Crossing | None]:
    """Where each query's threshold is first reached on the plan (None: not by the horizon).

    One integration answers them all; each answer is the one
    :func:`first_reach_t` gives for that query alone. A running bridge splits the
    plan in two: up to the second it ends (:func:`bridge_end`) the old rates, from
    that second on a plan of the new ones.
    """
    bridge = plan.bridge
    if bridge is None or not plan.delivering:
        return _first_crossings(plan, queries, horizon_s=horizon_s, skip_cycles=skip_cycles)
    before = replace(plan, bridge=None)
    results = _first_crossings(before, queries, horizon_s=horizon_s, skip_cycles=skip_cycles)
    end = bridge_end(plan, horizon_s=horizon_s)
    if end is None:
        return results
    after, x_b, vol_b = end
    later = [i for i, crossing in enumerate(results) if crossing is None or crossing.x > x_b]
    if not later:
        return results
    shifted = []
    for i in later:
        q, p, need = queries[i].q, queries[i].p, queries[i].need
        shifted.append(Query(q=q, p=p, need=need - (q * (x_b - plan.t) + p * vol_b)))
    rest = _first_crossings(
        after, shifted, horizon_s=plan.t + horizon_s - x_b, skip_cycles=skip_cycles
    )
    for i, query, crossing in zip(later, shifted, rest, strict=True):
        if crossing is None:
            results[i] = None
            continue
        progress = queries[i].need - query.need
        results[i] = replace(
            crossing, need=queries[i].need, seg_progress=crossing.seg_progress + progress
        )
    return results


def bridge_end(plan: Plan, *, horizon_s: int) -> tuple[Plan, int, int] | None:
    """Where a plan's bridge ends: the plan from then on, its second, and the volume to it.

    The bridge ends at the first second at which the volume commanded since the
    plan's start reaches the bridge's remaining volume. None when there is no
    bridge, nothing moves, or it does not end by ``t + horizon_s``.
    """
    bridge = plan.bridge
    if bridge is None or not plan.delivering:
        return None
    state = _walk_to_volume(replace(plan, bridge=None), bridge.remaining_nl, plan.t + horizon_s)
    if state is None:
        return None
    x, integ, bvol, bolus, grants = state
    if bolus is not None:
        bolus = rescale_bolus(
            bolus,
            x,
            old_concentration=bridge.old_concentration_ug_per_ml,
            new_concentration=bridge.new_concentration_ug_per_ml,
        )
    after = Plan(
        t=x,
        clock_offset_s=plan.clock_offset_s,
        schedule=bridge.schedule_after,
        basal_remainder=(plan.basal_remainder + integ) % SECONDS_PER_DAY,
        bolus=bolus,
        patient=bridge.patient_after,
        grants_t=tuple(grants),
        delivering=True,
    )
    volume = (plan.basal_remainder + integ) // SECONDS_PER_DAY + bvol
    return after, x, volume


def _take_dose(rule: PatientRule, grants: list[int], x: int) -> tuple[list[int], RunningBolus]:
    """A patient dose taken at ``x``: the grants of the trailing 24 h with it, and its bolus."""
    kept = [g for g in grants if g > x - SECONDS_PER_DAY]
    kept.append(x)
    bolus = RunningBolus(
        kind=BolusKind.PATIENT,
        volume_nl=rule.volume_nl,
        duration_s=rule.duration_s,
        start_t=x,
        dose_ng=rule.dose_ng,
    )
    return kept, bolus


def _walk_to_volume(
    plan: Plan, need_nl: int, limit: int
) -> tuple[int, int, int, RunningBolus | None, list[int]] | None:
    """The walk's state ``(x, integ, bvol, bolus, grants)`` at the first second the plan
    has commanded ``need_nl``; None if not by ``limit``. Event by event, no skipping
    (a bridge lasts days, not years)."""
    x = plan.t
    rem0 = plan.basal_remainder
    integ = bvol = 0
    bolus = plan.bolus
    grants = list(plan.grants_t)
    rule = plan.patient
    sched = plan.schedule
    while x <= limit:
        left = need_nl - ((rem0 + integ) // SECONDS_PER_DAY + bvol)
        if left <= 0:
            return x, integ, bvol, bolus, grants
        if x == limit:
            return None
        if bolus is not None:
            a = bolus.volume_nl * (x - bolus.start_t)
            end = min(bolus.end_t, limit)
            b, c = bolus.volume_nl, bolus.duration_s
            dt = first_reach(q=0, p=1, a=a, b=b, c=c, need=left, max_dt=end - x)
            step = end - x if dt is None else dt
            bvol += linear_floor_volume(a, b, c, step)
            x += step
            if x == bolus.end_t:
                bolus = None
            continue
        next_dose = None if rule is None else next_patient_dose_t(rule, grants, x)
        if rule is not None and next_dose == x:
            grants, bolus = _take_dose(rule, grants, x)
            continue
        rate, until = sched.segment_at(x + plan.clock_offset_s)
        end = limit if until is None else min(limit, x + until)
        if next_dose is not None:
            end = min(end, next_dose)
        dt = first_reach(
            q=0, p=1, a=rem0 + integ, b=rate, c=SECONDS_PER_DAY, need=left, max_dt=end - x
        )
        step = end - x if dt is None else dt
        integ += rate * step
        x += step
    return None


def _first_crossings(
    plan: Plan, queries: Sequence[Query], *, horizon_s: int, skip_cycles: bool = True
) -> list[Crossing | None]:
    t0 = plan.t
    limit = t0 + horizon_s
    results: list[Crossing | None] = [None] * len(queries)
    pending: list[int] = []
    for i, query in enumerate(queries):
        q, p, need = query.q, query.p, query.need
        if need <= 0:
            results[i] = Crossing(
                x=t0, need=need, q=q, p=p, seg_x=t0, seg_progress=0, a=0, b=0, c=1
            )
        elif not plan.delivering:
            # Nothing moves: only the quiescent drain counts.
            x = t0 + ceil_div(need, q) if q else limit + 1
            if x <= limit:
                results[i] = Crossing(
                    x=x, need=need, q=q, p=p, seg_x=t0, seg_progress=0, a=0, b=0, c=1
                )
        else:
            pending.append(i)
    if pending:
        _Walk(plan, queries, results).run(
            pending,
            x=t0,
            integ=0,
            bvol=0,
            bolus=plan.bolus,
            grants=list(plan.grants_t),
            limit=limit,
            skip=skip_cycles,
        )
    return results


class _Walk:
    """One integration of a plan: its constants, and :meth:`run` from any state along it.

    A state is ``(x, integ, bvol, bolus, grants)``: the model second, the
    basal rate integral since ``t0`` (nL*s/day), the bolus and dose volume
    since ``t0`` (nL), the running bolus and the grant times.
    """

    def __init__(
        self, plan: Plan, queries: Sequence[Query], results: list[Crossing | None]
    ) -> None:
        self.t0 = plan.t
        self.sched = plan.schedule
        self.off = plan.clock_offset_s
        self.rem0 = plan.basal_remainder
        self.patient = plan.patient
        self.queries = queries
        self.results = results

    def run(
        self,
        pending: list[int],
        *,
        x: int,
        integ: int,
        bvol: int,
        bolus: RunningBolus | None,
        grants: list[int],
        limit: int,
        skip: bool,
    ) -> None:
        """Walk event to event until every pending query is answered or ``limit``.

        With ``skip``, the first repetition found hands over to
        :meth:`_skip_cycles` or :meth:`_drift_cycles`, which skip whole
        cycles for each query and walk its last one.
        """
        t0, sched, off, rem0, patient = self.t0, self.sched, self.off, self.rem0, self.patient
        queries, results = self.queries, self.results
        basal_skip_from = x if skip else limit + 1
        seen: dict[tuple[int, tuple[int, ...]], tuple[int, int, int]] = {}
        seen_recent: dict[tuple[int, ...], int] = {}

        def segment(a: int, b: int, c: int, end: int) -> None:
            """Answer the pending queries reached in one constant-rate segment from x to end."""
            vol0 = (rem0 + integ) // SECONDS_PER_DAY + bvol
            still: list[int] = []
            for i in pending:
                query = queries[i]
                q, p = query.q, query.p
                base = q * (x - t0) + p * vol0
                dt = reach_dt(q, p, a, b, c, query.need - base, end - x)
                if dt is None:
                    still.append(i)
                else:
                    results[i] = Crossing(
                        x=x + dt,
                        need=query.need,
                        q=q,
                        p=p,
                        seg_x=x,
                        seg_progress=base,
                        a=a,
                        b=b,
                        c=c,
                    )
            pending[:] = still

        while x < limit and pending:
            if bolus is not None:
                a = bolus.volume_nl * (x - bolus.start_t)
                end = min(bolus.end_t, limit)
                segment(a, bolus.volume_nl, bolus.duration_s, end)
                bvol += linear_floor_volume(a, bolus.volume_nl, bolus.duration_s, end - x)
                x = end
                if x == bolus.end_t:
                    bolus = None
                continue

            next_dose = None if patient is None else next_patient_dose_t(patient, grants, x)
            if patient is not None and next_dose == x:
                if skip:
                    # From a dose start the future depends only on the grants of the last
                    # 24 h (relative to now) and on the phase in the schedule.
                    recent = tuple(x - g for g in grants if g > x - SECONDS_PER_DAY)
                    key = ((x + off) % sched.period_s, recent)
                    before = seen.get(key)
                    if before is not None:
                        x1, integ1, bvol1 = before
                        self._skip_cycles(
                            pending,
                            x=x,
                            integ=integ,
                            bvol=bvol,
                            grants=grants,
                            limit=limit,
                            d_x=x - x1,
                            d_integ=integ - integ1,
                            d_bvol=bvol - bvol1,
                        )
                        return
                    first = seen_recent.get(recent)
                    if first is not None:
                        # The doses repeat in model time but out of phase with the schedule.
                        self._drift_cycles(
                            pending,
                            x=x,
                            integ=integ,
                            bvol=bvol,
                            grants=grants,
                            limit=limit,
                            cycle_from=first,
                        )
                        return
                    if len(seen) < _MAX_CYCLE_STATES:
                        seen[key] = (x, integ, bvol)
                        seen_recent[recent] = x
                grants, bolus = _take_dose(patient, grants, x)
                continue

            rate, until = sched.segment_at(x + off)
            if patient is None and until is not None and x >= basal_skip_from:
                # Pure basal from here on: skip whole schedule periods.
                self._skip_cycles(
                    pending,
                    x=x,
                    integ=integ,
                    bvol=bvol,
                    grants=grants,
                    limit=limit,
                    d_x=sched.period_s,
                    d_integ=sched.period_integral,
                    d_bvol=0,
                )
                return
            end = limit
            if until is not None:
                end = min(end, x + until)
            if next_dose is not None:
                end = min(end, next_dose)
            segment(rem0 + integ, rate, SECONDS_PER_DAY, end)
            integ += rate * (end - x)
            x = end

    def _progress(self, query: Query, x: int, integ: int, bvol: int) -> int:
        return query.q * (x - self.t0) + query.p * ((self.rem0 + integ) // SECONDS_PER_DAY + bvol)

    def _skip_cycles(
        self,
        pending: list[int],
        *,
        x: int,
        integ: int,
        bvol: int,
        grants: list[int],
        limit: int,
        d_x: int,
        d_integ: int,
        d_bvol: int,
    ) -> None:
        """From a state that repeats every ``d_x`` s (no bolus running), skip and walk per query."""
        cum = None if self.patient is not None else _cumulative_for(self.sched)
        for i in pending:
            query = self.queries[i]
            cycle = _Progress(
                q=query.q,
                p=query.p,
                x0=x - self.t0,
                rem=self.rem0,
                integ=integ,
                bvol=bvol,
                d_x=d_x,
                d_integ=d_integ,
                d_bvol=d_bvol,
            )
            k = _largest_k_below(progress_at=cycle, k_max=(limit - x) // d_x, need=query.need)
            # Cycle k + 1 reaches the threshold (or the limit): walk it.
            if cum is not None and cum.changes:
                # Pure basal: the walk's answer found by bisection over the cycle's rate
                # changes (:meth:`_basal_crossing`) instead of segment by segment.
                self.results[i] = self._basal_crossing(
                    query,
                    cum,
                    x=x + k * d_x,
                    integ=integ + k * d_integ,
                    bvol=bvol + k * d_bvol,
                    limit=min(limit, x + (k + 1) * d_x),
                )
                continue
            self.run(
                [i],
                x=x + k * d_x,
                integ=integ + k * d_integ,
                bvol=bvol + k * d_bvol,
                bolus=None,
                grants=[g + k * d_x for g in grants],
                limit=min(limit, x + (k + 1) * d_x),
                skip=False,
            )
        pending.clear()

    def _basal_crossing(
        self, query: Query, cum: _Cumulative, *, x: int, integ: int, bvol: int, limit: int
    ) -> Crossing | None:
        """The :class:`Crossing` that :meth:`run` gives for ``query`` alone from the state at
        ``x`` (no bolus, no patient doses, the query not reached at ``x``) with
        ``skip=False``, found without walking (``cum`` is the schedule's table).

        The walk cuts its segments at ``x``, at every rate change of the schedule and at
        ``limit``, and answers the query in the first one whose end reaches it (progress
        never decreases). That segment is found by bisection over the rate changes (exact
        integrals from ``cum``) and answered as the walk answers it. Proven equal to the
        walk in ``tests/firmware_model/test_forecast_cache.py``.
        """
        changes, period, n = cum.changes, cum.period_s, len(cum.changes)
        off, t0, rem0 = self.off, self.t0, self.rem0
        q, p, need = query.q, query.p, query.need
        at = cum.at
        z0 = x + off
        base0 = rem0 + integ - at(z0)
        w, u = divmod(z0, period)
        # The rate changes counted from clock 0: ``first`` is the first after ``x``, and
        # ``count`` of them lie strictly between ``x`` and ``limit``. Segment ``j`` runs
        # from boundary ``j`` (``x``, then the changes) to the next (the last to ``limit``).
        first = w * n + bisect_right(changes, u)
        wl, ul = divmod(limit + off, period)
        count = wl * n + bisect_left(changes, ul) - first

        def boundary(j: int) -> int:
            if j == 0:
                return x
            if j > count:
                return limit
            wk, r = divmod(first + j - 1, n)
            return wk * period + changes[r] - off

        def progress(z: int) -> int:
            return q * (z - t0) + p * ((base0 + at(z + off)) // SECONDS_PER_DAY + bvol)

        if progress(limit) < need:
            return None
        lo, hi = 0, count  # the first segment whose end reaches need
        while lo < hi:
            mid = (lo + hi) // 2
            if progress(boundary(mid + 1)) >= need:
                hi = mid
            else:
                lo = mid + 1
        seg_x, end = boundary(lo), boundary(lo + 1)
        a = base0 + at(seg_x + off)
        b = cum.rates[bisect_right(cum.starts, (seg_x + off) % period) - 1]
        seg_progress = q * (seg_x - t0) + p * (a // SECONDS_PER_DAY + bvol)
        dt = reach_dt(q, p, a, b, SECONDS_PER_DAY, need - seg_progress, end - seg_x)
        assert dt is not None  # the segment's end reaches need
        return Crossing(
            x=seg_x + dt,
            need=need,
            q=q,
            p=p,
            seg_x=seg_x,
            seg_progress=seg_progress,
            a=a,
            b=b,
            c=SECONDS_PER_DAY,
        )

    def _drift_cycles(
        self,
        pending: list[int],
        *,
        x: int,
        integ: int,
        bvol: int,
        grants: list[int],
        limit: int,
        cycle_from: int,
    ) -> None:
        """At a dose start repeating the doses since ``cycle_from``: see :func:`_drift_skip`."""
        patient = self.patient
        assert patient is not None  # only dose starts get here
        cycle_s = x - cycle_from
        offsets = [g - cycle_from for g in grants if g >= cycle_from]
        assert offsets[0] == 0  # a cycle is at most a day: its doses are all still listed
        dose_nl = len(offsets) * patient.volume_nl
        queries = [self.queries[i] for i in pending]

        def below_for(query: Query) -> Callable[[int, int], bool]:
            def below(k: int, basal: int) -> bool:
                return (
                    self._progress(query, x + k * cycle_s, integ + basal, bvol + k * dose_nl)
                    < query.need
                )

            return below

        skips = _drift_skip(
            _Cumulative(self.sched),
            clock_s=x + self.off,
            cycle_s=cycle_s,
            offsets=offsets,
            dose_s=patient.duration_s,
            k_max=(limit - x) // cycle_s,
            below=[below_for(query) for query in queries],
        )
        for i, (k, basal) in zip(pending, skips, strict=True):
            self.run(
                [i],
                x=x + k * cycle_s,
                integ=integ + basal,
                bvol=bvol + k * dose_nl,
                bolus=None,
                grants=[g + k * cycle_s for g in grants],
                limit=min(limit, x + (k + 1) * cycle_s),
                skip=False,
            )
        pending.clear()


class _Cumulative:
    """The basal rate integral of a schedule over RTC seconds, exact, from a one-period table."""

    def __init__(self, sched: Schedule) -> None:
        period = sched.period_s
        starts: list[int] = []
        rates: list[int] = []
        before: list[int] = []  # integral from 0 to each start
        u = total = 0
        while u < period:
            rate, until = sched.segment_at(u)
            end = period if until is None else min(period, u + until)
            starts.append(u)
            rates.append(rate)
            before.append(total)
            total += rate * (end - u)
            u = end
        self.period_s = period
        self.period_integral = total
        self.starts, self.rates, self.before = starts, rates, before
        self.changes = starts if rates[0] != rates[-1] else starts[1:]
        """Where the rate changes (phases in the period; 0 unless the last rate runs on)."""

    def at(self, z: int) -> int:
        """The integral of the rate from RTC second 0 to ``z`` (nL*s/day)."""
        periods, u = divmod(z, self.period_s)
        i = bisect_right(self.starts, u) - 1
        return (
            periods * self.period_integral + self.before[i] + self.rates[i] * (u - self.starts[i])
        )

    def window(self, z: int, length: int, forward: bool) -> tuple[int, int, int]:
        """The integral over ``[z, z + length]``, its change per second moved, and for how long.

        Moving the window forward (or back, ``forward=False``) by ``d`` seconds
        changes the integral by exactly ``d`` times the second value, for any
        ``d`` up to the third.
        """
        period, starts, rates, before = self.period_s, self.starts, self.rates, self.before
        if forward:
            w0, u0 = divmod(z, period)
            w1, u1 = divmod(z + length, period)
            i0 = bisect_right(starts, u0) - 1
            i1 = bisect_right(starts, u1) - 1
            r0, r1 = rates[i0], rates[i1]
            room0 = (starts[i0 + 1] if i0 + 1 < len(starts) else period) - u0
            room1 = (starts[i1 + 1] if i1 + 1 < len(starts) else period) - u1
            since0, since1 = u0 - starts[i0], u1 - starts[i1]
        else:
            w0, u0 = divmod(z - 1, period)
            w1, u1 = divmod(z + length - 1, period)
            i0 = bisect_right(starts, u0) - 1
            i1 = bisect_right(starts, u1) - 1
            r0, r1 = rates[i0], rates[i1]
            room0 = since0 = u0 + 1 - starts[i0]
            room1 = since1 = u1 + 1 - starts[i1]
        integral = (
            (w1 - w0) * self.period_integral + before[i1] + r1 * since1 - before[i0] - r0 * since0
        )
        return integral, r1 - r0, min(room0, room1)


_CUMULATIVE: dict[Schedule, _Cumulative] = {}
"""The tables of the schedules forecast last (by value: a fleet of pumps on the same
prescription shares one)."""
_CUMULATIVE_MAX = 64


def _cumulative_for(sched: Schedule) -> _Cumulative:
    """:class:`_Cumulative` of ``sched``, remembered for the schedules used last."""
    cum = _CUMULATIVE.get(sched)
    if cum is None:
        if len(_CUMULATIVE) >= _CUMULATIVE_MAX:
            _CUMULATIVE.clear()
        cum = _CUMULATIVE[sched] = _Cumulative(sched)
    return cum


def _block_size(*, alpha: int, period: int, k_max: int, breaks: int) -> int:
    """The number of cycles per block that makes :func:`_drift_skip` cheapest.

    Blocks of ``r`` cycles drift by ``d = r*alpha mod period`` (centred): the
    sweep costs ``r`` terms plus a visit per breakpoint crossed, about
    ``k_max * breaks * |d| / period``. The best ``r`` are continued-fraction
    denominators of ``alpha / period`` (they make ``|d|`` smallest).
    """

    def cost(r: int, drift: int) -> int:
        return r + k_max * breaks * abs(drift) // period

    best_cost, best = cost(1, min(alpha, period - alpha)), 1
    h_prev, h, k_prev, k = 1, 0, 0, 1
    num, den = period, alpha
    while den and k <= k_max:
        a = num // den
        h_prev, h = h, a * h + h_prev
        k_prev, k = k, a * k + k_prev
        num, den = den, num - a * den
        if k <= max(k_max, 1) and cost(k, k * alpha - h * period) < best_cost:
            best_cost, best = cost(k, k * alpha - h * period), k
    return best


def _drift_skip(
    cum: _Cumulative,
    *,
    clock_s: int,
    cycle_s: int,
    offsets: Sequence[int],
    dose_s: int,
    k_max: int,
    below: Sequence[Callable[[int, int], bool]],
) -> list[tuple[int, int]]:
    """Whole dose cycles to skip, for cycles repeating out of phase with the schedule.

    Cycle ``k`` starts at RTC ``clock_s + k*cycle_s`` with doses of ``dose_s``
    seconds at ``offsets``; the basal runs the rest of it. Its basal integral
    is ``R(c + cycle_s) - R(c) - g(c)`` with ``R`` the schedule's integral and
    ``g(c) = sum(R(c + o + dose_s) - R(c + o))``: a continuous, piecewise
    linear, periodic function of the phase. For each predicate
    ``below(k, basal)`` (true at ``k = 0``, monotone), returns the largest
    ``k <= k_max`` with ``below(k, basal_k)`` and that ``basal_k`` (the basal
    integral of cycles ``0..k-1``).

    Blocks of ``r`` cycles: cycle ``j*r + i`` has the phase of cycle ``i``
    moved by ``j*d`` (``d = r*cycle_s mod period``), so as ``j`` grows each of
    the ``r`` terms of a block's ``g`` sum stays linear in ``j`` until its
    phase crosses a breakpoint. A heap of those crossings gives the block sums
    as runs of arithmetic series: exact, and far fewer steps than cycles.
    """
    period = cum.period_s
    alpha = cycle_s % period
    r = _block_size(
        alpha=alpha,
        period=period,
        k_max=k_max,
        breaks=2 * len(offsets) * len(cum.starts),
    )
    drift = (r * alpha) % period
    if 2 * drift > period:
        drift -= period
    r0 = cum.at(clock_s)

    def basal(k: int, g_sum: int) -> int:
        return cum.at(clock_s + k * cycle_s) - r0 - g_sum

    def finish(j: int, g_sum: int, below_j: Callable[[int, int], bool]) -> tuple[int, int]:
        """The last cycle below within block ``j`` (below at its start; terms valid there)."""
        n = min(r, k_max - j * r)
        sums = list(accumulate((a + b * j for a, b in terms[:n]), initial=g_sum))
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if below_j(j * r + mid, basal(j * r + mid, sums[mid])):
                lo = mid
            else:
                hi = mid - 1
        return j * r + lo, basal(j * r + lo, sums[lo])

    window = cum.window
    forward = drift >= 0
    step = abs(drift)

    def piece(i: int, j: int) -> tuple[int, int, int]:
        """(a, b, end): term i of block j' is a + b*j' for j <= j' < end."""
        u = clock_s + i * cycle_s + j * drift
        value = slope = 0
        room = period
        for o in offsets:
            v, s, w = window(u + o, dose_s, forward)
            value += v
            slope += s
            room = min(room, w)
        if drift == 0:
            return value, 0, j_max + 1
        b = slope * drift
        return value - b * j, b, j + room // step + 1

    j_max = k_max // r
    heap: list[tuple[int, int]] = []
    terms: list[tuple[int, int]] = []
    sum_a = sum_b = 0
    for i in range(r if j_max else 0):
        a, b, end = piece(i, 0)
        terms.append((a, b))
        sum_a += a
        sum_b += b
        heap.append((end, i))
    heapq.heapify(heap)

    def block_sums(j0: int, g0: int, j1: int) -> int:
        """g summed over cycles up to block j1, from its value g0 at block j0 (one run)."""
        n = j1 - j0
        return g0 + sum_a * n + sum_b * (n * (j0 + j1 - 1) // 2)

    out: list[tuple[int, int] | None] = [None] * len(below)
    open_ = list(range(len(below)))
    j = g_sum = 0
    while open_ and j < j_max:
        j_next = min(heap[0][0], j_max)
        g_next = block_sums(j, g_sum, j_next)
        still: list[int] = []
        for n in open_:
            below_n = below[n]
            if below_n(j_next * r, basal(j_next * r, g_next)):
                still.append(n)
                continue
            lo, hi = j, j_next - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if below_n(mid * r, basal(mid * r, block_sums(j, g_sum, mid))):
                    lo = mid
                else:
                    hi = mid - 1
            out[n] = finish(lo, block_sums(j, g_sum, lo), below_n)
        open_ = still
        j, g_sum = j_next, g_next
        while heap[0][0] == j:
            i = heap[0][1]
            a, b = terms[i]
            sum_a -= a
            sum_b -= b
            a, b, end = piece(i, j)
            terms[i] = (a, b)
            sum_a += a
            sum_b += b
            heapq.heapreplace(heap, (end, i))
    for n in open_:
        out[n] = finish(j, g_sum, below[n]) if j_max else (0, 0)
    return [o for o in out if o is not None]


# --------------------------------------------------------------------------- from the wire


@frozen
class Dates:
    """The forecasts a STATUS reports, as pump-clock seconds (None: beyond the horizon)."""

    low_reservoir_at_s: int | None
    empty_at_s: int | None
    eri_at_s: int | None
    bridge_ends_at_s: int | None


def plan_from_status(
    status: StatusResponse,
    *,
    prescription: PrescriptionSpec,
    patient: PatientSettingsFields,
    minimum_mode_rate_nl_per_day: int,
) -> Plan:
    """The pump's plan as one STATUS (with its prescription and patient settings) shows it.

    Times are pump-clock seconds (the plan's ``t`` is ``status.clock_s`` and its
    clock offset 0). To forecast a pending change, pass the pending prescription
    or patient settings, or a STATUS changed with :func:`dataclasses.replace`.
    """
    bridging = status.bridge_remaining_nl > 0 and status.bridge_concentration_ug_per_ml > 0
    new_conc = status.concentration_ug_per_ml
    rate_conc = status.bridge_concentration_ug_per_ml if bridging else new_conc

    def at(conc: int) -> Schedule:
        return compile_schedule(
            prescription,
            concentration_ug_per_ml=conc,
            minimum_mode_rate_nl_per_day=minimum_mode_rate_nl_per_day,
        )

    def rule(conc: int) -> PatientRule | None:
        if not (patient.enabled and status.delivering):
            return None
        return PatientRule(
            volume_nl=volume_for_dose(patient.dose_ng, conc),
            duration_s=patient.duration_s,
            lockout_s=patient.lockout_s,
            max_per_24h=patient.max_per_24h,
            dose_ng=patient.dose_ng,
        )

    bolus = None
    if status.delivering and status.bolus_kind is not BolusKind.NONE:
        assert status.bolus_started_at_s is not None
        bolus = RunningBolus(
            kind=status.bolus_kind,
            volume_nl=status.bolus_volume_nl,
            duration_s=status.bolus_duration_s,
            start_t=status.bolus_started_at_s,
            dose_ng=status.bolus_dose_ng,
        )
    return Plan(
        t=status.clock_s,
        clock_offset_s=0,
        schedule=at(rate_conc),
        basal_remainder=status.basal_remainder,
        bolus=bolus,
        patient=rule(rate_conc),
        grants_t=tuple(grant.at_s for grant in status.recent_doses),
        delivering=status.delivering,
        bridge=BridgePlan(
            remaining_nl=status.bridge_remaining_nl,
            schedule_after=at(new_conc),
            patient_after=rule(new_conc),
            old_concentration_ug_per_ml=rate_conc,
            new_concentration_ug_per_ml=new_conc,
        )
        if bridging
        else None,
    )


def dates_from_status(
    status: StatusResponse,
    *,
    prescription: PrescriptionSpec,
    patient: PatientSettingsFields,
    info: DeviceInfoResponse,
) -> Dates:
    """The low-reservoir, empty, ERI and bridge-end dates of a STATUS, worked out as the
    pump works them out: equal to the STATUS's own to the second when ``prescription``
    and ``patient`` are the pump's (the programmer's check that it reads the pump right),
    and the forecast of a pending change when they are the pending ones."""
    plan = plan_from_status(
        status,
        prescription=prescription,
        patient=patient,
        minimum_mode_rate_nl_per_day=info.minimum_mode_rate_nl_per_day,
    )
    battery = BatteryModel(
        capacity_uc=info.battery_capacity_uc,
        quiescent_drain_uc_per_s=info.battery_quiescent_drain_uc_per_s,
        drain_uc_per_nl=info.battery_drain_uc_per_nl,
        telemetry_drain_uc_per_s=info.battery_telemetry_drain_uc_per_s,
        eri_lead_s=info.eri_lead_s,
    )
    steady = compile_schedule(
        prescription,
        concentration_ug_per_ml=status.concentration_ug_per_ml,
        minimum_mode_rate_nl_per_day=info.minimum_mode_rate_nl_per_day,
    )
    threshold = battery.eri_threshold_uc(steady.weekly_integral)
    remaining = status.battery_uc
    queries = [
        Query(q=0, p=1, need=status.reservoir_nl - status.alarm_volume_nl),
        Query(q=0, p=1, need=status.reservoir_nl - info.empty_threshold_nl),
        Query(
            q=battery.quiescent_drain_uc_per_s,
            p=battery.drain_uc_per_nl,
            need=remaining - threshold + 1 if remaining >= threshold else 0,
        ),
    ]
    horizon = info.forecast_horizon_s
    crossings = first_crossings(plan, queries, horizon_s=horizon)
    low, empty, eri = (
        None if c is None or c.x > status.clock_s + horizon else c.x for c in crossings
    )
    end = bridge_end(plan, horizon_s=horizon)
    return Dates(
        low_reservoir_at_s=low,
        empty_at_s=empty,
        eri_at_s=eri,
        bridge_ends_at_s=None if end is None else end[1],
    )
