"""The pump's forecast cache: the low-reservoir, empty and ERI seconds, worked out once per plan.

A forecast is an absolute second, which does not move while the pump follows the
plan it was worked out on. The pump bumps the cache's plan version
(:meth:`ForecastCache.plan_changed`) with everything that changes what it will do
from now on (a command, a fault, a halt or its end); refills, battery drains and
alarm volumes change only the thresholds, which the cache accounts for exactly.
With patient doses the plan assumes a dose as soon as the rule allows: once that
second passes, the plan moves with time (:func:`plan_valid_until`).

The maths (plans, crossings, integration) is :mod:`protocol.forecast`'s; this module
only remembers answers. ``Pump._forecasts_uncached`` integrates afresh, the reference
the tests hold the cache to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from protocol.forecast import Crossing, Plan, Query, first_crossings, reach_dt
from protocol.frozen import frozen
from protocol.schedule import next_patient_dose_t
from protocol.timebase import SECONDS_PER_DAY

__all__ = ["FORECAST_SLACK_S", "ForecastCache", "plan_valid_until"]

FORECAST_SLACK_S = SECONDS_PER_DAY
"""Forecasts are integrated this far past the horizon, so a cached "None" stays true a day."""


@frozen(slots=True)
class _Anchor:
    """One forecast as worked out at model second ``t`` (see :meth:`ForecastCache.forecast_ts`)."""

    plan_version: int
    t: int
    commanded_nl: int
    """The pump's total commanded volume at ``t``."""
    valid_until_t: int | None
    """Last model second the plan of ``t`` still describes the future (None: until it changes)."""
    need: int
    crossing: Crossing | None
    """The answer for ``need`` on the plan of ``t``, integrated to horizon + slack."""


def plan_valid_until(plan: Plan) -> int | None:
    """Last model second at which the plan from a later ``t`` is still this one (None: always).

    A deterministic plan only moves along as time passes. With patient doses
    the plan assumes the first dose at the first second the rule allows it
    (after the running bolus): up to that second nothing differs.
    """
    if plan.patient is None:
        return None
    start = plan.t if plan.bolus is None else plan.bolus.end_t
    return next_patient_dose_t(plan.patient, plan.grants_t, start)


class ForecastCache:
    """The last answer for each of the pump's forecast queries, with the plan it holds on.

    Derived state, never stored: a pump restored from its image starts with an empty cache.
    """

    def __init__(self, queries: int = 3) -> None:
        self.plan_version = 0
        """Bumped by :meth:`plan_changed`: answers worked out on an older plan are stale."""
        self.anchors: list[_Anchor | None] = [None] * queries

    def plan_changed(self) -> None:
        """What the pump will do from now on changed other than by time running along it."""
        self.plan_version += 1

    def forecast_ts(
        self,
        *,
        t: int,
        horizon_s: int,
        commanded_nl: int,
        needs: Sequence[tuple[int, int, int]],
        plan: Callable[[], Plan],
    ) -> list[int | None]:
        """Model seconds at which each ``(q, p, need)`` is met (``t`` if it already is; None:
        beyond ``horizon_s``); ``plan`` is called only when an answer must be worked out.

        While the pump follows the plan it had at an anchor second ``ta`` (same plan
        version, and with patient doses not past the first dose that plan assumed),
        ``need + q*(t - ta) + p*(volume commanded since ta)`` is what the need was at
        ``ta``. Unchanged, the cached crossing is the answer (an absolute second);
        changed (a refill, a battery drain, a new alarm volume), the crossing's segment
        answers it when it can, else the plan is integrated again from now. Integrating
        to the horizon plus a slack lets a "None" stay valid for the slack.
        """
        version = self.plan_version
        anchors = self.anchors
        last_t = t + horizon_s
        out: list[int | None] = []
        stale: list[int] | None = None
        i = -1
        for q, p, need in needs:
            i += 1
            if need <= 0:
                out.append(t)
                continue
            anchor = anchors[i]
            if (
                anchor is not None
                and anchor.plan_version == version
                and (anchor.valid_until_t is None or t <= anchor.valid_until_t)
            ):
                need_then = need + q * (t - anchor.t) + p * (commanded_nl - anchor.commanded_nl)
                crossing = anchor.crossing
                if crossing is None:
                    if need_then == anchor.need and t - anchor.t <= FORECAST_SLACK_S:
                        out.append(None)  # not reached by anchor.t + horizon + slack
                        continue
                else:
                    if need_then == anchor.need:
                        x: int | None = crossing.x
                    elif crossing.seg_progress < need_then <= crossing.need:
                        # crossing.requery(need_then), written out (one call fewer per poll)
                        x = reach_dt(
                            crossing.q,
                            crossing.p,
                            crossing.a,
                            crossing.b,
                            crossing.c,
                            need_then - crossing.seg_progress,
                            crossing.x - crossing.seg_x,
                        )
                        if x is not None:
                            x += crossing.seg_x
                    else:
                        x = None
                    if x is not None:
                        out.append(x if x <= last_t else None)
                        continue
            out.append(None)
            if stale is None:
                stale = [i]
            else:
                stale.append(i)
        if stale is not None:
            current = plan()
            valid_until = plan_valid_until(current)
            crossings = first_crossings(
                current,
                [Query(q=needs[i][0], p=needs[i][1], need=needs[i][2]) for i in stale],
                horizon_s=horizon_s + FORECAST_SLACK_S,
            )
            for i, crossing in zip(stale, crossings, strict=True):
                self.anchors[i] = _Anchor(
                    plan_version=version,
                    t=t,
                    commanded_nl=commanded_nl,
                    valid_until_t=valid_until,
                    need=needs[i][2],
                    crossing=crossing,
                )
                if crossing is not None and crossing.x <= t + horizon_s:
                    out[i] = crossing.x
        return out
