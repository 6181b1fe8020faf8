"""The one-compartment CSF model: closed forms, indicators and its teaching time course."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from emulator.fluid_path import FluidPath, FluidPathValueError
from emulator.patient import (
    DEFAULT_HALF_LIFE_S,
    Assessment,
    PatientModel,
    PatientParams,
    RiskState,
    steady_state_amount_ug,
)

HOUR_S = 3_600
DAY_S = 86_400
HALF_LIVES_S = [1 * HOUR_S, 2 * HOUR_S, 3 * HOUR_S, 4 * HOUR_S, 5 * HOUR_S]
DOSE_UG_PER_DAY = 400


def _k(half_life_s: int) -> float:
    return math.log(2) / half_life_s


def _run(patient: PatientModel, *, dose_ug_per_day: float, hours: float, step_s: int) -> None:
    """Deliver a constant dose for ``hours`` in steps of ``step_s``."""
    steps = round(hours * HOUR_S / step_s)
    for _ in range(steps):
        patient.infuse(step_s, Fraction(dose_ug_per_day) * step_s / DAY_S)


def test_defaults_and_reference() -> None:
    patient = PatientModel(reference_dose_ug_per_day=DOSE_UG_PER_DAY)
    assert patient.params.half_life_s == DEFAULT_HALF_LIFE_S == 4 * HOUR_S
    r_ug_per_s = DOSE_UG_PER_DAY / DAY_S
    expected_ug = r_ug_per_s / _k(DEFAULT_HALF_LIFE_S)
    assert patient.reference_amount_ug == pytest.approx(expected_ug, rel=1e-12)
    assert steady_state_amount_ug(DOSE_UG_PER_DAY, DEFAULT_HALF_LIFE_S) == pytest.approx(
        expected_ug, rel=1e-12
    )
    # An established patient starts at the steady state: level == reference.
    assert patient.amount_ug == patient.reference_amount_ug
    assert patient.level_ng_per_ml == pytest.approx(expected_ug * 1_000 / 150, rel=1e-12)
    assert patient.assess() == Assessment(
        at_s=Fraction(0),
        level_ng_per_ml=patient.level_ng_per_ml,
        reference_ng_per_ml=patient.reference_level_ng_per_ml,
        state=RiskState.NORMAL,
        since_s=0.0,
    )


@pytest.mark.parametrize("half_life_s", HALF_LIVES_S)
def test_constant_input_converges_to_r_over_k(half_life_s: int) -> None:
    patient = PatientModel(
        reference_dose_ug_per_day=DOSE_UG_PER_DAY,
        params=PatientParams(half_life_s=half_life_s),
        initial_amount_ug=0,
    )
    r_ug_per_s = DOSE_UG_PER_DAY / DAY_S
    patient.infuse(40 * half_life_s, Fraction(DOSE_UG_PER_DAY) * 40 * half_life_s / DAY_S)
    assert patient.amount_ug == pytest.approx(r_ug_per_s / _k(half_life_s), rel=1e-9)
    # And at steady state it stays put.
    patient.infuse(7 * HOUR_S, Fraction(DOSE_UG_PER_DAY) * 7 * HOUR_S / DAY_S)
    assert patient.amount_ug == pytest.approx(r_ug_per_s / _k(half_life_s), rel=1e-9)


@pytest.mark.parametrize("dt_s", [1, 600, 5_000, 30_000])
def test_one_piece_matches_the_closed_form(dt_s: int) -> None:
    k = _k(DEFAULT_HALF_LIFE_S)
    patient = PatientModel(reference_dose_ug_per_day=DOSE_UG_PER_DAY, initial_amount_ug=250.0)
    drug_ug = 80.0
    r_ug_per_s = drug_ug / dt_s
    patient.infuse(dt_s, drug_ug)
    expected = 250.0 * math.exp(-k * dt_s) + r_ug_per_s / k * (1 - math.exp(-k * dt_s))
    assert patient.amount_ug == pytest.approx(expected, rel=1e-12)
    assert patient.t_s == dt_s


@pytest.mark.parametrize("half_life_s", HALF_LIVES_S)
def test_decay_after_stop_halves_in_one_half_life(half_life_s: int) -> None:
    patient = PatientModel(
        reference_dose_ug_per_day=DOSE_UG_PER_DAY, params=PatientParams(half_life_s=half_life_s)
    )
    start_ug = patient.amount_ug
    patient.infuse(half_life_s, 0)
    assert abs(patient.amount_ug / start_ug - 0.5) <= 1e-9 * 0.5
    patient.infuse(half_life_s, 0)
    assert abs(patient.amount_ug / start_ug - 0.25) <= 1e-9 * 0.25


def test_slicing_time_does_not_change_the_result() -> None:
    whole = PatientModel(reference_dose_ug_per_day=DOSE_UG_PER_DAY, initial_amount_ug=10)
    sliced = PatientModel(reference_dose_ug_per_day=DOSE_UG_PER_DAY, initial_amount_ug=10)
    whole.infuse(12 * HOUR_S, 300)
    for _ in range(12 * 60):
        sliced.infuse(60, Fraction(300, 12 * 60))
    assert sliced.amount_ug == pytest.approx(whole.amount_ug, rel=1e-9)
    assert sliced.t_s == whole.t_s == 12 * HOUR_S


def test_instantaneous_dose_adds_to_the_amount() -> None:
    patient = PatientModel(reference_dose_ug_per_day=DOSE_UG_PER_DAY, initial_amount_ug=5)
    patient.infuse(0, 50)
    assert patient.amount_ug == 55
    assert patient.t_s == 0


def test_stopping_delivery_leads_to_withdrawal_risk_after_the_delay() -> None:
    patient = PatientModel(reference_dose_ug_per_day=DOSE_UG_PER_DAY, start_s=1_000)
    half_life_s = patient.params.half_life_s
    # The level falls below 40 % of the reference after log2(1 / 0.4) half-lives...
    below_s = 1_000 + half_life_s * math.log2(1 / 0.4)
    # ...and withdrawal is flagged 6 h later.
    flagged_s = below_s + 6 * HOUR_S
    step_s = 600
    seen: list[tuple[float, RiskState, float]] = []
    for _ in range(24 * HOUR_S // step_s):
        patient.infuse(step_s, 0)
        a = patient.assess()
        seen.append((float(a.at_s), a.state, a.since_s))
    before = [s for t, s, _ in seen if t <= flagged_s]
    after = [(s, since) for t, s, since in seen if t > flagged_s]
    assert set(before) == {RiskState.NORMAL}
    assert {s for s, _ in after} == {RiskState.WITHDRAWAL_RISK}
    # since_s is the analytic crossing plus the delay, whatever the step size.
    for _, since in after:
        assert since == pytest.approx(flagged_s, abs=1e-6)
    assessment = patient.assess()
    assert assessment.level_ng_per_ml < 0.4 * assessment.reference_ng_per_ml


def test_withdrawal_flag_does_not_depend_on_step_size() -> None:
    coarse = PatientModel(reference_dose_ug_per_day=DOSE_UG_PER_DAY)
    coarse.infuse(DAY_S, 0)
    fine = PatientModel(reference_dose_ug_per_day=DOSE_UG_PER_DAY)
    for _ in range(DAY_S // 60):
        fine.infuse(60, 0)
    assert coarse.assess().state is fine.assess().state is RiskState.WITHDRAWAL_RISK
    assert coarse.assess().since_s == pytest.approx(fine.assess().since_s, abs=1e-6)


def test_resuming_delivery_ends_withdrawal_risk_when_the_level_recovers() -> None:
    patient = PatientModel(reference_dose_ug_per_day=DOSE_UG_PER_DAY)
    patient.infuse(DAY_S, 0)
    assert patient.assess().state is RiskState.WITHDRAWAL_RISK
    low_ug = 0.4 * patient.reference_amount_ug
    start_s = float(patient.t_s)
    asymptote_ug = patient.reference_amount_ug
    k = _k(patient.params.half_life_s)
    recover_s = math.log((patient.amount_ug - asymptote_ug) / (low_ug - asymptote_ug)) / k
    patient.infuse(DAY_S, DOSE_UG_PER_DAY)
    assessment = patient.assess()
    assert assessment.state is RiskState.NORMAL
    assert assessment.since_s == pytest.approx(start_s + recover_s, abs=1e-6)


def test_short_dip_below_the_threshold_is_not_withdrawal() -> None:
    patient = PatientModel(reference_dose_ug_per_day=DOSE_UG_PER_DAY)
    patient.infuse(8 * HOUR_S, 0)  # below 40 % after about 5.3 h
    patient.infuse(2 * HOUR_S, 0)  # still under the 6 h delay
    assert patient.assess().state is RiskState.NORMAL
    patient.infuse(HOUR_S, 0.2 * DOSE_UG_PER_DAY)  # a big catch-up pushes it back above
    patient.infuse(10 * HOUR_S, DOSE_UG_PER_DAY * 10 / 24)
    assessment = patient.assess()
    assert assessment.state is RiskState.NORMAL
    assert assessment.since_s == 0.0  # never left NORMAL


def _bolus_on_basal(volume_nl: int) -> PatientModel:
    """A patient on 400 mcg/day at 2,000 mcg/mL given a one-hour bolus of ``volume_nl``."""
    conc = 2_000
    basal_nl_per_h = DOSE_UG_PER_DAY * 1_000_000 // conc // 24  # 0.2 mL/day: 8,333 nL/h
    path = FluidPath(486_000, conc)
    patient = PatientModel(reference_dose_ug_per_day=DOSE_UG_PER_DAY)
    patient.feed(path.push_over(basal_nl_per_h, conc, HOUR_S))
    patient.feed(path.push_over(volume_nl, conc, HOUR_S))
    return patient


def test_ten_times_bolus_mistake_is_an_overdose_risk() -> None:
    intended = _bolus_on_basal(25_000)  # 50 mcg
    assert intended.assess().state is RiskState.NORMAL
    mistake = _bolus_on_basal(250_000)  # 500 mcg: a misplaced decimal
    assessment = mistake.assess()
    assert assessment.state is RiskState.OVERDOSE_RISK
    assert assessment.level_ng_per_ml > 2 * assessment.reference_ng_per_ml
    assert HOUR_S < assessment.since_s < 2 * HOUR_S
    # It fades back to NORMAL once the bolus is eliminated.
    mistake.infuse(DAY_S, DOSE_UG_PER_DAY)
    assert mistake.assess().state is RiskState.NORMAL


def test_lowering_the_reference_below_the_level_is_an_overdose_risk() -> None:
    patient = PatientModel(reference_dose_ug_per_day=DOSE_UG_PER_DAY, start_s=50)
    patient.infuse(100, Fraction(DOSE_UG_PER_DAY * 100, DAY_S))
    patient.set_reference_dose(DOSE_UG_PER_DAY / 4)
    assessment = patient.assess()
    assert assessment.state is RiskState.OVERDOSE_RISK
    assert assessment.since_s == 150.0
    assert patient.reference_dose_ug_per_day == DOSE_UG_PER_DAY / 4


@pytest.mark.parametrize("half_life_s", HALF_LIVES_S)
def test_rate_change_settles_within_a_day_or_two(half_life_s: int) -> None:
    # Teaching behaviour (domain notes: onset 6-8 h, full effect 24-48 h).
    new_dose = 600
    patient = PatientModel(
        reference_dose_ug_per_day=DOSE_UG_PER_DAY, params=PatientParams(half_life_s=half_life_s)
    )
    old_ug = patient.amount_ug
    new_ug = steady_state_amount_ug(new_dose, half_life_s)
    progress: dict[int, float] = {}
    for hour in range(1, 49):
        _run(patient, dose_ug_per_day=new_dose, hours=1, step_s=900)
        progress[hour] = (patient.amount_ug - old_ug) / (new_ug - old_ug)
    assert progress[1] < 0.6  # not instantaneous
    assert progress[8] >= 0.5  # under way by 6-8 h
    assert progress[24] >= 0.9  # >= 90 % of the new steady state within 24-48 h
    assert progress[48] >= 0.99


@pytest.mark.parametrize("half_life_s", HALF_LIVES_S)
def test_bolus_acts_within_the_hour_and_peaks_within_a_few_hours(half_life_s: int) -> None:
    # Teaching behaviour (domain notes: onset 30-60 min, peak about 4 h).
    patient = PatientModel(
        reference_dose_ug_per_day=DOSE_UG_PER_DAY, params=PatientParams(half_life_s=half_life_s)
    )
    base_ug = patient.amount_ug
    bolus_ug, bolus_s, step_s = 50, HOUR_S, 300
    rises: list[float] = []
    for i in range(12 * HOUR_S // step_s):
        basal = Fraction(DOSE_UG_PER_DAY * step_s, DAY_S)
        extra = Fraction(bolus_ug * step_s, bolus_s) if i * step_s < bolus_s else 0
        patient.infuse(step_s, basal + extra)
        rises.append(patient.amount_ug - base_ug)
    peak = max(rises)
    peak_h = (rises.index(peak) + 1) * step_s / HOUR_S
    assert 0.5 <= peak_h <= 4
    assert rises[30 * 60 // step_s - 1] >= 0.25 * peak  # noticeable by 30 min
    assert rises[-1] < 0.25 * peak  # and mostly gone half a day later


def _refill_without_and_with_bridge(bridge: bool) -> tuple[float, float, PatientModel]:
    """Refill 500 -> 2,000 mcg/mL, rate cut 4x to keep 400 mcg/day; min and max level / ref."""
    dead_nl = 486_000
    path = FluidPath(dead_nl, 500)
    patient = PatientModel(reference_dose_ug_per_day=DOSE_UG_PER_DAY)
    if bridge:
        patient.feed(path.push_over(dead_nl, 2_000, 1_750))  # at 24 mL/day
    hourly_nl = 200_000 // 24  # 0.2 mL/day of 2,000 mcg/mL = 400 mcg/day
    ratios: list[float] = []
    for _ in range(4 * 24):
        patient.feed(path.push_over(hourly_nl, 2_000, HOUR_S))
        a = patient.assess()
        ratios.append(a.level_ng_per_ml / a.reference_ng_per_ml)
    return min(ratios), max(ratios), patient


def test_concentration_change_without_bridge_underdoses_for_days() -> None:
    # The old, weaker drug keeps coming at the new low rate until the dead volume has moved.
    low, _, patient = _refill_without_and_with_bridge(bridge=False)
    assert low < 0.4
    assert patient.assess().state is RiskState.NORMAL  # recovered once the new drug arrived
    bridged_low, _, _ = _refill_without_and_with_bridge(bridge=True)
    assert bridged_low > 0.95


def test_feed_delivers_exactly_what_left_the_tip() -> None:
    path = FluidPath(1_000, 500)
    patient = PatientModel(reference_dose_ug_per_day=DOSE_UG_PER_DAY, initial_amount_ug=0)
    pieces = path.push_over(1_500, 1_000, 600)
    patient.feed(pieces)
    assert patient.t_s == 600
    # Very short relative to the half-life: almost all of it is still there.
    delivered = float(path.delivered_to_patient_ug)
    assert delivered == 1.0
    assert delivered * math.exp(-_k(DEFAULT_HALF_LIFE_S) * 600) < patient.amount_ug < delivered


@pytest.mark.parametrize(
    "kwargs",
    [
        {"half_life_s": 3_599},
        {"half_life_s": 18_001},
        {"half_life_s": 4.0 * HOUR_S},
        {"csf_volume_ml": 0},
        {"withdrawal_threshold_permille": 1_000},
        {"overdose_threshold_permille": 1_000},
        {"withdrawal_delay_s": -1},
    ],
)
def test_bad_params_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(FluidPathValueError):
        PatientParams(**kwargs)  # type: ignore[arg-type]


def test_bad_inputs_are_refused_and_change_nothing() -> None:
    with pytest.raises(FluidPathValueError):
        PatientModel(reference_dose_ug_per_day=0)
    with pytest.raises(FluidPathValueError):
        PatientModel(reference_dose_ug_per_day=True)
    with pytest.raises(FluidPathValueError):
        PatientModel(reference_dose_ug_per_day=400, initial_amount_ug=-1)
    with pytest.raises(FluidPathValueError):
        PatientModel(reference_dose_ug_per_day=400, params="fast")  # type: ignore[arg-type]
    patient = PatientModel(reference_dose_ug_per_day=400)
    before = patient.amount_ug
    for duration, drug in [(-1, 0), (1.5, 0), (10, -1), (10, math.nan), (10, math.inf)]:
        with pytest.raises(FluidPathValueError):
            patient.infuse(duration, drug)  # type: ignore[arg-type]
    with pytest.raises(FluidPathValueError):
        patient.set_reference_dose(-5)
    with pytest.raises(FluidPathValueError):
        patient.feed([(10, 5)])  # type: ignore[list-item]
    assert patient.amount_ug == before
    assert patient.t_s == 0
    assert patient.reference_dose_ug_per_day == 400
