"""Helpers for the patient-model tests: an independent numerical solution of the model's
equations, and the onset / peak / full-effect times read off simulated curves exactly as
domain.md defines them."""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise

from emulator.patient import (
    FULL_EFFECT_FRACTION,
    ONSET_FRACTION,
    PatientModel,
    PatientParams,
    steady_state_amount_ug,
)

HOUR_S = 3_600
DAY_S = 86_400
RK4_STEP_S = 10
BASAL_UG_PER_DAY = 400


def reference_course(
    params: PatientParams, *, dose_before: float, dose_after: float, hours: int = 40
) -> dict[int, tuple[float, float, float]]:
    """(CSF, transit, effect) amounts every 10 s after switching from the steady state of
    ``dose_before`` to ``dose_after``, by RK4 on dA = R - kA, dT = ktr(A - T), dE = ke0(T - E)
    (shares no code with the model's closed form)."""
    k, ktr, ke0 = params.k_per_s, params.ktr_per_s, params.ke0_per_s
    rate = dose_after / DAY_S
    start = steady_state_amount_ug(dose_before, params.half_life_s)
    state = (start, start, start)

    def slope(x: tuple[float, float, float]) -> tuple[float, float, float]:
        a, t, e = x
        return rate - k * a, ktr * (a - t), ke0 * (t - e)

    def plus(x: tuple[float, ...], d: tuple[float, ...], h: float) -> tuple[float, float, float]:
        return x[0] + h * d[0], x[1] + h * d[1], x[2] + h * d[2]

    out = {0: state}
    h = float(RK4_STEP_S)
    for i in range(1, hours * HOUR_S // RK4_STEP_S + 1):
        k1 = slope(state)
        k2 = slope(plus(state, k1, h / 2))
        k3 = slope(plus(state, k2, h / 2))
        k4 = slope(plus(state, k3, h))
        state = (
            state[0] + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]),
            state[1] + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1]),
            state[2] + h / 6 * (k1[2] + 2 * k2[2] + 2 * k3[2] + k4[2]),
        )
        out[i * RK4_STEP_S] = state
    return out


def crossing_time_s(
    course: dict[int, tuple[float, float, float]], target: float, *, rising: bool
) -> float:
    """When the effect amount of ``course`` first passes ``target`` (linear interpolation)."""
    times = sorted(course)
    for before, after in pairwise(times):
        e0, e1 = course[before][2], course[after][2]
        if (e1 >= target) if rising else (e1 <= target):
            return before + (target - e0) / (e1 - e0) * (after - before)
    raise AssertionError("the course never reaches the target")


def rate_change_times_h(old: float, new: float, *, step_s: int) -> tuple[float, float, float]:
    """Onset and full effect of the response, and the level's own 90 % time, in hours after
    a switch from the steady state of ``old`` to ``new`` mcg/day (first samples at or past
    25 % and 90 % of the final change)."""
    patient = PatientModel(reference_dose_ug_per_day=max(old, 1))
    half_life_s = patient.params.half_life_s
    start_e, start_a = patient.effect_amount_ug, patient.amount_ug
    final = steady_state_amount_ug(new, half_life_s)
    onset = full = level_full = None
    for i in range(1, 72 * HOUR_S // step_s + 1):
        patient.infuse(step_s, Fraction(new) * step_s / DAY_S)
        t_h = i * step_s / HOUR_S
        response = (patient.effect_amount_ug - start_e) / (final - start_e)
        level = (patient.amount_ug - start_a) / (final - start_a)
        if onset is None and response >= ONSET_FRACTION:
            onset = t_h
        if full is None and response >= FULL_EFFECT_FRACTION:
            full = t_h
        if level_full is None and level >= FULL_EFFECT_FRACTION:
            level_full = t_h
    assert onset is not None and full is not None and level_full is not None
    return onset, full, level_full


def bolus_times_h(*, bolus_ug: float, bolus_s: int, step_s: int) -> tuple[float, float, bool]:
    """Onset (25 % of the peak) and peak of the response above baseline, in hours after a
    bolus of ``bolus_ug`` over ``bolus_s`` (0: at once) starts on a 400 mcg/day basal; and
    whether it has faded under 25 % of the peak 24 h later."""
    patient = PatientModel(reference_dose_ug_per_day=BASAL_UG_PER_DAY)
    base = patient.effect_amount_ug
    if bolus_s == 0:
        patient.infuse(0, bolus_ug)
    rises: list[tuple[float, float]] = []
    for i in range(1, 24 * HOUR_S // step_s + 1):
        start = (i - 1) * step_s
        inside = max(0, min(bolus_s, start + step_s) - start) if bolus_s else 0
        extra = Fraction(bolus_ug) * inside / bolus_s if bolus_s else Fraction(0)
        patient.infuse(step_s, Fraction(BASAL_UG_PER_DAY) * step_s / DAY_S + extra)
        rises.append((i * step_s / HOUR_S, patient.effect_amount_ug - base))
    peak_h, peak = max(rises, key=lambda pair: pair[1])
    onset_h = next(t for t, rise in rises if rise >= ONSET_FRACTION * peak)
    return onset_h, peak_h, rises[-1][1] < ONSET_FRACTION * peak
