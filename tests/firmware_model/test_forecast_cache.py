"""The forecast cache and the fast integrator give exactly the answers of a fresh integration.

- A state machine drives random command sequences (patient doses with
  lockouts in and out of phase with the schedule, long advances, refills,
  refills to another drug with and without a bridge, bridge cancels, implant
  records, low battery resets, telemetry drains, faults, clock changes) and
  checks after every step that
  the cached forecasts (``status()`` and the views) equal the pump's forecasts
  integrated afresh from scratch.
- :func:`first_crossings` (one pass for several thresholds, cycle skipping,
  the out-of-phase "drift" skip) equals plain event-by-event integration;
  :meth:`Crossing.requery` and :func:`reach_dt` equal a fresh answer.
- The worst case is bounded: an adversarial lockout costs a bounded amount of
  work, counted deterministically.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from firmware_model.errors import FirmwareError
from firmware_model.forecast import plan_valid_until
from firmware_model.prescription import Bolus, PatientDoseSettings, compile_for, validate
from firmware_model.profile import PROFILES, PumpProfile
from firmware_model.pump import Pump
from protocol.enums import AlarmCode, BolusKind, StopReason
from protocol.forecast import (
    BridgePlan,
    Crossing,
    Plan,
    Query,
    _Cumulative,
    _drift_skip,
    _Walk,
    first_crossings,
    first_reach_t,
    reach_dt,
)
from protocol.messages import FlexStep, PrescriptionSpec
from protocol.schedule import RunningBolus, first_reach, linear_floor_volume
from protocol.timebase import SECONDS_PER_DAY

from . import rx
from .builders import T0_CLOCK_S
from .strategies import STRATEGY_CONC, flexes, prescriptions, profiles

DAY = SECONDS_PER_DAY
HOUR = 3_600


def patient_settings(profile: PumpProfile) -> st.SearchStrategy[PatientDoseSettings]:
    """Enabled settings; lockouts on the 15-min grid or any second (out of phase).

    Doses are drawn as their volume at 1000 mcg/mL (ng == nL there)."""

    @st.composite
    def build(draw: st.DrawFn) -> PatientDoseSettings:
        lockout = draw(
            st.one_of(
                st.integers(1, 96).map(lambda quarters: quarters * 900),
                st.integers(profile.patient_lockout_min_s, profile.patient_lockout_max_s),
            )
        )
        volume = draw(st.integers(profile.min_bolus_volume_nl, 200_000))
        fastest = profile.shortest_bolus_s(volume)
        return PatientDoseSettings(
            enabled=True,
            dose_ng=volume,
            duration_s=draw(st.integers(fastest, max(fastest, min(lockout, 2 * HOUR)))),
            lockout_s=lockout,
            max_per_24h=draw(st.integers(1, profile.patient_max_doses_per_24h)),
        )

    return build()


def log_needs() -> st.SearchStrategy[int]:
    """Needs from tiny to beyond any horizon, spread on a log scale."""
    return st.integers(0, 100).map(lambda e: int(10 ** (e / 10)))


# --------------------------------------------------------------------------- the cache


class CachedForecastMachine(RuleBasedStateMachine):
    """Random sequences; after every step the cache must equal a fresh integration."""

    pump: Pump

    @initialize(
        profile=profiles(),
        data=st.data(),
        battery_permille=st.one_of(st.just(1000), st.integers(0, 1000), st.integers(0, 30)),
        offset=st.integers(-3 * DAY, 3 * DAY),
        doses=st.sampled_from([True, True, False]),
        implanted=st.sampled_from([True, True, False]),
    )
    def start(
        self,
        *,
        profile: PumpProfile,
        data: st.DataObject,
        battery_permille: int,
        offset: int,
        doses: bool,
        implanted: bool,
    ) -> None:
        capacity = profile.capacity_nl
        self.pump = Pump.new(
            profile=profile,
            serial="CACHE-1",
            t=0,
            reservoir_nl=data.draw(st.one_of(st.just(capacity), st.integers(0, capacity))),
            concentration_ug_per_ml=STRATEGY_CONC,
            prescription=data.draw(st.one_of(flexes(profile), prescriptions(profile))),
            battery_permille=battery_permille,
            clock_offset_s=T0_CLOCK_S + offset,
            implant=rx.IMPLANT if implanted else None,
        )
        if doses:
            self.pump.set_patient_settings(0, data.draw(patient_settings(profile)))

    def attempt(self, command: object) -> None:
        """Run a command; a refusal changes nothing, so it is a step like any other."""
        assert callable(command)
        with contextlib.suppress(FirmwareError):
            command()

    # -- time
    @rule(dt=st.one_of(st.integers(1, 60), st.integers(1, 2 * DAY)))
    def advance(self, dt: int) -> None:
        self.pump.advance_to(self.pump.t + dt)

    @rule(days=st.integers(3, 400), extra=st.integers(0, DAY - 1))
    def advance_months(self, days: int, extra: int) -> None:
        self.pump.advance_to(self.pump.t + days * DAY + extra)

    @rule(
        which=st.sampled_from(["low", "empty", "eri", "dose", "bolus", "bridge"]),
        delta=st.integers(-1, 1),
    )
    def advance_to_an_edge(self, which: str, delta: int) -> None:
        """Land on, just before or just after a second where a cached answer may turn."""
        p = self.pump
        if which == "dose":
            target = plan_valid_until(p._plan())
        elif which == "bolus":
            target = None if p.bolus is None else p.bolus.end_t
        elif which == "bridge":
            end = p.bridge_end_at()
            target = None if end is None else end - p.clock(0)
        else:
            clock = {"low": p.low_reservoir_at, "empty": p.empty_at, "eri": p.eri_at}[which]()
            target = None if clock is None else clock - p.clock(0)
        if target is not None and target + delta > p.t:
            p.advance_to(target + delta)

    @rule(seconds=st.integers(0, 30), polls=st.integers(1, 4))
    def poll(self, seconds: int, polls: int) -> None:
        """What the telemetry does: status, then charge the battery for the session."""
        for _ in range(polls):
            self.pump.status()
            self.pump.note_telemetry(self.pump.t, seconds)
            self.pump.advance_to(self.pump.t + 1)

    # -- therapy
    @rule(data=st.data())
    def program(self, data: st.DataObject) -> None:
        profile = self.pump.profile
        drawn = data.draw(st.one_of(flexes(profile), prescriptions(profile)))
        # Drawn at 1000 mcg/mL; the same doses of the drug in the pump.
        prescription = drawn.with_concentration(self.pump.concentration_ug_per_ml)
        self.attempt(lambda: self.pump.program(self.pump.t, prescription))

    @rule(dose=st.integers(1_000, 400_000), slack=st.integers(0, 3 * HOUR))
    def start_bolus(self, dose: int, slack: int) -> None:
        p = self.pump
        built = p.therapeutic_bolus(dose_ng=dose, duration_s=1)  # at the concentration in force
        bolus = replace(built, duration_s=p.profile.shortest_bolus_s(built.volume_nl) + slack)
        self.attempt(lambda: p.start_bolus(p.t, bolus))

    @rule(volume=st.integers(1_000, 400_000))
    def priming_bolus(self, volume: int) -> None:
        p = self.pump
        self.attempt(lambda: p.start_bolus(p.t, Bolus.priming(volume_nl=volume, profile=p.profile)))

    @rule()
    def cancel_bolus(self) -> None:
        self.attempt(lambda: self.pump.cancel_bolus(self.pump.t))

    @rule(resume_after=st.one_of(st.none(), st.integers(1, 2 * DAY)))
    def stop(self, resume_after: int | None) -> None:
        self.attempt(lambda: self.pump.stop(self.pump.t, StopReason.MRI))
        if resume_after is not None:
            self.pump.status()  # anchor the forecasts while stopped
            self.pump.advance_to(self.pump.t + resume_after)
            self.attempt(lambda: self.pump.resume(self.pump.t))

    @rule(
        removed=st.sampled_from(["all", "half", "none"]),
        added_percent=st.integers(0, 100),
        concentration=st.sampled_from([None, None, 500, 1000, 2000]),
        bridge=st.booleans(),
    )
    def refill(
        self, removed: str, added_percent: int, concentration: int | None, bridge: bool
    ) -> None:
        """Same drug, or another one (the same doses of it), with or without a bridge."""
        p = self.pump
        est = p.estimated_reservoir_nl
        removed_nl = {"all": est, "half": est // 2, "none": 0}[removed]
        added = p.profile.capacity_nl * added_percent // 100
        new = p.concentration_ug_per_ml if concentration is None else concentration
        order = rx.refill_order(
            p,
            removed_nl=removed_nl,
            added_nl=added,
            concentration_ug_per_ml=new,
            bridge=bridge and new != p.concentration_ug_per_ml,
        )
        self.attempt(lambda: p.refill(p.t, order))

    @rule()
    def cancel_bridge(self) -> None:
        self.attempt(lambda: self.pump.cancel_bridge(self.pump.t))

    @rule(length_mm=st.integers(10, 3_000), uncertainty_mm=st.integers(0, 9))
    def set_implant(self, length_mm: int, uncertainty_mm: int) -> None:
        implant = replace(
            rx.IMPLANT,
            catheter_length_mm=length_mm,
            catheter_length_uncertainty_mm=uncertainty_mm,
        )
        self.pump.set_implant(self.pump.t, implant)

    @rule()
    def low_battery_reset(self) -> None:
        self.pump.low_battery_reset(self.pump.t)

    @rule(volume=st.integers(1_500_000, 5_000_000))
    def set_alarm_volume(self, volume: int) -> None:
        self.attempt(lambda: self.pump.set_alarm_volume(self.pump.t, volume))

    # -- patient doses
    @rule(data=st.data(), enabled=st.sampled_from([True, True, True, False]))
    def set_patient_settings(self, data: st.DataObject, enabled: bool) -> None:
        settings_ = data.draw(patient_settings(self.pump.profile))
        if not enabled:
            settings_ = PatientDoseSettings.disabled()
        # Refused when the dose's volume at the drug in the pump is out of range.
        self.attempt(lambda: self.pump.set_patient_settings(self.pump.t, settings_))

    @rule(waits=st.lists(st.integers(0, 6 * HOUR), min_size=1, max_size=4))
    def patient_asks(self, waits: list[int]) -> None:
        for wait in waits:
            self.pump.advance_to(self.pump.t + wait)
            self.attempt(lambda: self.pump.request_patient_dose(self.pump.t))

    # -- faults and settings
    @rule(permille=st.one_of(st.integers(0, 1000), st.integers(0, 20)))
    def set_battery(self, permille: int) -> None:
        self.pump.set_battery(self.pump.t, permille)

    @rule(stalled=st.booleans())
    def motor_stall(self, stalled: bool) -> None:
        self.pump.set_motor_stall(self.pump.t, stalled)

    @rule(clear_after=st.one_of(st.none(), st.integers(0, DAY)))
    def critical_memory_error(self, clear_after: int | None) -> None:
        self.pump.inject_memory_error(self.pump.t, critical=True)
        if clear_after is not None:
            self.pump.status()
            self.pump.advance_to(self.pump.t + clear_after)
            self.pump.clear_alarm(self.pump.t, AlarmCode.MEMORY_CRITICAL)

    @rule(delta=st.integers(-2 * DAY, 2 * DAY))
    def set_clock(self, delta: int) -> None:
        self.attempt(lambda: self.pump.set_clock(self.pump.t, self.pump.clock(self.pump.t) + delta))

    # -- after every step
    @invariant()
    def cached_forecasts_equal_fresh_ones(self) -> None:
        p = self.pump
        fresh = p._forecasts_uncached()
        status = p.status()
        assert [status.low_reservoir_at_clock_s, status.empty_at_clock_s] == fresh[:2]
        assert status.eri_at_clock_s == fresh[2]
        # And again straight from the cache, through the views.
        assert [p.low_reservoir_at(), p.empty_at(), p.eri_at()] == fresh
        assert p.status() == status
        if p.bridge is None:
            assert status.bridge_end_clock_s is None
            assert p.schedule == p.steady_schedule


CachedForecastMachine.TestCase.settings = settings(
    max_examples=120, stateful_step_count=30, deadline=None, derandomize=True
)
test_cached_forecasts_equal_fresh_ones = pytest.mark.slow(CachedForecastMachine.TestCase)


def test_polling_reuses_the_answers_and_rarely_integrates() -> None:
    """A pump polled like the telemetry does: the answers come from the cache.

    Low reservoir and empty keep their first anchors; ERI moves earlier with
    every telemetry drain and is answered within its cached segment, until
    the drain has moved it past a flex step (then it is integrated again).
    """
    pump = Pump.new(
        profile=PROFILES[40],
        serial="POLL-1",
        t=0,
        reservoir_nl=30_000_000,
        concentration_ug_per_ml=2000,
        prescription=rx.flex([(0, 175_000), (420, 212_500), (1320, 175_000)], 2000),
        battery_permille=700,
        clock_offset_s=T0_CLOCK_S,
    )
    first = pump.status()
    anchors = list(pump._forecasts.anchors)
    eri_anchors = {id(anchors[2])}
    polls = 0
    for second in range(1, 3 * HOUR, 7):
        pump.advance_to(second)
        pump.note_telemetry(second, 1)
        status = pump.status()
        polls += 1
        assert pump._forecasts.anchors[0] is anchors[0]
        assert pump._forecasts.anchors[1] is anchors[1]
        eri_anchors.add(id(pump._forecasts.anchors[2]))
        assert status.low_reservoir_at_clock_s == first.low_reservoir_at_clock_s
        assert [
            status.low_reservoir_at_clock_s,
            status.empty_at_clock_s,
            status.eri_at_clock_s,
        ] == pump._forecasts_uncached()
    assert status.eri_at_clock_s is not None and first.eri_at_clock_s is not None
    assert status.eri_at_clock_s < first.eri_at_clock_s
    assert polls > 1_500
    assert len(eri_anchors) <= 3


# --------------------------------------------------------------------------- the integrator


def brute_reach(*, q: int, p: int, a: int, b: int, c: int, need: int, max_dt: int) -> int | None:
    for dt in range(max_dt + 1):
        if q * dt + p * linear_floor_volume(a, b, c, dt) >= need:
            return dt
    return None


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    q=st.integers(0, 80),
    p=st.integers(0, 1_000),
    a=st.integers(0, 5_000),
    b=st.integers(0, 4_000),
    c=st.integers(1, 3_000),
    need=st.integers(-5, 30_000),
    max_dt=st.integers(0, 400),
)
def test_reach_dt_is_the_first_second_by_brute_force(
    *, q: int, p: int, a: int, b: int, c: int, need: int, max_dt: int
) -> None:
    got = reach_dt(q=q, p=p, a=a, b=b, c=c, need=need, max_dt=max_dt)
    assert got == brute_reach(q=q, p=p, a=a, b=b, c=c, need=need, max_dt=max_dt)
    assert got == first_reach(q=q, p=p, a=a, b=b, c=c, need=need, max_dt=max_dt)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    profile=profiles(),
    data=st.data(),
    day=st.integers(-14, 50_000),
    second=st.integers(0, DAY - 1),
    length=st.one_of(st.integers(0, 2 * HOUR), st.integers(0, 3 * DAY)),
)
def test_cumulative_integral_matches_walking_the_schedule(
    *,
    profile: PumpProfile,
    data: st.DataObject,
    day: int,
    second: int,
    length: int,
) -> None:
    a = day * DAY + second
    spec = data.draw(st.one_of(flexes(profile), prescriptions(profile)))
    sched = validate(spec, profile, STRATEGY_CONC)
    cum = _Cumulative(sched)
    assert cum.period_integral == sched.period_integral
    walked, x = 0, a
    while x < a + length:
        rate, until = sched.segment_at(x)
        end = a + length if until is None else min(a + length, x + until)
        walked += rate * (end - x)
        x = end
    assert cum.at(a + length) - cum.at(a) == walked
    assert cum.window(a, length, True)[0] == cum.window(a, length, False)[0] == walked
    # A window moved within its room changes linearly: from the drawn start, and
    # from starts just around every rate change (where a room off by one shows).
    period_start = a - a % cum.period_s
    starts = [a] + [
        period_start + change + shift for change in cum.starts for shift in (-length - 1, -1, 0, 1)
    ]
    for start in starts:
        for forward, sign in ((True, 1), (False, -1)):
            integral, slope, room = cum.window(start, length, forward)
            assert room >= 1
            for d in {1, room, data.draw(st.integers(0, room))}:
                z = start + sign * d
                assert cum.at(z + length) - cum.at(z) == integral + sign * d * slope


@st.composite
def rich_flexes(draw: st.DrawFn, profile: PumpProfile) -> PrescriptionSpec:
    """Flex days or weeks with many steps of distinct rates: many breakpoints (at 1000
    mcg/mL, so each dose in ng/day is its rate in nL/day)."""
    quarters = (24 * 60) // profile.flex_step_granularity_min

    def day() -> tuple[FlexStep, ...]:
        n = draw(st.integers(4, profile.max_flex_steps))
        starts = sorted(draw(st.sets(st.integers(1, quarters - 1), min_size=n - 1, max_size=n - 1)))
        rates = draw(
            st.lists(
                st.integers(profile.min_rate_nl_per_day, 3_000_000),
                min_size=n,
                max_size=n,
                unique=True,
            )
        )
        minutes = [0, *(q * profile.flex_step_granularity_min for q in starts)]
        return tuple(
            FlexStep(start_min=m, dose_ng_per_day=r) for m, r in zip(minutes, rates, strict=True)
        )

    days = [day() for _ in range(draw(st.sampled_from([1, 7])))]
    if len(days) == 1:
        return PrescriptionSpec.flex(days[0], concentration_ug_per_ml=STRATEGY_CONC)
    return PrescriptionSpec.flex_weekly(days, concentration_ug_per_ml=STRATEGY_CONC)


@st.composite
def plans(draw: st.DrawFn, *, doses: bool | None = None) -> tuple[Plan, PumpProfile]:
    """Plans with flex weeks and days, running boluses, recent grants, odd lockouts, and
    bridges (from 1000 mcg/mL to another drug) ending within hours to months."""
    profile = draw(profiles())
    prescription: PrescriptionSpec = draw(
        st.one_of(rich_flexes(profile), flexes(profile), prescriptions(profile, stopped=False))
    )
    with_doses = draw(st.booleans()) if doses is None else doses
    settings_ = draw(patient_settings(profile)) if with_doses else None
    bolus = None
    if draw(st.booleans()):
        duration = draw(st.integers(60, 6 * HOUR))
        volume = draw(st.integers(1_000, 300_000))
        bolus = RunningBolus(
            kind=BolusKind.THERAPEUTIC,
            volume_nl=volume,
            duration_s=duration,
            start_t=-draw(st.integers(0, duration - 1)),
            dose_ng=volume,  # at 1000 mcg/mL
        )
    bridge = None
    if draw(st.booleans()):
        new = draw(st.sampled_from([500, 2000]))
        bridge = BridgePlan(
            remaining_nl=draw(st.one_of(st.integers(1, 50_000), st.integers(1, 3_000_000))),
            schedule_after=compile_for(prescription.with_concentration(new), profile, new),
            patient_after=None if settings_ is None else settings_.rule(new),
            old_concentration_ug_per_ml=STRATEGY_CONC,
            new_concentration_ug_per_ml=new,
        )
    plan = Plan(
        t=0,
        clock_offset_s=draw(st.integers(0, 2**32 - 1)),
        schedule=validate(prescription, profile, STRATEGY_CONC),
        basal_remainder=draw(st.integers(0, DAY - 1)),
        bolus=bolus,
        patient=None if settings_ is None else settings_.rule(STRATEGY_CONC),
        grants_t=tuple(draw(st.lists(st.integers(-DAY, 0), max_size=4, unique=True).map(sorted))),
        delivering=True,
        bridge=bridge,
    )
    return plan, profile


@settings(max_examples=120, deadline=None, derandomize=True)
@given(planned=plans(doses=True), data=st.data(), horizon_days=st.integers(1, 150))
def test_one_pass_with_skips_equals_plain_integration(
    planned: tuple[Plan, PumpProfile], data: st.DataObject, horizon_days: int
) -> None:
    plan, profile = planned
    bat = profile.battery()
    queries = [
        Query(q=0, p=1, need=data.draw(log_needs())),
        Query(q=0, p=1, need=data.draw(log_needs())),
        Query(q=bat.quiescent_drain_uc_per_s, p=bat.drain_uc_per_nl, need=data.draw(log_needs())),
    ]
    horizon = horizon_days * DAY
    together = [c and c.x for c in first_crossings(plan, queries, horizon_s=horizon)]
    for query, x in zip(queries, together, strict=True):
        q, p, need = query.q, query.p, query.need
        assert x == first_reach_t(plan, q=q, p=p, need=need, horizon_s=horizon)
        assert x == first_reach_t(plan, q=q, p=p, need=need, horizon_s=horizon, skip_cycles=False)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(planned=plans(doses=False), data=st.data(), horizon_days=st.integers(1, 3 * 365))
def test_basal_plans_with_skips_equal_plain_integration(
    planned: tuple[Plan, PumpProfile], data: st.DataObject, horizon_days: int
) -> None:
    """Without patient doses the last cycle is bisected (``_Walk._basal_crossing``), not
    walked: the same answers as plain integration."""
    plan, profile = planned
    bat = profile.battery()
    queries = [
        Query(q=0, p=1, need=data.draw(log_needs())),
        Query(q=0, p=1, need=data.draw(log_needs())),
        Query(q=bat.quiescent_drain_uc_per_s, p=bat.drain_uc_per_nl, need=data.draw(log_needs())),
    ]
    horizon = horizon_days * DAY
    together = [c and c.x for c in first_crossings(plan, queries, horizon_s=horizon)]
    plain = [
        c and c.x for c in first_crossings(plan, queries, horizon_s=horizon, skip_cycles=False)
    ]
    assert together == plain


@settings(max_examples=300, deadline=None, derandomize=True)
@given(planned=plans(doses=False), data=st.data())
def test_bisecting_a_basal_cycle_gives_the_walks_crossing(
    planned: tuple[Plan, PumpProfile], data: st.DataObject
) -> None:
    """``_Walk._basal_crossing`` returns the very :class:`Crossing` (second, segment, its
    progress and linear form) that walking the same stretch segment by segment gives, from
    any state (no bolus running, no patient doses) to any limit."""
    plan, profile = planned
    plan = replace(plan, bolus=None, bridge=None)
    bat = profile.battery()
    q, p = data.draw(st.sampled_from([(0, 1), (bat.quiescent_drain_uc_per_s, bat.drain_uc_per_nl)]))
    sched = plan.schedule
    x = plan.t + data.draw(st.one_of(st.integers(0, 2 * DAY), st.integers(0, 10**8)))
    integ = data.draw(st.integers(0, 10**13))
    bvol = data.draw(st.integers(0, 10**6))
    length = data.draw(
        st.one_of(
            st.integers(0, sched.period_s),
            st.just(sched.period_s),
            st.integers(0, 3 * sched.period_s),
        )
    )
    limit = x + length
    cum = _Cumulative(sched)
    off = plan.clock_offset_s
    probe = _Walk(plan, [Query(q=q, p=p, need=1)], [None])

    def progress(z: int) -> int:
        return probe._progress(probe.queries[0], z, integ + cum.at(z + off) - cum.at(x + off), bvol)

    # The rate changes in (x, limit], as the walk meets them: a need met exactly at one.
    changes = []
    z = x
    while True:
        until = sched.segment_at(z + off)[1]
        if until is None or z + until > limit:
            break
        z += until
        changes.append(z)
    at_x = progress(x)
    need = data.draw(
        st.one_of(
            st.integers(at_x + 1, max(at_x + 1, progress(limit) + 2)),
            st.integers(x, limit).map(lambda z: max(at_x + 1, progress(z))),
            st.sampled_from(changes or [limit]).map(lambda z: max(at_x + 1, progress(z))),
            st.integers(at_x + 1, at_x + 10**10),
        )
    )
    query = Query(q=q, p=p, need=need)
    walked: list[Crossing | None] = [None]
    _Walk(plan, [query], walked).run(
        [0], x=x, integ=integ, bvol=bvol, bolus=None, grants=[], limit=limit, skip=False
    )
    bisected = _Walk(plan, [query], [None])._basal_crossing(
        query, cum, x=x, integ=integ, bvol=bvol, limit=limit
    )
    event("reached" if walked[0] is not None else "not reached by the limit")
    assert bisected == walked[0]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(planned=plans(), data=st.data())
def test_a_crossing_answers_smaller_needs_in_its_segment_exactly(
    planned: tuple[Plan, PumpProfile], data: st.DataObject
) -> None:
    plan, profile = planned
    bat = profile.battery()
    q, p = data.draw(st.sampled_from([(0, 1), (bat.quiescent_drain_uc_per_s, bat.drain_uc_per_nl)]))
    need = data.draw(st.integers(1, 10**9))
    (crossing,) = first_crossings(plan, [Query(q=q, p=p, need=need)], horizon_s=400 * DAY)
    if crossing is None:
        return
    for smaller in {need, crossing.seg_progress + 1, data.draw(st.integers(1, need))}:
        x = crossing.requery(smaller)
        if x is None:
            assert not crossing.seg_progress < smaller <= need
        else:
            assert x == first_reach_t(plan, q=q, p=p, need=smaller, horizon_s=400 * DAY)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    profile=profiles(),
    data=st.data(),
    # Spread over the range (hypothesis favours the ends, where phases line up).
    # and cycles just off a divisor of the day, whose phase drifts slowly (long runs).
    cycle_s=st.one_of(
        st.integers(0, 10**6).map(lambda v: 900 + v * 7_919 % (DAY - 899)),
        st.builds(lambda k, e: min(DAY, DAY // k + e), st.integers(1, 6), st.integers(-4, 4)),
    ),
    k_max=st.one_of(st.integers(0, 50), st.integers(0, 10**6).map(lambda v: v * 7_919 % 6_001)),
    clock_s=st.integers(0, 10**6).map(lambda v: v * 104_729 % 2**32),
)
def test_drift_skip_equals_summing_cycle_by_cycle(
    *,
    profile: PumpProfile,
    data: st.DataObject,
    cycle_s: int,
    k_max: int,
    clock_s: int,
) -> None:
    # Long doses straddle rate changes: the terms' slopes are rarely zero then.
    dose_s = data.draw(st.one_of(st.integers(1, 900), st.integers(1, cycle_s // 2)))
    spec = data.draw(st.one_of(rich_flexes(profile), prescriptions(profile)))
    sched = validate(spec, profile, STRATEGY_CONC)
    cum = _Cumulative(sched)
    offsets = [0]
    while offsets[-1] + 2 * dose_s < cycle_s and data.draw(st.booleans()):
        offsets.append(data.draw(st.integers(offsets[-1] + dose_s, cycle_s - dose_s)))
    dose_nl = len(offsets) * data.draw(st.integers(0, 50_000))
    rem = data.draw(st.integers(0, DAY - 1))

    def below_for(q: int, p: int, need: int) -> Callable[[int, int], bool]:
        def below(k: int, basal: int) -> bool:
            return q * k * cycle_s + p * ((rem + basal) // DAY + k * dose_nl) < need

        return below

    below = [
        below_for(0, 1, data.draw(log_needs()) + 1),
        below_for(56, 1, data.draw(log_needs()) + 1),
        below_for(0, 1, data.draw(log_needs()) + 1),
    ]
    expected = []
    for below_n in below:
        k = g_sum = 0
        basal = 0
        while k < k_max:
            c = clock_s + k * cycle_s
            g_next = g_sum + sum(cum.at(c + o + dose_s) - cum.at(c + o) for o in offsets)
            basal_next = cum.at(c + cycle_s) - cum.at(clock_s) - g_next
            if not below_n(k + 1, basal_next):
                break
            k, g_sum, basal = k + 1, g_next, basal_next
        expected.append((k, basal))
    got = _drift_skip(
        cum,
        clock_s=clock_s,
        cycle_s=cycle_s,
        offsets=offsets,
        dose_s=dose_s,
        k_max=k_max,
        below=below,
    )
    assert got == expected


def test_out_of_phase_lockouts_cost_bounded_work() -> None:
    """The costliest lockout against this week (7266 s, by the block-size cost model).

    Twelve doses a day against a 91-step week never come back in phase within
    ten years: plain integration walks tens of thousands of segments for the
    ERI forecast. The drift skip evaluates the schedule's integral about
    2*sqrt(cycles * breakpoints) times (3,614 here) and gives the same answer.
    """
    profile = PROFILES[40]
    week = rx.flex_weekly(
        [
            [
                (i * 105 + (15 if d % 2 and i else 0), 48_000 + 7_000 * i + 3_000 * d)
                for i in range(13)
            ]
            for d in range(7)
        ]
    )
    pump = Pump.new(
        profile=profile,
        serial="WORST-1",
        t=0,
        reservoir_nl=profile.capacity_nl,
        concentration_ug_per_ml=500,
        prescription=week,
        clock_offset_s=T0_CLOCK_S,
    )
    pump.set_patient_settings(
        0,
        PatientDoseSettings(
            enabled=True, dose_ng=500, duration_s=60, lockout_s=7_266, max_per_24h=12
        ),
    )
    assert pump.patient_settings.rule(500).volume_nl == 1_000
    calls = 0
    at, window = _Cumulative.at, _Cumulative.window

    def counted_at(self: _Cumulative, z: int) -> int:
        nonlocal calls
        calls += 1
        return at(self, z)

    def counted_window(
        self: _Cumulative, z: int, length: int, forward: bool
    ) -> tuple[int, int, int]:
        nonlocal calls
        calls += 1
        return window(self, z, length, forward)

    _Cumulative.at = counted_at  # type: ignore[method-assign]
    _Cumulative.window = counted_window  # type: ignore[method-assign]
    try:
        forecasts = pump._forecast_ts()
    finally:
        _Cumulative.at = at  # type: ignore[method-assign]
        _Cumulative.window = window  # type: ignore[method-assign]
    # Plain integration walks tens of thousands of segments for the ERI forecast alone.
    assert calls < 6_000
    eri = forecasts[2]
    assert eri is not None and eri > 4 * 365 * DAY
    plan = pump._plan()
    bat = profile.battery()
    need = pump.battery_uc - bat.eri_threshold_uc(pump.schedule.weekly_integral) + 1
    slow = first_reach_t(
        plan,
        q=bat.quiescent_drain_uc_per_s,
        p=bat.drain_uc_per_nl,
        need=need,
        horizon_s=profile.forecast_horizon_s,
        skip_cycles=False,
    )
    assert eri == slow


def test_a_cached_none_expires_when_the_horizon_could_reach_the_crossing() -> None:
    """None is cached for the slack only: the horizon moves with time, the crossing does not."""
    profile = replace(PROFILES[20], forecast_horizon_s=30 * DAY)
    pump = Pump.new(
        profile=profile,
        serial="HORIZON-1",
        t=0,
        reservoir_nl=20_000_000,
        concentration_ug_per_ml=500,
        prescription=rx.simple(200_000),
        clock_offset_s=T0_CLOCK_S,
    )
    assert pump.low_reservoir_at() is None  # day 90, beyond 30 days
    pump.advance_to(59 * DAY)
    assert pump.low_reservoir_at() is None
    pump.advance_to(61 * DAY)
    assert pump.low_reservoir_at() == T0_CLOCK_S + 90 * DAY == pump._forecasts_uncached()[0]


def test_setting_the_clock_moves_a_flex_forecast() -> None:
    """Same plan in model time only if the schedule is constant: the clock is in the plan."""
    day = rx.flex([(0, 100_000), (720, 2_000_000)])
    pump = Pump.new(
        profile=PROFILES[20],
        serial="CLOCK-1",
        t=0,
        reservoir_nl=20_000_000,
        concentration_ug_per_ml=500,
        prescription=day,
        clock_offset_s=T0_CLOCK_S,
    )
    before = pump.status()
    pump.set_clock(100, pump.clock(100) + 6 * HOUR)
    after = pump.status()
    assert after.low_reservoir_at_clock_s != before.low_reservoir_at_clock_s
    assert [
        after.low_reservoir_at_clock_s,
        after.empty_at_clock_s,
        after.eri_at_clock_s,
    ] == pump._forecasts_uncached()


def test_stopping_and_resuming_moves_the_forecast() -> None:
    """The plan version catches what no invariant can: time spent off the plan."""
    pump = Pump.new(
        profile=PROFILES[20],
        serial="STOP-1",
        t=0,
        reservoir_nl=20_000_000,
        concentration_ug_per_ml=500,
        prescription=rx.simple(200_000),
        clock_offset_s=T0_CLOCK_S,
    )
    before = pump.low_reservoir_at()
    assert before == T0_CLOCK_S + 90 * DAY
    pump.stop(DAY, StopReason.MRI)
    assert pump.low_reservoir_at() is None
    pump.resume(3 * DAY)
    assert pump.low_reservoir_at() == before + 2 * DAY == pump._forecasts_uncached()[0]
